package org.dcache.migration;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.dcache.migration.internal.Codec;
import org.dcache.migration.internal.HostBridge;
import org.dcache.migration.internal.NativeLibrary;
import org.dcache.migration.internal.Natives;
import org.dcache.migration.messages.MessageReply;
import org.dcache.migration.messages.MigrationMessage;
import org.dcache.migration.messages.MigrationMessages;

/**
 * The migration module of one pool: the {@code migration …} admin commands, the jobs they
 * create, and the migration server that answers other pools. Build it with
 * {@link #builder(String)}, giving it the pool's services; tell it when the pool has started
 * ({@link #poolStarted()}); feed it repository events and messages from other pools; close it
 * when the pool stops.
 *
 * <p>All methods are thread-safe and may be called from inside the module's own callbacks.
 * {@link #close()} is idempotent; any other method of a closed module throws
 * {@link MigrationException} with code {@link MigrationException#CLOSED}.
 */
public final class MigrationModule implements AutoCloseable
{
    private final String pool;
    private final AtomicLong handle;

    private MigrationModule(String pool, long handle)
    {
        this.pool = pool;
        this.handle = new AtomicLong(handle);
    }

    /** A builder for the module of pool {@code pool}. */
    public static Builder builder(String pool)
    {
        return new Builder(pool);
    }

    /** The pool's name. */
    public String pool()
    {
        return pool;
    }

    private long handle()
    {
        long h = handle.get();
        if (h == 0) {
            throw new MigrationException(MigrationException.CLOSED, "the migration module is closed");
        }
        return h;
    }

    /**
     * Executes one admin command line ({@code migration copy -smode=delete pool2}, …) and
     * returns its output.
     *
     * @throws MigrationException with the error's code and dCache's message
     */
    public String execute(String line)
    {
        return Natives.execute(handle(), Objects.requireNonNull(line, "line"));
    }

    /** The adapter a cell uses to register the module's commands. */
    public MigrationCommands commands()
    {
        return new MigrationCommands(this);
    }

    /** The pool finished starting: jobs created so far (e.g. from the setup file) start. */
    public void poolStarted()
    {
        Natives.poolStarted(handle());
    }

    /** A change in the pool's repository. */
    public void repositoryEvent(RepositoryEvent event)
    {
        Natives.repositoryEvent(handle(), Codec.encodeEvent(event));
    }

    /**
     * A message from the migration module of pool {@code from}, as its {@link CellTransport}
     * sent it. {@code reply} receives the answer (or a failure) when the sender expects one;
     * null for one-way messages.
     */
    public void deliver(String from, byte[] message, Completion<byte[]> reply)
    {
        try {
            Natives.deliver(handle(), from, message, reply);
        } catch (RuntimeException e) {
            throw refused(reply, e);
        }
    }

    /**
     * A message refused before the module took it (a closed module, a null or invalid argument)
     * still answers its sender, with the refusal: the sender would otherwise wait out its own
     * timeout, where a module that is closing answers at once. Returns {@code e} to throw.
     */
    private static RuntimeException refused(Completion<?> reply, RuntimeException e)
    {
        if (reply != null) {
            try {
                reply.fail(ServiceException.UNEXPECTED_SYSTEM_EXCEPTION, "message refused: " + e.getMessage());
            } catch (RuntimeException failed) {
                e.addSuppressed(failed);
            }
        }
        return e;
    }

    /**
     * A typed message from {@code from}: another pool's module, or a service such as QoS or
     * the Rebalancer ({@code Rebalancer@dCacheDomain}). {@code from} is also where the module
     * sends what follows from the message: the {@link
     * org.dcache.migration.messages.CopyFinishedMessage} of a copy request goes to {@code from},
     * not to the source pool the request names. {@code reply} receives the answer (null for
     * one-way messages); a {@link org.dcache.migration.messages.JobCancelMessage} is answered
     * once the job has ended.
     */
    public void deliver(String from, MigrationMessage message, Completion<MessageReply> reply)
    {
        try {
            long h = handle();
            byte[] bytes = MigrationMessages.encode(message);
            Natives.deliver(h, from, bytes, reply == null ? null : new TypedReply(reply));
        } catch (RuntimeException e) {
            throw refused(reply, e);
        }
    }

    /** Hands the module's reply bytes to a typed completion. */
    private static final class TypedReply implements Completion<byte[]>
    {
        private final Completion<MessageReply> reply;

        TypedReply(Completion<MessageReply> reply)
        {
            this.reply = reply;
        }

        @Override
        public void complete(byte[] value)
        {
            MessageReply decoded;
            try {
                decoded = MigrationMessages.decodeReply(value);
            } catch (MigrationException e) {
                reply.fail(ServiceException.UNEXPECTED_SYSTEM_EXCEPTION, e.getMessage());
                return;
            }
            reply.complete(decoded);
        }

        @Override
        public void fail(int returnCode, String message)
        {
            reply.fail(returnCode, message);
        }

        @Override
        public void timeout()
        {
            reply.timeout();
        }

        @Override
        public void noRoute()
        {
            reply.noRoute();
        }
    }

    /**
     * The pool finished loading its repository. Call it once loading is done when
     * {@link Repository#entries()} threw {@link RepositoryNotLoadedException} meanwhile: jobs
     * that found the repository loading (state {@code INITIALIZING}, note
     * {@code Repository is still loading; waiting for it}) scan it now. Without the call they
     * retry every 10 s. Harmless when nothing waits.
     */
    public void repositoryLoaded()
    {
        Natives.repositoryLoaded(handle());
    }

    /**
     * Whether this pool accepts replicas from other pools. A pool disabled with
     * {@code pool disable -rdonly} refuses them ({@code Pool is disabled}). An optimisation
     * over {@link Repository#acceptsCopies()}, which is asked on every copy request anyway:
     * after {@code false} here, requests are refused without asking it.
     */
    public void setAcceptsCopies(boolean accepts)
    {
        Natives.setAcceptsCopies(handle(), accepts);
    }

    /**
     * A read of {@code id} with {@code readers} concurrent readers (hot-file replication).
     * {@code protocol} may be null; {@code client} is the client's address or null.
     */
    public void reportReaders(PnfsId id, long readers, String protocol, int major, int minor, String client)
    {
        Natives.reportReaders(handle(), id.toString(), readers, protocol, major, minor, client);
    }

    /** What the pool's {@code save} writes for the module: changed defaults and permanent jobs. */
    public List<String> setupLines()
    {
        String lines = Natives.setupLines(handle());
        return lines.isEmpty() ? List.of() : Arrays.asList(lines.split("\n"));
    }

    /**
     * Re-executes setup lines (the pool's {@code reload}): running permanent jobs are cancelled
     * first, then every line is tried. Returns the failed lines as {@code <line>: <message>}.
     */
    public List<String> reload(List<String> lines)
    {
        return Codec.decodeReloadErrors(Natives.reload(handle(), joinLines(lines)));
    }

    /**
     * Checks setup lines without executing them, as dCache checks a setup before a
     * {@code reload}: the lines run in order on a scratch module with this pool's configuration,
     * which is then thrown away. This module does not change (no job is created, no default
     * set). Returns the failed lines as {@code <line>: <message>}, empty when all are valid.
     */
    public List<String> validate(List<String> lines)
    {
        return Codec.decodeReloadErrors(Natives.validate(handle(), joinLines(lines)));
    }

    private static String joinLines(List<String> lines)
    {
        Objects.requireNonNull(lines, "lines");
        for (String line : lines) {
            Objects.requireNonNull(line, "a setup line is null");
            if (line.indexOf('\n') >= 0 || line.indexOf('\r') >= 0) {
                throw new MigrationException(MigrationException.INVALID_ARGUMENT, "a setup line contains a line break");
            }
        }
        return String.join("\n", lines);
    }

    /** The module's state as JSON (every job with its counters, tasks and notes). */
    public String status()
    {
        return Natives.status(handle());
    }

    /**
     * The module's counters and gauges in Prometheus' text exposition format, as
     * {@code migration metrics} prints them: per job (labels {@code pool} and {@code job}) files
     * and bytes completed, attempts, failures, running tasks, queued and quarantined files, and
     * its state; per pool the jobs by state, the copy requests it serves and its locked files.
     * For example {@code dcache_migration_job_files_completed_total{pool="pool1",job="1"} 5}.
     * Serve it from the pool's metrics endpoint as it is.
     */
    public String metrics()
    {
        return Natives.metrics(handle());
    }

    /**
     * Every job's status, in the order of {@code migration ls}: the numbers {@code migration
     * info} prints, with the targets as a list of pool names.
     */
    public List<JobStatus> jobs()
    {
        return Codec.decodeJobs(Natives.jobs(handle()));
    }

    /**
     * One job's status.
     *
     * @throws MigrationException with {@link MigrationException#NOT_FOUND} ({@code Job not
     *         found}) for an unknown id
     */
    public JobStatus job(String id)
    {
        return Codec.decodeJob(Natives.job(handle(), Objects.requireNonNull(id, "id")));
    }

    /** Host requests (p2p, messages, pool lists, …) the module is still waiting for. */
    public int pendingRequests()
    {
        return Natives.pendingRequests(handle());
    }

    public boolean isClosed()
    {
        return handle.get() == 0;
    }

    /**
     * Cancels every job ({@code pool shutdown}), stops the module's threads and detaches them
     * from the JVM. Idempotent and thread-safe, also from inside a callback (of this module or
     * another): the cancel messages go out through the callbacks before it returns. On one of
     * the module's own threads it does not wait for them to stop; on any other thread it waits
     * up to 10 s, also when another thread's {@code close()} is under way.
     */
    @Override
    public void close()
    {
        long h = handle.getAndSet(0);
        if (h != 0) {
            try {
                Natives.close(h);
            } finally {
                closed.countDown();
            }
        } else if (!isModuleThread(Thread.currentThread().getName(), pool)) {
            // Another thread's close is under way: returning now would let the caller tear down
            // what the module's threads still call (a pool's repository, its endpoint). A
            // thread of the module itself must not wait: the close waits for it.
            try {
                closed.await(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Whether a thread of this name is one of pool {@code pool}'s module threads, named {@code
     * migration-<pool>-<n>} by the library. A prefix alone would also take the threads of a pool
     * whose name extends this one's ({@code migration-p-1-ssd-2} for pool {@code p-1}), whose
     * {@code close()} would then not wait.
     */
    static boolean isModuleThread(String threadName, String pool)
    {
        String prefix = "migration-" + pool + "-";
        String number = threadName.startsWith(prefix) ? threadName.substring(prefix.length()) : "";
        return !number.isEmpty() && number.chars().allMatch(c -> c >= '0' && c <= '9');
    }

    /** Counted down once the close that took the handle has returned. */
    private final CountDownLatch closed = new CountDownLatch(1);

    /** Longer than the library's own wait for the module's threads (10 s). */
    private static final long CLOSE_WAIT_SECONDS = 15;

    @Override
    public String toString()
    {
        return "MigrationModule[" + pool + (isClosed() ? ", closed]" : "]");
    }

    /** Builds a {@link MigrationModule}. Every service is required. */
    public static final class Builder
    {
        private final String pool;
        private Repository repository;
        private PoolManager poolManager;
        private PnfsManager pnfsManager;
        private CellTransport transport;
        private P2pClient p2p;
        private PinManager pinManager;
        private Duration poolTimeout = Duration.ofSeconds(60);
        private Duration pnfsManagerTimeout = Duration.ofSeconds(300);
        private Duration poolManagerTimeout = Duration.ofSeconds(120);
        private Duration pinManagerTimeout = Duration.ofSeconds(120);
        private String pinManagerName = "PinManager";
        private int concurrency = 1;
        private long refreshSeconds = 300;
        private int hotfileReplicas = 1;
        private long hotfileThreshold = 50;
        private int workerThreads = 2;
        private Long seed;

        private Builder(String pool)
        {
            this.pool = Objects.requireNonNull(pool, "pool");
        }

        public Builder repository(Repository repository)
        {
            this.repository = repository;
            return this;
        }

        public Builder poolManager(PoolManager poolManager)
        {
            this.poolManager = poolManager;
            return this;
        }

        public Builder pnfsManager(PnfsManager pnfsManager)
        {
            this.pnfsManager = pnfsManager;
            return this;
        }

        public Builder transport(CellTransport transport)
        {
            this.transport = transport;
            return this;
        }

        public Builder p2pClient(P2pClient p2p)
        {
            this.p2p = p2p;
            return this;
        }

        public Builder pinManager(PinManager pinManager)
        {
            this.pinManager = pinManager;
            return this;
        }

        /** {@code pool.service.pool.timeout}: requests to other pools (default 60 s). */
        public Builder poolTimeout(Duration timeout)
        {
            this.poolTimeout = java.util.Objects.requireNonNull(timeout, "poolTimeout");
            return this;
        }

        /** {@code pool.service.pnfsmanager.timeout} (default 300 s). */
        public Builder pnfsManagerTimeout(Duration timeout)
        {
            this.pnfsManagerTimeout = java.util.Objects.requireNonNull(timeout, "pnfsManagerTimeout");
            return this;
        }

        /** {@code pool.service.poolmanager.timeout} (default 120 s). */
        public Builder poolManagerTimeout(Duration timeout)
        {
            this.poolManagerTimeout = java.util.Objects.requireNonNull(timeout, "poolManagerTimeout");
            return this;
        }

        /** {@code pool.service.pinmanager.timeout} (default 120 s). */
        public Builder pinManagerTimeout(Duration timeout)
        {
            this.pinManagerTimeout = java.util.Objects.requireNonNull(timeout, "pinManagerTimeout");
            return this;
        }

        /** {@code pool.service.pinmanager}: sticky records whose owner starts with it are pins. */
        public Builder pinManagerName(String name)
        {
            this.pinManagerName = java.util.Objects.requireNonNull(name, "pinManagerName");
            return this;
        }

        /** {@code pool.migration.concurrency.default} (default 1). */
        public Builder concurrencyDefault(int concurrency)
        {
            this.concurrency = concurrency;
            return this;
        }

        /** {@code pool.migration.refresh.default} in seconds (default 300). */
        public Builder refreshDefault(long seconds)
        {
            this.refreshSeconds = seconds;
            return this;
        }

        /** {@code pool.migration.hotfile.replicas} and {@code pool.migration.hotfile.threshold}. */
        public Builder hotfile(int replicas, long threshold)
        {
            this.hotfileReplicas = replicas;
            this.hotfileThreshold = threshold;
            return this;
        }

        /**
         * Threads of the module's runtime, 1 to 256 (default 2); {@link #start()} refuses
         * others with {@link MigrationException#INVALID_ARGUMENT}.
         */
        public Builder workerThreads(int threads)
        {
            this.workerThreads = threads;
            return this;
        }

        /** Seeds the module's randomness (target selection) for reproducible tests. */
        public Builder seed(long seed)
        {
            this.seed = seed;
            return this;
        }

        /**
         * Loads the native library if needed and starts the module.
         *
         * @throws MigrationException with {@link MigrationException#INVALID_ARGUMENT} for an
         *         invalid configuration
         * @throws UnsatisfiedLinkError if the native library cannot be loaded
         */
        public MigrationModule start()
        {
            NativeLibrary.load();
            HostBridge bridge = new HostBridge(require(repository, "repository"), require(poolManager, "poolManager"),
                                               require(pnfsManager, "pnfsManager"), require(transport, "transport"),
                                               require(p2p, "p2pClient"), require(pinManager, "pinManager"));
            byte[] config = Codec.encodeConfig(poolTimeout.toMillis(), pnfsManagerTimeout.toMillis(),
                                                poolManagerTimeout.toMillis(), pinManagerTimeout.toMillis(),
                                                pinManagerName, concurrency, refreshSeconds, hotfileReplicas,
                                                hotfileThreshold);
            long h = Natives.create(pool, bridge, config, workerThreads, seed == null ? 0 : seed, seed != null);
            return new MigrationModule(pool, h);
        }

        private static <T> T require(T service, String name)
        {
            if (service == null) {
                throw new IllegalStateException("MigrationModule.Builder: " + name + " is not set");
            }
            return service;
        }
    }
}
