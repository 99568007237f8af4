package org.dcache.migration.messages;

import java.util.Objects;
import java.util.UUID;

import org.dcache.migration.PnfsId;

/** Asks the target pool to abort a copy request (dCache's {@code PoolMigrationCancelMessage}). */
public final class CancelMessage extends RequestMessage
{
    private final String reason;

    /** @param reason why, or null */
    public CancelMessage(UUID uuid, String pool, PnfsId pnfsId, String reason)
    {
        super(uuid, pool, pnfsId);
        this.reason = reason;
    }

    /** Why the request is cancelled, or null. */
    public String getReason()
    {
        return reason;
    }

    @Override
    public boolean equals(Object o)
    {
        return sameRequest(o) && Objects.equals(((CancelMessage) o).reason, reason);
    }

    @Override
    public int hashCode()
    {
        return Objects.hash(getUUID(), getPool(), getPnfsId(), reason);
    }

    @Override
    public String toString()
    {
        return "CancelMessage[" + requestFields() + ", reason=" + reason + "]";
    }
}
