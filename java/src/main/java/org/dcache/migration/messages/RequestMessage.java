package org.dcache.migration.messages;

import java.util.Objects;
import java.util.UUID;

import org.dcache.migration.PnfsId;

/**
 * A message about one copy request (dCache's {@code PoolMigrationMessage}): the request's UUID,
 * the source pool and the file.
 */
public abstract class RequestMessage implements MigrationMessage
{
    private final UUID uuid;
    private final String pool;
    private final PnfsId pnfsId;

    RequestMessage(UUID uuid, String pool, PnfsId pnfsId)
    {
        this.uuid = Objects.requireNonNull(uuid, "uuid");
        this.pool = Objects.requireNonNull(pool, "pool");
        this.pnfsId = Objects.requireNonNull(pnfsId, "pnfsId");
    }

    /** Identifies the copy request on the target pool. */
    public UUID getUUID()
    {
        return uuid;
    }

    /** The source pool: the pool that holds the replica to copy. */
    public String getPool()
    {
        return pool;
    }

    /** The file. */
    public PnfsId getPnfsId()
    {
        return pnfsId;
    }

    /** Whether {@code o} is of the same class with the same request fields. */
    boolean sameRequest(Object o)
    {
        if (o == null || o.getClass() != getClass()) {
            return false;
        }
        RequestMessage m = (RequestMessage) o;
        return m.uuid.equals(uuid) && m.pool.equals(pool) && m.pnfsId.equals(pnfsId);
    }

    /** The request fields for {@code toString}. */
    String requestFields()
    {
        return "uuid=" + uuid + ", pool=" + pool + ", pnfsId=" + pnfsId;
    }
}
