package org.dcache.migration.internal;

/**
 * Every native method of the migration module, implemented in {@code rust/jni}
 * ({@code natives.rs}). Internal: use {@link org.dcache.migration.MigrationModule}. Errors are
 * thrown as {@link org.dcache.migration.MigrationException}; handles that were closed or never
 * existed throw, they do not crash. Call {@link NativeLibrary#load()} before any of these.
 */
public final class Natives
{
    private Natives()
    {
    }

    /** The library's contract version, compared with {@link NativeLibrary#ABI_VERSION}. */
    static native int abiVersion();

    /** Caches classes and method ids through this class's loader. */
    static native void init();

    /** Installs the tracing subscriber (once per process); false if another one was first. */
    static native boolean installLogging(int maxLevel);

    /** Forwards log records to {@link NativeLog} forever; runs on the log thread. */
    static native void pumpLogs();

    public static native long create(String pool, HostBridge bridge, byte[] config, int workers, long seed,
                                     boolean seeded);

    public static native void close(long handle);

    public static native String execute(long handle, String line);

    public static native void poolStarted(long handle);

    public static native void repositoryEvent(long handle, byte[] event);

    public static native void deliver(long handle, String from, byte[] message, Object reply);

    public static native void repositoryLoaded(long handle);

    public static native void setAcceptsCopies(long handle, boolean accepts);

    public static native void reportReaders(long handle, String pnfsid, long readers, String protocol, int major,
                                            int minor, String client);

    public static native String setupLines(long handle);

    public static native byte[] reload(long handle, String lines);

    public static native byte[] validate(long handle, String lines);

    public static native String status(long handle);

    /** Every job's status in the codec layout ({@link Codec#decodeJobs}). */
    public static native byte[] jobs(long handle);

    /** One job's status in the codec layout ({@link Codec#decodeJob}); NOT_FOUND if unknown. */
    public static native byte[] job(long handle, String id);

    /** A message's wire bytes in the codec layout ({@link Codec#decodeMessage}); INVALID_ARGUMENT if malformed. */
    public static native byte[] decodeMessage(byte[] wire);

    /** The wire bytes of a message in the codec layout ({@link Codec#encodeMessage}). */
    public static native byte[] encodeMessage(byte[] codec);

    /** A reply's wire bytes in the codec layout ({@link Codec#decodeReply}); INVALID_ARGUMENT if malformed. */
    public static native byte[] decodeReply(byte[] wire);

    /** The wire bytes of a reply in the codec layout ({@link Codec#encodeReply}). */
    public static native byte[] encodeReply(byte[] codec);

    public static native String commandNames();

    public static native String help(String command);

    /** A command's schema in the codec layout ({@link Codec#decodeCommandSpec}); NOT_FOUND if unknown. */
    public static native byte[] commandSpec(String command);

    /**
     * Calls from the native library into Java and native calls from Java so far, in this
     * process (this call is one of the latter): what the throughput bench divides by its files.
     */
    public static native long[] crossings();

    /** The module's metrics in Prometheus' text format. */
    public static native String metrics(long handle);

    static native boolean completeOk(long token, byte[] payload);

    static native boolean completeFailure(long token, int kind, int code, String message);

    static native void dropCompletion(long token);

    public static native int pendingRequests(long handle);
}
