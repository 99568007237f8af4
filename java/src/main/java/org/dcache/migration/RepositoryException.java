package org.dcache.migration;

/** The repository refused a change of a replica. */
public class RepositoryException extends Exception
{
    private static final long serialVersionUID = 1L;

    /** Why. The order is part of the native contract. */
    public enum Reason
    {
        /** The replica is not (or no longer) there; the module ignores the change. */
        NOT_FOUND,
        /** The change is not allowed from the replica's state; the module ignores it. */
        ILLEGAL_TRANSITION,
        /** Anything else (I/O error, …): a job applying its source mode fails. */
        OTHER
    }

    private final Reason reason;

    public RepositoryException(Reason reason, String message)
    {
        super(message);
        // Without a reason the module could not tell a vanished replica from a failure.
        this.reason = java.util.Objects.requireNonNull(reason, "reason");
    }

    public Reason reason()
    {
        return reason;
    }
}
