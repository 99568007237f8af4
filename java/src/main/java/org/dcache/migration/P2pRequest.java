package org.dcache.migration;

import java.util.List;
import java.util.OptionalLong;
import java.util.UUID;

/**
 * A pool-to-pool transfer the target pool's p2p client performs: pull the file from the source
 * pool and create the replica with the given final state and sticky records (and access time,
 * if given). If a replica of the file appears meanwhile the transfer fails with
 * {@link ServiceException#FILE_IN_CACHE}.
 */
public final class P2pRequest
{
    private final UUID id;
    private final String sourcePool;
    private final FileAttributes file;
    private final ReplicaState targetState;
    private final List<StickyRecord> stickyRecords;
    private final OptionalLong accessTime;
    private final boolean forceSourceMode;

    public P2pRequest(UUID id, String sourcePool, FileAttributes file, ReplicaState targetState,
                      List<StickyRecord> stickyRecords, OptionalLong accessTime, boolean forceSourceMode)
    {
        this.id = id;
        this.sourcePool = sourcePool;
        this.file = file;
        this.targetState = targetState;
        this.stickyRecords = List.copyOf(stickyRecords);
        this.accessTime = accessTime;
        this.forceSourceMode = forceSourceMode;
    }

    /** Identifies the transfer; {@link P2pClient#cancel} names it. */
    public UUID id()
    {
        return id;
    }

    public String sourcePool()
    {
        return sourcePool;
    }

    public FileAttributes file()
    {
        return file;
    }

    public ReplicaState targetState()
    {
        return targetState;
    }

    public List<StickyRecord> stickyRecords()
    {
        return stickyRecords;
    }

    /** The access time to give the new replica (ms since the epoch), if any. */
    public OptionalLong accessTime()
    {
        return accessTime;
    }

    /** Let the source deliver even if it is disabled for p2p. */
    public boolean forceSourceMode()
    {
        return forceSourceMode;
    }

    @Override
    public String toString()
    {
        return "p2p " + id + " " + file.pnfsId() + " from " + sourcePool;
    }
}
