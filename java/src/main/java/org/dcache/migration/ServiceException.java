package org.dcache.migration;

/**
 * A failure of one of the pool's services with a dCache return code (as dCache's
 * {@code CacheException}). Thrown by a callback, the module sees the code and the message;
 * any other exception becomes {@link #UNEXPECTED_SYSTEM_EXCEPTION} with its class and message.
 */
public class ServiceException extends Exception
{
    private static final long serialVersionUID = 1L;

    public static final int POOL_DISABLED = 104;
    public static final int ERROR_IO_DISK = 204;
    public static final int FILE_IN_CACHE = 210;
    public static final int DEFAULT_ERROR_CODE = 666;
    public static final int FILE_NOT_FOUND = 10001;
    public static final int FILE_CORRUPTED = 10004;
    public static final int TIMEOUT = 10006;
    public static final int FILE_NOT_IN_REPOSITORY = 10007;
    public static final int UNEXPECTED_SYSTEM_EXCEPTION = 10011;
    public static final int INVALID_ARGS = 10015;
    public static final int LOCKED = 10020;
    public static final int SERVICE_UNAVAILABLE = 10023;
    public static final int NO_POOL_ONLINE = 10025;

    private final int rc;

    public ServiceException(int rc, String message)
    {
        super(message);
        this.rc = rc;
    }

    /** The dCache return code. */
    public int getRc()
    {
        return rc;
    }
}
