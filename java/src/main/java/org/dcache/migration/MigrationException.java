package org.dcache.migration;

/**
 * An error of the migration module, carrying the module's stable error code (the native
 * {@code ErrorKind} number). The message is dCache's text (e.g. {@code Job not found}).
 */
public class MigrationException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    /** A malformed command or invalid option value; nothing changed. */
    public static final int SYNTAX = 1;
    /** An unknown job id ({@code Job not found}). */
    public static final int NOT_FOUND = 2;
    /** The job is not in a state that allows the command. */
    public static final int STATE = 3;
    /** A bug or an unexpected failure inside the module. */
    public static final int INTERNAL = 4;
    /** An invalid argument (null, malformed value). */
    public static final int INVALID_ARGUMENT = 5;
    /** The module was closed. */
    public static final int CLOSED = 6;
    /** A host callback failed. */
    public static final int HOST = 7;
    /** A call from inside one of the module's callbacks that cannot be served there. */
    public static final int REENTRANT = 8;
    /** A dCache feature the module does not implement yet. */
    public static final int UNSUPPORTED = 9;

    private final int code;

    /** Called by the native library, which passes its own error codes. */
    public MigrationException(int code, String message)
    {
        super(message);
        this.code = code;
    }

    /** The module's error code (one of the constants of this class). */
    public int code()
    {
        return code;
    }
}
