package org.dcache.migration;

import java.util.Iterator;

/**
 * The pool's repository as the module sees it. Calls are synchronous and local; the module
 * makes them from its own threads, never while holding a lock, so an implementation may call
 * back into the module. Changes must be reported with {@link MigrationModule#repositoryEvent}.
 *
 * <p>There are no defaults but {@link #replicaCount()}: each other method answers a question
 * whose wrong answer loses data (a move deletes its source on the strength of a verification
 * nobody did) or puts replicas on a pool that should not take them.
 */
public interface Repository
{
    /**
     * Every replica, in repository order (a scan; may be long).
     *
     * <p>While the pool is still loading its repository at start (dCache's repository throws
     * {@link IllegalStateException} then), throw {@link RepositoryNotLoadedException}, from
     * here or from the iterator: jobs wait (state {@code INITIALIZING}) instead of failing.
     * Report each replica loaded meanwhile with {@link MigrationModule#repositoryEvent} and
     * call {@link MigrationModule#repositoryLoaded()} when loading is done. Any other exception
     * fails the job's scan.
     */
    Iterator<ReplicaEntry> entries();

    /**
     * How many replicas the pool holds, or -1 when it cannot say without counting them (the
     * default). Asked at the start of each scan of a job with {@code -order=...} (once, unless
     * the repository was still loading and the scan is tried again): the scan then
     * makes its list of files at that size once instead of growing it. Each time a list grows
     * the native allocator copies it holding a lock that other native threads of the pool's
     * JVM may wait for, tens of milliseconds for the last copies of a million files. The figure
     * may be out of date by the time the scan runs: too small, the list grows; too large, the
     * memory is reserved and not used (a count too large to reserve is ignored). An exception
     * counts as -1. dCache's
     * {@code Repository} has no count of its own (its iterator walks a copy of the store's
     * index, whose size {@code pool info} prints), so an adapter answers only where it holds
     * such a collection; counting by iterating would cost as much as the scan.
     */
    default long replicaCount()
    {
        return -1;
    }

    /** The entry of a replica, or null if the pool has none. */
    ReplicaEntry getEntry(PnfsId id);

    /** Changes a replica's state (dCache's legal transitions; {@code REMOVED} deletes it). */
    void setState(PnfsId id, ReplicaState state, String reason) throws RepositoryException;

    /**
     * Sets a sticky record with dCache's semantics: with {@code overwrite} the record of that
     * owner is replaced, without it an existing record is only extended.
     */
    void setSticky(PnfsId id, String owner, long expire, boolean overwrite) throws RepositoryException;

    /**
     * Whether {@link #verifyChecksum} really verifies. Asked once, when the module starts. A
     * host that cannot verify returns false: the module then refuses jobs with {@code -verify}
     * ({@link MigrationException#UNSUPPORTED}; {@code migration move} verifies by default, so
     * it needs {@code -verify=false}), and as a target it fails updates that would verify,
     * instead of letting a move delete its source after a verification nobody did. An
     * exception counts as false.
     */
    boolean verifiesChecksums();

    /**
     * Verifies a replica's checksum without touching its access time (a target updating an
     * existing replica with {@code -verify}). Fails with {@link ServiceException#FILE_CORRUPTED}
     * on a mismatch. Only called when {@link #verifiesChecksums()} is true.
     */
    void verifyChecksum(PnfsId id) throws ServiceException;

    /**
     * Whether the pool accepts replicas from other pools right now: the pool's mode, in dCache
     * {@code !poolMode.isDisabled(PoolV2Mode.DISABLED_P2P_CLIENT)} (false after
     * {@code pool disable -rdonly} or {@code -strict}, or an automatic disable on an I/O
     * fault). Asked on every copy request the pool receives, because dCache's pool mode has no
     * listener; it should be cheap. False (or an exception) refuses the copy with
     * {@code Pool is disabled}. {@link MigrationModule#setAcceptsCopies} stays as an
     * optimisation: after {@code setAcceptsCopies(false)} requests are refused without asking.
     */
    boolean acceptsCopies();
}
