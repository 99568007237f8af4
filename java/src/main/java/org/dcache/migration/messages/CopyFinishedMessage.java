package org.dcache.migration.messages;

import java.util.Objects;
import java.util.UUID;

import org.dcache.migration.PnfsId;

/**
 * The target pool finished a copy request (dCache's {@code PoolMigrationCopyFinishedMessage},
 * whose outcome is the message's return code and error object). One-way: it expects no reply.
 * It goes to the sender of the {@link CopyReplicaMessage}.
 */
public final class CopyFinishedMessage extends RequestMessage
{
    private final int returnCode;
    private final String errorMessage;

    /**
     * @param pool the source pool, as named in the request
     * @param returnCode 0 on success, else dCache's return code
     * @param errorMessage the error text, or null on success
     */
    public CopyFinishedMessage(UUID uuid, String pool, PnfsId pnfsId, int returnCode, String errorMessage)
    {
        super(uuid, pool, pnfsId);
        this.returnCode = returnCode;
        this.errorMessage = errorMessage;
    }

    /** 0 on success, else dCache's return code. */
    public int getReturnCode()
    {
        return returnCode;
    }

    /** The error text, or null. */
    public String getErrorMessage()
    {
        return errorMessage;
    }

    @Override
    public boolean equals(Object o)
    {
        if (!sameRequest(o)) {
            return false;
        }
        CopyFinishedMessage m = (CopyFinishedMessage) o;
        return m.returnCode == returnCode && Objects.equals(m.errorMessage, errorMessage);
    }

    @Override
    public int hashCode()
    {
        return Objects.hash(getUUID(), getPool(), getPnfsId(), returnCode, errorMessage);
    }

    @Override
    public String toString()
    {
        return "CopyFinishedMessage[" + requestFields() + ", returnCode=" + returnCode + ", errorMessage="
               + errorMessage + "]";
    }
}
