package org.dcache.migration;

import java.util.Objects;

/**
 * A change in the pool's repository, pushed into the module with
 * {@link MigrationModule#repositoryEvent}: a state change (also reported for every replica
 * while the pool loads), a change of sticky records, or a change of the access time.
 */
public final class RepositoryEvent
{
    /** What changed. */
    public enum Kind
    {
        STATE, STICKY, ACCESS_TIME
    }

    private final Kind kind;
    private final ReplicaState oldState;
    private final ReplicaState newState;
    private final ReplicaEntry oldEntry;
    private final ReplicaEntry newEntry;

    private RepositoryEvent(Kind kind, ReplicaState oldState, ReplicaState newState, ReplicaEntry oldEntry,
                            ReplicaEntry newEntry)
    {
        this.kind = kind;
        this.oldState = oldState;
        this.newState = newState;
        this.oldEntry = oldEntry;
        this.newEntry = Objects.requireNonNull(newEntry, "entry");
    }

    /** The replica went from {@code from} to {@code to}; {@code entry} is the entry after it. */
    public static RepositoryEvent stateChanged(ReplicaState from, ReplicaState to, ReplicaEntry entry)
    {
        return new RepositoryEvent(Kind.STATE, Objects.requireNonNull(from), Objects.requireNonNull(to), null, entry);
    }

    public static RepositoryEvent stickyChanged(ReplicaEntry before, ReplicaEntry after)
    {
        return new RepositoryEvent(Kind.STICKY, null, null, Objects.requireNonNull(before), after);
    }

    public static RepositoryEvent accessTimeChanged(ReplicaEntry before, ReplicaEntry after)
    {
        return new RepositoryEvent(Kind.ACCESS_TIME, null, null, Objects.requireNonNull(before), after);
    }

    public Kind kind()
    {
        return kind;
    }

    /** For {@link Kind#STATE}. */
    public ReplicaState oldState()
    {
        return oldState;
    }

    /** For {@link Kind#STATE}. */
    public ReplicaState newState()
    {
        return newState;
    }

    /** For {@link Kind#STICKY} and {@link Kind#ACCESS_TIME}. */
    public ReplicaEntry oldEntry()
    {
        return oldEntry;
    }

    /** The entry after the change. */
    public ReplicaEntry newEntry()
    {
        return newEntry;
    }
}
