package org.dcache.migration;

import static org.dcache.migration.TestCluster.PIN;
import static org.dcache.migration.TestCluster.await;
import static org.dcache.migration.TestCluster.awaitJob;
import static org.dcache.migration.TestCluster.id;
import static org.dcache.migration.TestCluster.replica;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.dcache.migration.TestCluster.Cell;
import org.dcache.migration.internal.Natives;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Pools in one JVM, each with the native module, moving replicas between each other. */
class MigrationModuleTest
{
    private static final StickyRecord FOO = new StickyRecord("foo", StickyRecord.NEVER_EXPIRES);
    private static final StickyRecord BAR = new StickyRecord("bar", 4_102_444_800_000L);
    private static final StickyRecord PINNED = new StickyRecord(PIN, StickyRecord.NEVER_EXPIRES);

    private TestCluster cluster;

    @BeforeEach
    void setUp()
    {
        cluster = new TestCluster();
    }

    @AfterEach
    void tearDown()
    {
        cluster.close();
    }

    private static Set<StickyRecord> sticky(ReplicaEntry e)
    {
        return new HashSet<>(e.stickyRecords());
    }

    private static List<String> threadsOf(String pool)
    {
        List<String> names = new ArrayList<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (MigrationModule.isModuleThread(t.getName(), pool)) {
                names.add(t.getName());
            }
        }
        return names;
    }

    @Test
    void vacatingAPoolMovesEveryReplicaWithStateAndStickyRecords()
    {
        List<ReplicaEntry> files = new ArrayList<>();
        for (int n = 1; n <= 20; n++) {
            ReplicaState state = n % 2 == 0 ? ReplicaState.CACHED : ReplicaState.PRECIOUS;
            files.add(n % 3 == 0 ? replica(n, state, FOO, BAR) : replica(n, state));
        }
        Cell pool1 = cluster.pool("pool1").with(files.toArray(new ReplicaEntry[0]));
        Cell pool2 = cluster.pool("pool2");
        cluster.start();

        pool1.module.setAcceptsCopies(false); // pool disable -rdonly: no new replicas on pool1
        String summary = pool1.module.commands().execute("migration move -concurrency=4 pool2");
        assertTrue(summary.startsWith("[1] "), summary);
        String info = awaitJob(pool1, "1", "FINISHED");

        assertTrue(info.contains("Completed  : 20 files"), info);
        assertEquals(0, pool1.repository.size(), "the source is empty");
        for (ReplicaEntry file : files) {
            ReplicaEntry copy = pool2.repository.getEntry(file.pnfsId());
            assertNotNull(copy, file.pnfsId().toString());
            assertEquals(file.attributes(), copy.attributes());
            assertEquals(file.state(), copy.state());
            assertEquals(sticky(file), sticky(copy));
            assertEquals(file.lastAccessTime(), copy.lastAccessTime(), "move copies the access time");
            assertEquals(Set.of("pool2"), cluster.namespace.get(file.pnfsId()));
        }

        // The disabled pool refuses copies in the other direction.
        pool2.module.execute("migration copy -pnfsid=" + id(1) + " pool1");
        await("a refused copy", Duration.ofSeconds(10),
              () -> pool2.module.execute("migration info 1").contains("Pool is disabled"));
        assertNull(pool1.repository.getEntry(id(1)));
    }

    @Test
    void cachingToAPoolGroupCopiesToItsMembersAsCachedReplicas()
    {
        cluster.groups.put("cache_pools", List.of("pool2", "pool3"));
        Cell pool1 = cluster.pool("pool1");
        for (int n = 1; n <= 10; n++) {
            pool1.with(replica(n, ReplicaState.PRECIOUS, FOO));
        }
        Cell pool2 = cluster.pool("pool2");
        Cell pool3 = cluster.pool("pool3");
        cluster.start();

        pool1.module.execute("migration cache -target=pgroup cache_pools");
        awaitJob(pool1, "1", "FINISHED");

        assertTrue(cluster.selections.stream().anyMatch(s -> s.kind() == PoolSelection.Kind.GROUPS
                                                             && s.names().equals(List.of("cache_pools"))));
        for (int n = 1; n <= 10; n++) {
            ReplicaEntry source = pool1.repository.getEntry(id(n));
            assertEquals(ReplicaState.PRECIOUS, source.state(), "cache leaves the source alone");
            ReplicaEntry on2 = pool2.repository.getEntry(id(n));
            ReplicaEntry on3 = pool3.repository.getEntry(id(n));
            assertTrue(on2 == null ^ on3 == null, "exactly one group member has file " + n);
            ReplicaEntry copy = on2 != null ? on2 : on3;
            assertEquals(ReplicaState.CACHED, copy.state());
            assertTrue(copy.stickyRecords().isEmpty(), "-tmode=cached lists no sticky records");
        }
    }

    /**
     * Strings cross the boundary on two paths: ASCII as it is, anything else converted to and
     * from the JVM's modified UTF-8 (a character outside the Basic Multilingual Plane is a
     * surrogate pair there). Pool names and a sticky owner of both kinds survive a move.
     */
    @Test
    void namesOutsideAsciiSurviveTheCrossingBothWays()
    {
        StickyRecord owner = new StickyRecord("b\u00fcro-\uD834\uDD1E", StickyRecord.NEVER_EXPIRES);
        Cell source = cluster.pool("quelle-\u00e9").with(replica(1, ReplicaState.PRECIOUS, owner));
        Cell target = cluster.pool("ziel-\uD834\uDD1E");
        cluster.start();

        source.module.execute("migration move " + target.name);
        awaitJob(source, "1", "FINISHED");

        ReplicaEntry copy = target.repository.getEntry(id(1));
        assertNotNull(copy, "the copy arrived on " + target.name);
        assertEquals(Set.of(owner), sticky(copy));
        assertEquals(Set.of(target.name), cluster.namespace.get(id(1)));
        assertNull(source.repository.getEntry(id(1)), "the source was removed after the copy");
    }

    /** Ids of 36 digits (Chimera's) cross the bridge as well as the 24-digit ones above. */
    @Test
    void aChimeraIdOfThirtySixDigitsIsMoved()
    {
        PnfsId chimera = new PnfsId("00001234567890ABCDEF1122334455667788");
        ReplicaEntry file = new ReplicaEntry(new FileAttributes(chimera, 4711).withStorageClass("atlas:raw@osm"),
                                             ReplicaState.PRECIOUS, List.of(FOO), 1_600_000_000_000L);
        Cell pool1 = cluster.pool("pool1").with(file);
        Cell pool2 = cluster.pool("pool2");
        cluster.start();

        pool1.module.execute("migration move pool2");
        awaitJob(pool1, "1", "FINISHED");

        ReplicaEntry copy = pool2.repository.getEntry(chimera);
        assertNotNull(copy, "the copy of " + chimera);
        assertEquals(file.attributes(), copy.attributes());
        assertEquals(Set.of(FOO), sticky(copy));
        assertNull(pool1.repository.getEntry(chimera), "the source was removed after the copy");
    }

    /**
     * A sorted job copies in the order asked, ascending or descending, where repository
     * order would copy in the order the replicas were added.
     */
    @Test
    void aSortedJobCopiesInTheOrderAsked()
    {
        Cell pool1 = cluster.pool("pool1");
        for (int n : new int[] {3, 1, 6, 2, 5, 4}) {
            pool1.with(replica(n, ReplicaState.PRECIOUS)); // sizes grow with n
        }
        Cell descending = cluster.pool("descending");
        Cell ascending = cluster.pool("ascending");
        cluster.start();

        pool1.module.execute("migration copy -order=-size -concurrency=1 descending");
        awaitJob(pool1, "1", "FINISHED");
        assertEquals(List.of(id(6), id(5), id(4), id(3), id(2), id(1)), ids(descending), "largest first");

        pool1.module.execute("migration copy -order=size -concurrency=1 ascending");
        awaitJob(pool1, "2", "FINISHED");
        assertEquals(List.of(id(1), id(2), id(3), id(4), id(5), id(6)), ids(ascending), "smallest first");
    }

    private static List<PnfsId> ids(Cell pool)
    {
        List<PnfsId> ids = new ArrayList<>();
        pool.repository.entries().forEachRemaining(e -> ids.add(e.pnfsId()));
        return ids;
    }

    @Test
    void moveWithPinsMoveMovesThePinAndDeletesTheSource()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.PRECIOUS, FOO, PINNED),
                                                 replica(2, ReplicaState.CACHED, PINNED));
        Cell pool2 = cluster.pool("pool2");
        cluster.start();

        pool1.module.execute("migration move -pins=move pool2");
        awaitJob(pool1, "1", "FINISHED");

        assertEquals(0, pool1.repository.size(), "unpinned sources are deleted");
        assertEquals(ReplicaState.PRECIOUS, pool2.repository.getEntry(id(1)).state());
        assertEquals(Set.of(FOO, PINNED), sticky(pool2.repository.getEntry(id(1))));
        assertEquals(Set.of(PINNED), sticky(pool2.repository.getEntry(id(2))));
    }

    @Test
    void moveWithPinsKeepLeavesThePinnedSourceRemovable()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.PRECIOUS, FOO, PINNED));
        Cell pool2 = cluster.pool("pool2");
        cluster.start();

        pool1.module.execute("migration move -pins=keep pool2");
        awaitJob(pool1, "1", "FINISHED");

        ReplicaEntry copy = pool2.repository.getEntry(id(1));
        assertEquals(ReplicaState.PRECIOUS, copy.state());
        assertEquals(Set.of(FOO), sticky(copy), "pins are never copied");
        ReplicaEntry source = pool1.repository.getEntry(id(1));
        assertNotNull(source, "a pinned source is never deleted");
        assertEquals(ReplicaState.CACHED, source.state());
        assertEquals(Set.of(PINNED, new StickyRecord("foo", 0)), sticky(source));
    }

    @Test
    void aPinSetBetweenTheLookAndTheRemovalKeepsTheSource()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED, FOO));
        Cell pool2 = cluster.pool("pool2");
        cluster.start();
        pool1.repository.beforeConditionalRemoval.set(() -> {
            try {
                pool1.repository.setSticky(id(1), PIN, StickyRecord.NEVER_EXPIRES, true);
            } catch (RepositoryException e) {
                throw new AssertionError(e);
            }
        });

        pool1.module.execute("migration move pool2");
        awaitJob(pool1, "1", "FINISHED");

        assertNull(pool1.repository.beforeConditionalRemoval.get(), "the pin came between look and removal");
        ReplicaEntry source = pool1.repository.getEntry(id(1));
        assertNotNull(source, "a source pinned after the module's look is not deleted");
        assertEquals(Set.of(PINNED, new StickyRecord("foo", 0)), sticky(source), "made removable, the pin kept");
        assertEquals(Set.of(FOO), sticky(pool2.repository.getEntry(id(1))));
    }

    @Test
    void anExistingCopyOnTheTargetIsUpgradedNotCopied()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.PRECIOUS, FOO));
        Cell pool2 = cluster.pool("pool2").with(replica(1, ReplicaState.CACHED));
        cluster.start();

        pool1.module.execute("migration copy pool2");
        awaitJob(pool1, "1", "FINISHED");

        ReplicaEntry target = pool2.repository.getEntry(id(1));
        assertEquals(ReplicaState.PRECIOUS, target.state());
        assertEquals(Set.of(FOO), sticky(target));
        assertEquals(0, pool2.p2pStarts.get(), "no data was transferred");
        assertEquals(ReplicaState.PRECIOUS, pool1.repository.getEntry(id(1)).state());
    }

    @Test
    void anOfflineHolderIsWaitedForUnlessEager()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED));
        Cell pool2 = cluster.pool("pool2");
        Cell pool3 = cluster.pool("pool3").with(replica(1, ReplicaState.CACHED));
        cluster.start();
        pool3.online = false; // the transport answers "no route", the pool manager lists it offline

        pool1.module.execute("migration copy pool2 pool3");
        await("a no-route note", Duration.ofSeconds(10), () -> pool1.module.execute("migration info 1")
                .contains("Remote pool failed (no route to cell)"));
        TestCluster.sleep(100);
        String info = pool1.module.execute("migration info 1");
        // Retried at once, or after 10 s once every queued file failed in a row.
        assertTrue(info.contains("State      : RUNNING") || info.contains("State      : SLEEPING"), info);
        assertNull(pool2.repository.getEntry(id(1)), "no new copy while a known copy is unreachable");
        pool1.module.execute("migration cancel -force 1");
        awaitJob(pool1, "1", "CANCELLED");

        pool1.module.execute("migration copy -eager pool2 pool3");
        awaitJob(pool1, "2", "FINISHED");
        assertEquals(ReplicaState.CACHED, pool2.repository.getEntry(id(1)).state());
        assertEquals(0, pool3.p2pStarts.get());
    }

    @Test
    void cancelForceAbortsRunningTransfers()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED), replica(2, ReplicaState.CACHED),
                                                 replica(3, ReplicaState.PRECIOUS));
        Cell pool2 = cluster.pool("pool2");
        pool2.slowP2p = true;
        cluster.start();

        pool1.module.execute("migration copy -concurrency=3 pool2");
        await("three transfers", Duration.ofSeconds(10), () -> pool2.heldTransfers.size() == 3);
        String summary = pool1.module.execute("migration cancel -force 1");
        assertTrue(summary.contains("CANCELLING"), summary);
        awaitJob(pool1, "1", "CANCELLED");

        assertEquals(0, pool2.repository.size(), "cancelled transfers left nothing behind");
        assertEquals(3, pool1.repository.size(), "the source is untouched");
        for (Completion<Void> done : pool2.transferCompletions.values()) {
            assertThrows(IllegalStateException.class, () -> done.complete(null), "a completion completes once");
        }
        await("no waiting requests", Duration.ofSeconds(10),
              () -> pool1.module.pendingRequests() == 0 && pool2.module.pendingRequests() == 0);
    }

    @Test
    void aThrowingCallbackIsNotedAndTheJobCarriesOn()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED), replica(2, ReplicaState.CACHED),
                                                 replica(3, ReplicaState.CACHED));
        Cell pool2 = cluster.pool("pool2");
        cluster.start();
        cluster.namespaceFailures.set(1);
        pool1.sendFailures.set(1);

        pool1.module.execute("migration copy pool2");
        String info = awaitJob(pool1, "1", "FINISHED");

        assertTrue(info.contains("PnfsManager failed (java.lang.IllegalStateException: namespace exploded)"), info);
        assertTrue(info.contains("failed (java.lang.IllegalStateException: transport exploded)"), info);
        assertEquals(3, pool2.repository.size());
        assertTrue(pool1.module.execute("migration ls").contains("[1] FINISHED"));
    }

    /**
     * A completion whose answer throws an {@link Error} while it is encoded (here an
     * AssertionError from the list's own iterator) still fails its request: it was claimed
     * before encoding, so neither the cleaner nor a second completion would have answered it,
     * and the request stayed pending until the module closed.
     */
    @Test
    void anAnswerThatThrowsAnErrorWhileEncodedFailsItsRequest()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED));
        Cell pool2 = cluster.pool("pool2");
        cluster.start();
        cluster.brokenLocationLists.set(1);

        pool1.module.execute("migration copy pool2");
        String info = awaitJob(pool1, "1", "FINISHED");

        assertTrue(info.contains("a list that cannot be read"), info);
        assertEquals(1, pool2.repository.size(), "copied on the second attempt");
        await("no waiting requests", Duration.ofSeconds(10), () -> pool1.module.pendingRequests() == 0);
    }

    /**
     * A p2p client that fails a transfer with return code 0 (dCache's success) has failed all
     * the same: the move keeps its source, and copies it on the next attempt. Reported to the
     * source as success, the copy would have been counted and the only replica deleted. Its
     * message, cut inside an emoji, is read lossily: refused, it would leave the transfer
     * unanswered for ever.
     */
    @Test
    void aTransferFailedWithReturnCode0DoesNotLetAMoveDeleteItsSource()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.PRECIOUS));
        Cell pool2 = cluster.pool("pool2");
        pool2.p2pFailuresWithCode0.set(1);
        cluster.start();

        pool1.module.execute("migration move pool2");
        String info = awaitJob(pool1, "1", "FINISHED");

        assertTrue(info.contains("disk full"), info);
        assertEquals(2, pool2.p2pStarts.get(), "the failed transfer was tried again");
        assertEquals(ReplicaState.PRECIOUS, pool2.repository.getEntry(id(1)).state());
        assertNull(pool1.repository.getEntry(id(1)), "moved once the copy was made");
    }

    @Test
    void aMalformedMessageIsAnsweredWithAnError()
    {
        cluster.pool("pool1");
        cluster.start();
        AtomicReference<String> answer = new AtomicReference<>();
        cluster.cells.get("pool1").module.deliver("pool9", new byte[] { 1, 2, 3 }, new Completion<byte[]>()
        {
            @Override
            public void complete(byte[] value)
            {
                answer.set("reply of " + value.length + " bytes");
            }

            @Override
            public void fail(int rc, String message)
            {
                answer.set("failed " + rc);
            }

            @Override
            public void timeout()
            {
                answer.set("timeout");
            }

            @Override
            public void noRoute()
            {
                answer.set("no route");
            }
        });
        await("an answer", Duration.ofSeconds(5), () -> answer.get() != null);
        assertTrue(answer.get().startsWith("reply of "), answer.get()); // an encoded error reply
    }

    /**
     * pool1's module with one replica, its runtime's threads attached, and one of them inside a
     * repository scan that takes {@code delayMillis} (a `migration copy pool2` just started).
     */
    private MigrationModule moduleInASlowScan(long delayMillis)
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED));
        cluster.pool("pool2");
        cluster.start();
        await("the runtime's threads to be attached under their names", Duration.ofSeconds(5),
              () -> !threadsOf("pool1").isEmpty());
        pool1.repository.scanDelay = delayMillis;
        pool1.module.execute("migration copy pool2");
        await("a scan", Duration.ofSeconds(5), () -> pool1.repository.scans.get() > 0);
        return pool1.module;
    }

    /**
     * A second close() while the first is still stopping the module waits for it: returning at
     * once, its caller would tear down what the module's threads still call (a pool's
     * repository in the middle of a scan, say).
     */
    @Test
    void aSecondCloseWaitsForTheFirstToFinish() throws Exception
    {
        MigrationModule module = moduleInASlowScan(2000);

        Thread first = new Thread(module::close, "first closer");
        first.start();
        await("the first close to take the module", Duration.ofSeconds(5), module::isClosed);
        module.close();

        assertTrue(threadsOf("pool1").isEmpty(), "the module's threads still ran: " + threadsOf("pool1"));
        first.join(20_000);
    }

    @Test
    void useAfterCloseThrowsAndCloseIsIdempotent() throws Exception
    {
        // One of the runtime's threads is busy in a slow callback while the module closes.
        MigrationModule module = moduleInASlowScan(300);

        ExecutorService closers = Executors.newFixedThreadPool(4);
        List<Future<?>> closes = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            closes.add(closers.submit(module::close));
        }
        for (Future<?> f : closes) {
            f.get(10, TimeUnit.SECONDS);
        }
        closers.shutdown();
        module.close();

        assertTrue(module.isClosed());
        assertTrue(threadsOf("pool1").isEmpty(), "close() detached the runtime's threads: " + threadsOf("pool1"));
        MigrationException e = assertThrows(MigrationException.class, () -> module.execute("migration ls"));
        assertEquals(MigrationException.CLOSED, e.code());
        assertEquals(MigrationException.CLOSED,
                     assertThrows(MigrationException.class, () -> module.deliver("pool2", new byte[0], null)).code());
        // A refused message with a reply still answers its sender.
        List<String> answers = new ArrayList<>();
        Completion<byte[]> reply = new Completion<byte[]>()
        {
            @Override public void complete(byte[] value) { answers.add("complete"); }
            @Override public void fail(int rc, String message) { answers.add(rc + " " + message); }
            @Override public void timeout() { answers.add("timeout"); }
            @Override public void noRoute() { answers.add("noRoute"); }
        };
        assertEquals(MigrationException.CLOSED,
                     assertThrows(MigrationException.class, () -> module.deliver("pool2", new byte[0], reply)).code());
        assertEquals(1, answers.size(), answers.toString());
        assertTrue(answers.get(0).startsWith(ServiceException.UNEXPECTED_SYSTEM_EXCEPTION + " message refused: "),
                   answers.toString());
        assertThrows(MigrationException.class, module::status);
        assertThrows(MigrationException.class, module::setupLines);
        assertThrows(MigrationException.class, module::poolStarted);
        // Handles that were closed or never existed throw instead of crashing.
        assertEquals(MigrationException.CLOSED,
                     assertThrows(MigrationException.class, () -> Natives.execute(987654321L, "migration ls")).code());
        assertThrows(MigrationException.class, () -> Natives.status(-1));
        assertEquals(MigrationException.INVALID_ARGUMENT,
                     assertThrows(MigrationException.class, () -> Natives.help(null)).code());
        // The other pool is unaffected.
        assertEquals("", cluster.cells.get("pool2").module.execute("migration ls"));
    }

    /** close() waits on any thread but the module's own, told apart by their exact names. */
    @Test
    void onlyThePoolsOwnRuntimeThreadsCountAsTheModules()
    {
        assertTrue(MigrationModule.isModuleThread("migration-p-1-2", "p-1"));
        assertTrue(MigrationModule.isModuleThread("migration-pool1-17", "pool1"));
        assertFalse(MigrationModule.isModuleThread("migration-p-1-ssd-2", "p-1"), "another pool's");
        assertFalse(MigrationModule.isModuleThread("migration-p-1-", "p-1"));
        assertFalse(MigrationModule.isModuleThread("migration-p-1-2x", "p-1"));
        assertFalse(MigrationModule.isModuleThread("main", "p-1"));
    }

    /**
     * A command holding half of a surrogate pair is refused, not made lossy: as U+FFFD, the
     * ids U+D800 and U+DBFF would be one job's. A whole pair goes through.
     */
    @Test
    void aCommandWithAnUnpairedSurrogateIsRefusedAndNothingIsCreated()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED));
        cluster.pool("pool2");
        cluster.start();

        MigrationException e = assertThrows(MigrationException.class,
                () -> pool1.module.execute("migration copy -id=\uD800 pool2"));
        assertEquals(MigrationException.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("unpaired surrogate"), e.getMessage());
        assertEquals("", pool1.module.execute("migration ls"));
        String created = pool1.module.execute("migration copy -id=\uD83D\uDE00 pool2");
        assertTrue(created.contains("\uD83D\uDE00"), created);
    }

    /**
     * A message whose sender holds half of a surrogate pair is refused, as a command's name
     * is: taken lossily, the senders U+D800 and U+DBFF would be one, and a copy's
     * copy-finished message goes to its sender.
     */
    @Test
    void aMessageFromASenderWithAnUnpairedSurrogateIsRefused()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED));
        cluster.start();

        MigrationException e = assertThrows(MigrationException.class,
                () -> pool1.module.deliver("pool\uD800", new byte[] { 1 }, null));
        assertEquals(MigrationException.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("from is not valid Unicode"), e.getMessage());
    }

    @Test
    void anEventAboutTwoFilesIsRefusedAsAnInvalidArgument()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED));
        cluster.start();

        MigrationException e = assertThrows(MigrationException.class, () -> pool1.module.repositoryEvent(
                RepositoryEvent.stickyChanged(replica(1, ReplicaState.CACHED), replica(2, ReplicaState.CACHED, FOO))));
        assertEquals(MigrationException.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("before is " + id(1) + " but after is " + id(2)), e.getMessage());
        assertThrows(MigrationException.class, () -> pool1.module.repositoryEvent(
                RepositoryEvent.accessTimeChanged(replica(2, ReplicaState.CACHED), replica(1, ReplicaState.CACHED))));
        // An event about one file still goes through.
        pool1.module.repositoryEvent(
                RepositoryEvent.stickyChanged(replica(1, ReplicaState.CACHED), replica(1, ReplicaState.CACHED, FOO)));
    }

    @Test
    void sixteenThreadsIssueCommandsAtOnce() throws Exception
    {
        Cell pool1 = cluster.pool("pool1");
        for (int n = 1; n <= 64; n++) {
            pool1.with(replica(n, ReplicaState.CACHED));
        }
        Cell pool2 = cluster.pool("pool2");
        cluster.start();

        ExecutorService threads = Executors.newFixedThreadPool(16);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<List<String>>> results = new ArrayList<>();
        for (int t = 0; t < 16; t++) {
            int thread = t;
            results.add(threads.submit(() -> {
                go.await();
                List<String> jobs = new ArrayList<>();
                for (int k = 1; k <= 4; k++) {
                    String summary = pool1.module.commands()
                            .execute("migration copy -pnfsid=" + id(thread * 4 + k) + " pool2");
                    String job = summary.substring(1, summary.indexOf(']'));
                    jobs.add(job);
                    pool1.module.execute("migration info " + job);
                    pool1.module.execute("migration ls");
                    pool1.module.status();
                    pool2.module.execute("migration ls");
                }
                return jobs;
            }));
        }
        go.countDown();
        Set<String> jobs = new HashSet<>();
        for (Future<List<String>> f : results) {
            jobs.addAll(f.get(30, TimeUnit.SECONDS));
        }
        threads.shutdown();

        assertEquals(64, jobs.size(), "every job got its own id");
        for (String job : jobs) {
            awaitJob(pool1, job, "FINISHED");
        }
        assertEquals(64, pool2.repository.size());
    }

    @Test
    void theCommandAdapterOffersNamesHelpAndExecution()
    {
        cluster.pool("pool1");
        cluster.start();
        MigrationCommands commands = cluster.cells.get("pool1").module.commands();

        assertTrue(commands.names().containsAll(List.of("migration copy", "migration move", "migration cache",
                                                          "migration info", "migration cancel", "hotfile show")));
        assertTrue(commands.help("migration copy").contains("-smode"));
        MigrationException syntax = assertThrows(MigrationException.class,
                                                 () -> commands.execute("migration copy -smode=bogus pool2"));
        assertEquals(MigrationException.SYNTAX, syntax.code());
        assertTrue(syntax.getMessage().startsWith("Syntax error: "), syntax.getMessage());
        MigrationException unknown = assertThrows(MigrationException.class,
                                                  () -> commands.execute("migration info 99"));
        assertEquals(MigrationException.NOT_FOUND, unknown.code());
        assertEquals("Job not found", unknown.getMessage());
    }

    @Test
    void setupLinesAreReloadedIntoAnotherModule()
    {
        Cell pool1 = cluster.pool("pool1");
        Cell pool3 = cluster.pool("pool3");
        cluster.pool("pool2");
        cluster.start();
        pool1.module.execute("migration set concurrency-default 3");
        pool1.module.execute("migration cache -permanent -id=hot pool2");

        List<String> lines = pool1.module.setupLines();
        assertTrue(lines.contains("migration set concurrency-default 3"), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("migration cache") && l.contains("-id=hot")), lines.toString());

        assertEquals(List.of(), pool3.module.reload(lines));
        assertTrue(pool3.module.execute("migration ls").contains("[hot] "));
        assertEquals("Current default concurrency: 3", pool3.module.execute("migration get concurrency-default"));
        List<String> errors = pool3.module.reload(List.of("migration bogus"));
        assertEquals(1, errors.size());
        assertTrue(errors.get(0).startsWith("migration bogus: "), errors.toString());
        assertTrue(pool3.module.status().contains("\"label\":\"Migration\""));
    }

    @Test
    void aHotFileIsReplicatedToAPoolThatMayServeItsReads()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.PRECIOUS));
        pool1.hotfileThreshold = 3;
        Cell pool2 = cluster.pool("pool2");
        cluster.start();

        pool1.module.reportReaders(id(1), 2, "DCap", 3, 0, "10.0.0.1"); // below the threshold
        pool1.module.reportReaders(id(1), 5, "DCap", 3, 0, "10.0.0.1");
        awaitJob(pool1, "hotfile-" + id(1), "FINISHED");

        PoolSelection readers = cluster.selections.stream().filter(s -> s.kind() == PoolSelection.Kind.READERS)
                .findFirst().orElseThrow();
        assertEquals(id(1), readers.file().pnfsId());
        assertEquals("atlas:default@osm", readers.file().storageClass());
        assertEquals("DCap/3", readers.protocol());
        assertEquals("10.0.0.1", readers.net());
        assertEquals(ReplicaState.CACHED, pool2.repository.getEntry(id(1)).state());
    }

    @Test
    void aCallbackMayCallBackIntoTheModule()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED), replica(2, ReplicaState.CACHED));
        Cell pool2 = cluster.pool("pool2");
        cluster.start();
        AtomicReference<String> seen = new AtomicReference<>();
        pool1.onSend = () -> {
            pool1.module.status();
            seen.set(pool1.module.execute("migration ls"));
        };

        pool1.module.execute("migration copy pool2");
        awaitJob(pool1, "1", "FINISHED");
        assertTrue(seen.get().startsWith("[1] "), seen.get());
        assertEquals(2, pool2.repository.size());
    }

    @Test
    void closingFromInsideACallbackDoesNotHang()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED));
        Cell pool2 = cluster.pool("pool2");
        cluster.start();
        pool1.onSend = () -> pool1.module.close();

        pool1.module.execute("migration copy pool2");
        await("the module to close", Duration.ofSeconds(10), () -> pool1.module.isClosed());
        assertThrows(MigrationException.class, () -> pool1.module.execute("migration ls"));
        await("its threads to detach", Duration.ofSeconds(10), () -> threadsOf("pool1").isEmpty());
        assertEquals("", pool2.module.execute("migration ls"));
    }
}
