package org.dcache.migration;

/**
 * The state of a migration job, as {@code migration info} prints it. The order is part of the
 * native contract: do not reorder.
 */
public enum JobState
{
    /** Created; the pool has not finished starting. */
    NEW,
    /** Scanning the repository (or waiting for it to load). */
    INITIALIZING,
    /** Scheduling tasks. */
    RUNNING,
    /** No task could be started; looks again in 10 s. */
    SLEEPING,
    /** The pause expression is true. */
    PAUSED,
    /** Suspended by the operator. */
    SUSPENDED,
    /** The stop expression became true; waiting for running tasks. */
    STOPPING,
    /** Cancelled; waiting for running tasks. */
    CANCELLING,
    /** Ended: cancelled. */
    CANCELLED,
    /** Ended: done. */
    FINISHED,
    /** Ended: failed. */
    FAILED;

    /** {@code CANCELLED}, {@code FINISHED} or {@code FAILED}. */
    public boolean isTerminal()
    {
        return this == CANCELLED || this == FINISHED || this == FAILED;
    }
}
