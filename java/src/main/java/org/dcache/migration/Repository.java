package org.dcache.migration;

import java.util.Iterator;
import java.util.List;

/**
 * The pool's repository as the module sees it. Calls are synchronous and local; the module
 * makes them from its own threads, never while holding a lock, so an implementation may call
 * back into the module. Changes must be reported with {@link MigrationModule#repositoryEvent}.
 *
 * <p>There are no defaults: each method answers a question whose wrong answer loses data (a
 * move deletes its source on the strength of a verification nobody did) or puts replicas on a
 * pool that should not take them.
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
     *
     * <p>An iterator that holds a resource may implement {@link AutoCloseable}: the module
     * closes it once the scan is over, whether it reached the end, stopped early (the module
     * closing) or failed.
     */
    Iterator<ReplicaEntry> entries();

    /** The entry of a replica, or null if the pool has none. */
    ReplicaEntry getEntry(PnfsId id);

    /** Changes a replica's state (dCache's legal transitions; {@code REMOVED} deletes it). */
    void setState(PnfsId id, ReplicaState state, String reason) throws RepositoryException;

    /**
     * Deletes a replica only if it is still in {@code state} with exactly the sticky records
     * {@code sticky} (owners and expiries, in any order), and returns true; returns false, and
     * changes nothing, if it is not. The module read the replica so and decided on that to
     * delete it (a move deleting its source). The look and the removal must be one step, under
     * the lock that guards the replica's changes (in dCache, the replica's record update), so
     * that a pin, a state or a sticky record set since is never lost with the replica: on
     * false the module reads it again and decides anew. A replica that is gone throws
     * {@code NOT_FOUND}, as {@link #setState} does.
     */
    boolean removeIfUnchanged(PnfsId id, ReplicaState state, List<StickyRecord> sticky, String reason)
            throws RepositoryException;

    /**
     * Changes a replica's state to {@code state} only if it is still in state {@code seen},
     * and returns true; returns false, and changes nothing, if it is not. With
     * {@code state == seen} it changes nothing and only checks. A target updating a replica it
     * already holds makes its last change this way and confirms the copy only on true, so
     * that a replica marked {@code BROKEN} since the module read it is neither made precious
     * nor confirmed (a move would delete its source for it): on false the module reads it
     * again and decides anew. The look and the change must be one step, under the lock that
     * guards the replica's changes. A replica that is gone throws {@code NOT_FOUND}, as
     * {@link #setState} does.
     */
    boolean setStateIfUnchanged(PnfsId id, ReplicaState seen, ReplicaState state, String reason)
            throws RepositoryException;

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
