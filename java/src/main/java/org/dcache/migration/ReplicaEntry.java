package org.dcache.migration;

import java.util.List;
import java.util.Objects;

/**
 * A replica in a pool's repository (dCache's {@code CacheEntry}): the file's attributes, the
 * replica's state, its sticky records and its last access time. Immutable.
 */
public final class ReplicaEntry
{
    private final FileAttributes attributes;
    private final ReplicaState state;
    private final List<StickyRecord> stickyRecords;
    private final long lastAccessTime;

    public ReplicaEntry(FileAttributes attributes, ReplicaState state, List<StickyRecord> stickyRecords,
                        long lastAccessTime)
    {
        this.attributes = Objects.requireNonNull(attributes, "attributes");
        this.state = Objects.requireNonNull(state, "state");
        this.stickyRecords = List.copyOf(stickyRecords);
        this.lastAccessTime = lastAccessTime;
    }

    public FileAttributes attributes()
    {
        return attributes;
    }

    public PnfsId pnfsId()
    {
        return attributes.pnfsId();
    }

    public long size()
    {
        return attributes.size();
    }

    public ReplicaState state()
    {
        return state;
    }

    public List<StickyRecord> stickyRecords()
    {
        return stickyRecords;
    }

    /** Milliseconds since the epoch. */
    public long lastAccessTime()
    {
        return lastAccessTime;
    }

    /** Whether a record of an owner starting with {@code pinManager} is present. */
    public boolean isPinned(String pinManager)
    {
        return stickyRecords.stream().anyMatch(r -> r.owner().startsWith(pinManager));
    }

    public ReplicaEntry withState(ReplicaState state)
    {
        return new ReplicaEntry(attributes, state, stickyRecords, lastAccessTime);
    }

    public ReplicaEntry withStickyRecords(List<StickyRecord> records)
    {
        return new ReplicaEntry(attributes, state, records, lastAccessTime);
    }

    public ReplicaEntry withLastAccessTime(long time)
    {
        return new ReplicaEntry(attributes, state, stickyRecords, time);
    }

    @Override
    public boolean equals(Object o)
    {
        if (!(o instanceof ReplicaEntry)) {
            return false;
        }
        ReplicaEntry e = (ReplicaEntry) o;
        return e.attributes.equals(attributes) && e.state == state && e.stickyRecords.equals(stickyRecords)
               && e.lastAccessTime == lastAccessTime;
    }

    @Override
    public int hashCode()
    {
        return Objects.hash(attributes, state, stickyRecords, lastAccessTime);
    }

    @Override
    public String toString()
    {
        return pnfsId() + " " + state + " " + stickyRecords;
    }
}
