package org.dcache.migration;

/**
 * Carries the module's messages to the migration module of another pool (in dCache: a cell
 * message to the pool). The bytes are opaque; on the other pool they go to
 * {@link MigrationModule#deliver}, whose reply comes back through {@code reply}.
 */
public interface CellTransport
{
    /**
     * Sends {@code message} to pool {@code pool}. With a {@code reply} (null for one-way
     * messages) the peer's answer or a failure ({@link Completion#noRoute} when the pool cannot
     * be reached, …) must be reported.
     */
    void send(String pool, byte[] message, Completion<byte[]> reply);
}
