package org.dcache.migration;

import java.util.Iterator;

/**
 * The pool's repository as the module sees it. Calls are synchronous and local; the module
 * makes them from its own threads, never while holding a lock, so an implementation may call
 * back into the module. Changes must be reported with {@link MigrationModule#repositoryEvent}.
 */
public interface Repository
{
    /** Every replica, in repository order (a scan; may be long). */
    Iterator<ReplicaEntry> entries();

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
     * Verifies a replica's checksum without touching its access time (a target updating an
     * existing replica with {@code -verify}). Fails with {@link ServiceException#FILE_CORRUPTED}
     * on a mismatch.
     */
    default void verifyChecksum(PnfsId id) throws ServiceException
    {
    }
}
