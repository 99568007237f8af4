package org.dcache.migration;

import java.util.List;

/**
 * Which pools a job asks the pool manager for: pools by name, the members of pool groups
 * ({@code -target=pgroup}), of the groups of a link ({@code -target=link}), the pools attached
 * to HSM instances ({@code -target=hsm}), or the pools that may serve reads of a file
 * (hot-file replication).
 */
public final class PoolSelection
{
    /** The kind of query. The order is part of the native contract. */
    public enum Kind
    {
        /** Pools by name; unknown names are left out. */
        NAMES,
        /** Members of the named pool groups, in order; empty if a group is unknown. */
        GROUPS,
        /** Members of the pool groups of one link; empty if the link is unknown. */
        LINK,
        /** Active pools with any of the named HSM instances attached. */
        HSM,
        /** The pools that may serve reads of {@link #file()}, with the best preference first. */
        READERS
    }

    private final Kind kind;
    private final List<String> names;
    private final FileAttributes file;
    private final String protocol;
    private final String net;

    public PoolSelection(Kind kind, List<String> names, FileAttributes file, String protocol, String net)
    {
        this.kind = kind;
        this.names = List.copyOf(names);
        this.file = file;
        this.protocol = protocol;
        this.net = net;
    }

    public Kind kind()
    {
        return kind;
    }

    /** Pool names, pool group names, the link name (one), or HSM instance names. */
    public List<String> names()
    {
        return names;
    }

    /** For {@link Kind#READERS}: the file. */
    public FileAttributes file()
    {
        return file;
    }

    /** For {@link Kind#READERS}: {@code <protocol>/<major>[.<minor>]}, or {@code *}{@code /*}. */
    public String protocol()
    {
        return protocol;
    }

    /** For {@link Kind#READERS}: the client's address, or empty. */
    public String net()
    {
        return net;
    }

    @Override
    public String toString()
    {
        return kind + " " + names;
    }
}
