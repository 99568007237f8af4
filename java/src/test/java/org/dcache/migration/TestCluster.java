package org.dcache.migration;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import org.dcache.migration.messages.MessageReply;
import org.dcache.migration.messages.MigrationMessage;
import org.dcache.migration.messages.MigrationMessages;

/**
 * Several dCache pool cells in one JVM. Each cell implements the module's services in memory;
 * the cluster plays the cell network (messages hop through a thread pool), the pool manager,
 * the namespace and the pin manager.
 */
final class TestCluster implements AutoCloseable
{
    static final long CAPACITY = 1L << 30;
    static final String PIN = "PinManager-4711";

    final Map<String, Cell> cells = new ConcurrentHashMap<>();
    final Map<PnfsId, Set<String>> namespace = new ConcurrentHashMap<>();
    final Map<String, List<String>> groups = new ConcurrentHashMap<>();
    final List<PoolSelection> selections = new CopyOnWriteArrayList<>();
    final ExecutorService network = Executors.newFixedThreadPool(4, r -> {
        Thread t = new Thread(r, "cell-network");
        t.setDaemon(true);
        return t;
    });
    /** The namespace throws this many times before it answers (a misbehaving callback). */
    final AtomicInteger namespaceFailures = new AtomicInteger();
    /** Location answers whose list throws an {@link AssertionError} as it is read. */
    final AtomicInteger brokenLocationLists = new AtomicInteger();
    /**
     * The network carries typed messages, as a bridge to dCache's message classes would: each
     * message is decoded into its class and encoded again before delivery, and so is each reply.
     */
    volatile boolean typedMessages;
    /** With {@link #typedMessages}: every message carried, in order. */
    final List<MigrationMessage> carried = new CopyOnWriteArrayList<>();
    /**
     * Services that are not pools (QoS, the Rebalancer): messages sent to them are kept here,
     * decoded, and answered with success.
     */
    final Map<String, List<MigrationMessage>> services = new ConcurrentHashMap<>();

    static PnfsId id(int n)
    {
        return new PnfsId(String.format("0000%020X", n));
    }

    static ReplicaEntry replica(int n, ReplicaState state, StickyRecord... sticky)
    {
        FileAttributes file = new FileAttributes(id(n), 1000L + n).withStorageClass("atlas:default@osm")
                .withAccessLatency(AccessLatency.NEARLINE).withRetentionPolicy(RetentionPolicy.CUSTODIAL)
                .withChecksums(List.of(new Checksum("ADLER32", String.format("%08x", n))));
        return new ReplicaEntry(file, state, List.of(sticky), 1_600_000_000_000L + n);
    }

    Cell pool(String name)
    {
        return cells.computeIfAbsent(name, n -> new Cell(this, n));
    }

    /** Starts every cell's module and reports the pools started. */
    TestCluster start()
    {
        for (Cell cell : cells.values()) {
            cell.start();
        }
        return this;
    }

    void register(String pool, RepositoryEvent event)
    {
        ReplicaEntry e = event.newEntry();
        if (event.kind() != RepositoryEvent.Kind.STATE) {
            return;
        }
        if (event.newState() == ReplicaState.CACHED || event.newState() == ReplicaState.PRECIOUS) {
            namespace.computeIfAbsent(e.pnfsId(), k -> ConcurrentHashMap.newKeySet()).add(pool);
        } else if (event.newState() == ReplicaState.REMOVED) {
            namespace.getOrDefault(e.pnfsId(), Set.of()).remove(pool);
        }
    }

    static void await(String what, Duration timeout, BooleanSupplier condition)
    {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + what);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted");
            }
        }
    }

    /** Waits until the job is in {@code state}; returns its {@code migration info}. */
    static String awaitJob(Cell cell, String job, String state)
    {
        String[] info = new String[1];
        try {
            await("job " + job + " on " + cell.name + " to be " + state, Duration.ofSeconds(20), () -> {
                try {
                    info[0] = cell.module.execute("migration info " + job);
                } catch (MigrationException e) {
                    if (e.code() != MigrationException.NOT_FOUND) {
                        throw e;
                    }
                    return false; // created by work the module hands to its own threads
                }
                return info[0].contains("State      : " + state + "\n");
            });
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; last info:\n" + info[0], e);
        }
        return info[0];
    }

    @Override
    public void close()
    {
        for (Cell cell : cells.values()) {
            if (cell.module != null) {
                cell.module.close();
            }
        }
        network.shutdownNow();
    }

    /** One pool cell: a repository, the cell's view of the services, and the module. */
    static final class Cell
    {
        final TestCluster cluster;
        final String name;
        final MemoryRepository repository = new MemoryRepository();
        volatile MigrationModule module;
        volatile boolean online = true;
        /** Transfers wait in {@link #heldTransfers} until released or cancelled. */
        volatile boolean slowP2p;
        final Map<UUID, Runnable> heldTransfers = new ConcurrentHashMap<>();
        final Map<UUID, Completion<Void>> transferCompletions = new ConcurrentHashMap<>();
        final AtomicInteger p2pStarts = new AtomicInteger();
        /**
         * Transfers that fail with return code 0, dCache's success, without copying anything,
         * and a message cut in the middle of an emoji (half of a surrogate pair).
         */
        final AtomicInteger p2pFailuresWithCode0 = new AtomicInteger();
        /** The transport throws this many times before it sends (a misbehaving callback). */
        final AtomicInteger sendFailures = new AtomicInteger();
        /** Readers that make a file hot. */
        volatile long hotfileThreshold = 50;
        /** Runs inside the next send, on the calling thread (re-entrancy tests). */
        volatile Runnable onSend;

        Cell(TestCluster cluster, String name)
        {
            this.cluster = cluster;
            this.name = name;
        }

        void start()
        {
            open();
            module.poolStarted();
        }

        /** Starts the module without reporting the pool started (a pool reading its setup). */
        void open()
        {
            module = MigrationModule.builder(name)
                    .repository(repository)
                    .poolManager(new Pools())
                    .pnfsManager(new Namespace())
                    .transport(new Transport())
                    .p2pClient(new P2p())
                    .pinManager(new Pins())
                    .poolTimeout(Duration.ofSeconds(5))
                    .hotfile(1, hotfileThreshold)
                    .seed(42)
                    .start();
            repository.setListener(event -> {
                cluster.register(name, event);
                try {
                    module.repositoryEvent(event);
                } catch (MigrationException e) {
                    // the pool is shutting down
                }
            });
            for (ReplicaEntry e : repository.all()) {
                cluster.register(name, RepositoryEvent.stateChanged(ReplicaState.NEW, e.state(), e));
            }
        }

        /** Adds replicas before the module starts. */
        Cell with(ReplicaEntry... entries)
        {
            for (ReplicaEntry e : entries) {
                repository.load(e);
            }
            return this;
        }

        PoolInfo info()
        {
            if (!online) {
                return PoolInfo.offline(name);
            }
            long used = repository.all().stream().mapToLong(ReplicaEntry::size).sum();
            return PoolInfo.online(PoolCostInfo.simple(name, CAPACITY, CAPACITY - used, 0));
        }

        /** Lets every held transfer run. */
        void releaseTransfers()
        {
            for (UUID id : List.copyOf(heldTransfers.keySet())) {
                Runnable transfer = heldTransfers.remove(id);
                if (transfer != null) {
                    cluster.network.execute(transfer);
                }
            }
        }

        final class Pools implements PoolManager
        {
            @Override
            public void pools(PoolSelection selection, Completion<List<PoolInfo>> done)
            {
                cluster.selections.add(selection);
                cluster.network.execute(() -> {
                    List<String> names = new ArrayList<>();
                    switch (selection.kind()) {
                    case NAMES:
                        selection.names().stream().filter(cluster.cells::containsKey).forEach(names::add);
                        break;
                    case READERS:
                        cluster.cells.keySet().stream().filter(n -> !n.equals(name)).forEach(names::add);
                        break;
                    case GROUPS:
                        if (selection.names().stream().allMatch(cluster.groups::containsKey)) {
                            selection.names().forEach(g -> names.addAll(cluster.groups.get(g)));
                        }
                        break;
                    default:
                        break;
                    }
                    List<PoolInfo> pools = new ArrayList<>();
                    for (String n : names) {
                        pools.add(cluster.cells.get(n).info());
                    }
                    done.complete(pools);
                });
            }

            @Override
            public void groupsOf(String pool, Completion<List<String>> done)
            {
                List<String> result = new ArrayList<>();
                cluster.groups.forEach((group, members) -> {
                    if (members.contains(pool)) {
                        result.add(group);
                    }
                });
                done.complete(result);
            }
        }

        final class Namespace implements PnfsManager
        {
            @Override
            public void getCacheLocations(PnfsId id, Completion<List<String>> done)
            {
                if (cluster.namespaceFailures.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    throw new IllegalStateException("namespace exploded");
                }
                cluster.network.execute(() -> {
                    Set<String> locations = cluster.namespace.get(id);
                    if (locations == null) {
                        done.fail(ServiceException.FILE_NOT_FOUND, "No such file or directory " + id);
                    } else if (cluster.brokenLocationLists.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                        try {
                            done.complete(new ArrayList<String>(locations)
                            {
                                @Override
                                public java.util.Iterator<String> iterator()
                                {
                                    throw new AssertionError("a list that cannot be read");
                                }
                            });
                        } catch (AssertionError expected) {
                            // Thrown back to the caller once the request is failed.
                        }
                    } else {
                        done.complete(new ArrayList<>(locations));
                    }
                });
            }
        }

        final class Transport implements CellTransport
        {
            @Override
            public void send(String pool, byte[] message, Completion<byte[]> reply)
            {
                Runnable hook = onSend;
                if (hook != null) {
                    onSend = null;
                    hook.run();
                }
                if (sendFailures.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    throw new IllegalStateException("transport exploded");
                }
                Cell target = cluster.cells.get(pool);
                List<MigrationMessage> service = cluster.services.get(pool);
                if (target == null && service != null) {
                    service.add(MigrationMessages.decode(message));
                    if (reply != null) {
                        reply.complete(MigrationMessages.encodeReply(MessageReply.OK));
                    }
                    return;
                }
                cluster.network.execute(() -> {
                    if (target == null || !target.online || target.module == null) {
                        if (reply != null) {
                            reply.noRoute();
                        }
                        return;
                    }
                    try {
                        if (cluster.typedMessages) {
                            MigrationMessage typed = MigrationMessages.decode(message);
                            cluster.carried.add(typed);
                            target.module.deliver(name, typed, reply == null ? null : new TypedReply(reply));
                        } else {
                            target.module.deliver(name, message, reply);
                        }
                    } catch (MigrationException e) {
                        // The target pool is shutting down: deliver failed the reply itself.
                    }
                });
            }
        }

        /** A typed reply, encoded again for the sender's byte completion. */
        final class TypedReply implements Completion<MessageReply>
        {
            private final Completion<byte[]> reply;

            TypedReply(Completion<byte[]> reply)
            {
                this.reply = reply;
            }

            @Override
            public void complete(MessageReply value)
            {
                reply.complete(MigrationMessages.encodeReply(value));
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

        final class P2p implements P2pClient
        {
            @Override
            public void start(P2pRequest request, Completion<Void> done)
            {
                p2pStarts.incrementAndGet();
                transferCompletions.put(request.id(), done);
                Runnable transfer = () -> transfer(request, done);
                if (slowP2p) {
                    heldTransfers.put(request.id(), transfer);
                } else {
                    cluster.network.execute(transfer);
                }
            }

            private void transfer(P2pRequest request, Completion<Void> done)
            {
                Cell source = cluster.cells.get(request.sourcePool());
                PnfsId id = request.file().pnfsId();
                if (source == null || !source.online || source.repository.getEntry(id) == null) {
                    done.fail(ServiceException.FILE_NOT_IN_REPOSITORY, "Source replica not found");
                    return;
                }
                if (repository.getEntry(id) != null) {
                    done.fail(ServiceException.FILE_IN_CACHE, "Replica already exists");
                    return;
                }
                if (p2pFailuresWithCode0.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    done.fail(0, "disk full \uD83D");
                    return;
                }
                OptionalLong atime = request.accessTime();
                repository.insert(new ReplicaEntry(request.file(), request.targetState(), request.stickyRecords(),
                                                   atime.isPresent() ? atime.getAsLong() : System.currentTimeMillis()));
                done.complete(null);
            }

            @Override
            public void cancel(UUID id)
            {
                Runnable held = heldTransfers.remove(id);
                Completion<Void> done = transferCompletions.get(id);
                if (held != null && done != null) {
                    // A real p2p client aborts on its own thread and reports later.
                    cluster.network.execute(() -> done.fail(ServiceException.DEFAULT_ERROR_CODE, "Transfer was cancelled"));
                }
            }
        }

        final class Pins implements PinManager
        {
            @Override
            public void movePins(PinMove request, Completion<Void> done)
            {
                cluster.network.execute(() -> {
                    Cell target = cluster.cells.get(request.targetPool());
                    Cell source = cluster.cells.get(request.sourcePool());
                    try {
                        for (StickyRecord pin : request.pins()) {
                            target.repository.setSticky(request.pnfsId(), pin.owner(), pin.expire(), true);
                            source.repository.removeSticky(request.pnfsId(), pin.owner());
                        }
                        done.complete(null);
                    } catch (RepositoryException e) {
                        done.fail(ServiceException.DEFAULT_ERROR_CODE, e.getMessage());
                    }
                });
            }
        }
    }

    /**
     * A job's status without its rate and ETA, which depend on the moment of the snapshot: two
     * snapshots of an unchanged job are equal this way.
     */
    static JobStatus withoutPace(JobStatus j)
    {
        return new JobStatus(j.id(), j.state(), j.commandLine(), j.summary(), j.isPermanent(), j.concurrency(),
                             j.queued(), j.attempts(), j.failures(), j.completedFiles(), j.transferredBytes(),
                             j.totalBytes(), j.percent(), j.targets(), j.targetsDescription(), j.runningTasks(),
                             j.notes(), j.created(), j.started(), OptionalDouble.empty(), OptionalDouble.empty(),
                             OptionalLong.empty(), j.quarantined());
    }

    static List<JobStatus> withoutPace(List<JobStatus> jobs)
    {
        List<JobStatus> result = new ArrayList<>();
        jobs.forEach(j -> result.add(withoutPace(j)));
        return result;
    }

    static List<String> sorted(List<String> list)
    {
        List<String> copy = new ArrayList<>(list);
        Collections.sort(copy);
        return copy;
    }

    static void sleep(long millis)
    {
        try {
            TimeUnit.MILLISECONDS.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
