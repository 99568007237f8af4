package org.dcache.migration;

import java.util.UUID;

/** The pool's p2p client: pulls replicas from other pools onto this pool. */
public interface P2pClient
{
    /** Starts a transfer; {@code done} reports its outcome (e.g. {@link ServiceException#FILE_IN_CACHE}). */
    void start(P2pRequest request, Completion<Void> done);

    /** Aborts a running transfer; its completion must then report a failure. */
    void cancel(UUID id);
}
