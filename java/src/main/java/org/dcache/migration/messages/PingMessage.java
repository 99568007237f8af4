package org.dcache.migration.messages;

import java.util.Objects;
import java.util.UUID;

import org.dcache.migration.PnfsId;

/**
 * Asks the target pool whether it still works on a copy request (dCache's
 * {@code PoolMigrationPingMessage}); an unknown request is answered with an error.
 */
public final class PingMessage extends RequestMessage
{
    public PingMessage(UUID uuid, String pool, PnfsId pnfsId)
    {
        super(uuid, pool, pnfsId);
    }

    @Override
    public boolean equals(Object o)
    {
        return sameRequest(o);
    }

    @Override
    public int hashCode()
    {
        return Objects.hash(getUUID(), getPool(), getPnfsId());
    }

    @Override
    public String toString()
    {
        return "PingMessage[" + requestFields() + "]";
    }
}
