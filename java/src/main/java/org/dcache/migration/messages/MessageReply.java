package org.dcache.migration.messages;

import java.util.Objects;

/**
 * The answer to a {@link MigrationMessage}: dCache's return code (0 for success) and error
 * text. In dCache the reply is the request message itself with its return code and error
 * object set; a bridge copies those two fields.
 */
public final class MessageReply
{
    /** Success. */
    public static final MessageReply OK = new MessageReply(0, null);

    private final int returnCode;
    private final String errorMessage;

    /**
     * @param returnCode 0 for success (the text is then dropped when the reply is encoded),
     *        else dCache's return code
     * @param errorMessage the error text, or null
     */
    public MessageReply(int returnCode, String errorMessage)
    {
        this.returnCode = returnCode;
        this.errorMessage = errorMessage;
    }

    /** 0 for success, else dCache's return code. */
    public int getReturnCode()
    {
        return returnCode;
    }

    /** The error text, or null. */
    public String getErrorMessage()
    {
        return errorMessage;
    }

    /** Whether the request succeeded (return code 0). */
    public boolean isSuccess()
    {
        return returnCode == 0;
    }

    @Override
    public boolean equals(Object o)
    {
        if (!(o instanceof MessageReply)) {
            return false;
        }
        MessageReply r = (MessageReply) o;
        return r.returnCode == returnCode && Objects.equals(r.errorMessage, errorMessage);
    }

    @Override
    public int hashCode()
    {
        return Objects.hash(returnCode, errorMessage);
    }

    @Override
    public String toString()
    {
        return isSuccess() && errorMessage == null ? "MessageReply[OK]"
                                                  : "MessageReply[" + returnCode + ", " + errorMessage + "]";
    }
}
