package org.dcache.migration.internal;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Java end of the module's logging: one daemon thread ({@code migration-log}) waits in
 * native code for the module's {@code tracing} events and logs each with the SLF4J logger
 * named after its target ({@code migration}, {@code migration::jni}, …). The events reach it
 * through a bounded channel; the native side never calls Java from inside the logger. The
 * most detailed level forwarded is the one enabled for the {@code migration} logger when the
 * library loads: a later change of levels, or a more detailed level for one of its children,
 * does not bring more events.
 */
final class NativeLog
{
    private static boolean started;

    private NativeLog()
    {
    }

    /** Installs the native subscriber and starts the log thread, once per JVM. */
    static synchronized void start()
    {
        if (started) {
            return;
        }
        started = true;
        Logger root = LoggerFactory.getLogger("migration");
        int level = root.isTraceEnabled() ? 4 : root.isDebugEnabled() ? 3 : root.isInfoEnabled() ? 2
                    : root.isWarnEnabled() ? 1 : root.isErrorEnabled() ? 0 : -1;
        if (!Natives.installLogging(level)) {
            root.warn("Another tracing subscriber is installed in this process: the migration module's log is not forwarded");
            return;
        }
        Thread pump = new Thread(Natives::pumpLogs, "migration-log");
        pump.setDaemon(true);
        pump.start();
    }

    /**
     * Called by the log thread: 0 error, 1 warn, 2 info, 3 debug, 4 trace. The logger is named
     * after the tracing target with {@code ::} written as {@code .}, so that
     * {@code migration::jni} configures as a child of {@code migration}.
     */
    static void log(String target, int level, String message)
    {
        Logger logger = LoggerFactory.getLogger(target.replace("::", "."));
        switch (level) {
        case 0:
            logger.error(message);
            break;
        case 1:
            logger.warn(message);
            break;
        case 2:
            logger.info(message);
            break;
        case 3:
            logger.debug(message);
            break;
        default:
            logger.trace(message);
            break;
        }
    }
}
