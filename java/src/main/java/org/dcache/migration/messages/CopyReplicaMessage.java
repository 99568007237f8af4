package org.dcache.migration.messages;

import java.util.List;
import java.util.Objects;
import java.util.UUID;

import org.dcache.migration.FileAttributes;
import org.dcache.migration.ReplicaState;
import org.dcache.migration.StickyRecord;

/**
 * Asks the target pool to create or update a replica (dCache's
 * {@code PoolMigrationCopyReplicaMessage}). The target pulls the file from {@link #getPool()}
 * and, when done, sends a {@link CopyFinishedMessage} to the sender of this message: the
 * source pool's module, or another service (QoS) that asked on its behalf.
 */
public final class CopyReplicaMessage extends RequestMessage
{
    private final FileAttributes fileAttributes;
    private final ReplicaState state;
    private final List<StickyRecord> stickyRecords;
    private final boolean computeChecksumOnUpdate;
    private final boolean forceSourceMode;
    private final Long atime;
    private final boolean metaOnly;

    /**
     * @param pool the source pool
     * @param state the target replica's state: {@code CACHED} or {@code PRECIOUS}
     * @param computeChecksumOnUpdate verify the checksum of an existing replica before updating it
     * @param forceSourceMode let the source deliver even if it is disabled for p2p
     * @param atime the access time for a new replica (ms since the epoch), or null
     * @param metaOnly only update an existing replica, never create one
     */
    public CopyReplicaMessage(UUID uuid, String pool, FileAttributes fileAttributes, ReplicaState state,
                              List<StickyRecord> stickyRecords, boolean computeChecksumOnUpdate,
                              boolean forceSourceMode, Long atime, boolean metaOnly)
    {
        super(uuid, pool, Objects.requireNonNull(fileAttributes, "fileAttributes").pnfsId());
        this.fileAttributes = fileAttributes;
        this.state = Objects.requireNonNull(state, "state");
        this.stickyRecords = List.copyOf(stickyRecords);
        this.computeChecksumOnUpdate = computeChecksumOnUpdate;
        this.forceSourceMode = forceSourceMode;
        this.atime = atime;
        this.metaOnly = metaOnly;
    }

    /** What the target needs to create the replica; its id is {@link #getPnfsId()}. */
    public FileAttributes getFileAttributes()
    {
        return fileAttributes;
    }

    /** The target replica's state. */
    public ReplicaState getState()
    {
        return state;
    }

    /** The target replica's sticky records. */
    public List<StickyRecord> getStickyRecords()
    {
        return stickyRecords;
    }

    /** Verify the checksum of an existing replica before updating it. */
    public boolean getComputeChecksumOnUpdate()
    {
        return computeChecksumOnUpdate;
    }

    /** Let the source deliver even if it is disabled for p2p. */
    public boolean isForceSourceMode()
    {
        return forceSourceMode;
    }

    /** The access time for a new replica (ms since the epoch), or null to let the target choose. */
    public Long getAtime()
    {
        return atime;
    }

    /** Only update an existing replica, never create one. */
    public boolean isMetaOnly()
    {
        return metaOnly;
    }

    @Override
    public boolean equals(Object o)
    {
        if (!sameRequest(o)) {
            return false;
        }
        CopyReplicaMessage m = (CopyReplicaMessage) o;
        return m.fileAttributes.equals(fileAttributes) && m.state == state && m.stickyRecords.equals(stickyRecords)
               && m.computeChecksumOnUpdate == computeChecksumOnUpdate && m.forceSourceMode == forceSourceMode
               && Objects.equals(m.atime, atime) && m.metaOnly == metaOnly;
    }

    @Override
    public int hashCode()
    {
        return Objects.hash(getUUID(), getPool(), fileAttributes, state, stickyRecords, computeChecksumOnUpdate,
                            forceSourceMode, atime, metaOnly);
    }

    @Override
    public String toString()
    {
        return "CopyReplicaMessage[" + requestFields() + ", state=" + state + ", stickyRecords=" + stickyRecords
               + ", computeChecksumOnUpdate=" + computeChecksumOnUpdate + ", forceSourceMode=" + forceSourceMode
               + ", atime=" + atime + ", metaOnly=" + metaOnly + "]";
    }
}
