package org.dcache.migration;

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
import java.util.List;

import org.dcache.migration.TestCluster.Cell;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a pool must tell the module so that dropping it into dCache loses nothing: whether its
 * repository verifies checksums, whether it is still loading, whether its mode accepts copies,
 * and whether a setup is valid before it is reloaded.
 */
class DropInSafetyTest
{
    /**
     * Shorter than the 10 s after which a waiting job looks at the repository again by
     * itself: a job that finishes within it was woken by {@code repositoryLoaded()}.
     */
    private static final Duration BEFORE_THE_RETRY = Duration.ofSeconds(5);

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

    private static String info(Cell cell, String job)
    {
        return cell.module.execute("migration info " + job);
    }

    /** Waits (bounded) until the job's info contains {@code text}; returns that info. */
    private static String awaitInfo(Cell cell, String job, String text)
    {
        awaitWithInfo(cell, job, "'" + text + "' in the info of job " + job, Duration.ofSeconds(10),
                      () -> info(cell, job).contains(text));
        return info(cell, job);
    }

    /** Waits (bounded) for {@code condition}; a timeout shows the job's info. */
    private static void awaitWithInfo(Cell cell, String job, String what, Duration timeout,
                                      java.util.function.BooleanSupplier condition)
    {
        try {
            await(what, timeout, condition);
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; info of job " + job + ":\n" + info(cell, job), e);
        }
    }

    /** The setup lines that are not comments. */
    private static List<String> setup(Cell cell)
    {
        List<String> lines = new java.util.ArrayList<>(cell.module.setupLines());
        lines.removeIf(l -> l.startsWith("#"));
        return lines;
    }

    private static boolean inState(String info, String state)
    {
        return info.contains("State      : " + state + "\n");
    }

    // ── A repository that cannot verify checksums ────────────────────────────────────────

    @Test
    void aPoolThatCannotVerifyRefusesMoveBecauseItVerifiesByDefault()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.PRECIOUS));
        pool1.repository.verifies = false;
        cluster.pool("pool2");
        cluster.start();

        MigrationException e = assertThrows(MigrationException.class,
                                            () -> pool1.module.execute("migration move pool2"));
        assertEquals(MigrationException.UNSUPPORTED, e.code());
        assertEquals(9, e.code());
        assertTrue(e.getMessage().contains("-verify"), e.getMessage());
        assertEquals("", pool1.module.execute("migration ls"), "a refused command creates no job");
        assertEquals(List.of(), setup(pool1));
        assertNotNull(pool1.repository.getEntry(id(1)));
    }

    @Test
    void aPoolThatCannotVerifyRefusesCopyWithVerifyButAcceptsPlainCopy()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.PRECIOUS), replica(2, ReplicaState.CACHED));
        pool1.repository.verifies = false;
        Cell pool2 = cluster.pool("pool2");
        cluster.start();

        MigrationException e = assertThrows(MigrationException.class,
                                            () -> pool1.module.execute("migration copy -verify pool2"));
        assertEquals(MigrationException.UNSUPPORTED, e.code());
        assertTrue(e.getMessage().contains("-verify"), e.getMessage());
        assertEquals("", pool1.module.execute("migration ls"), "a refused command creates no job");

        String summary = pool1.module.execute("migration copy pool2");
        assertTrue(summary.startsWith("[1] "), summary);
        awaitJob(pool1, "1", "FINISHED");
        assertEquals(2, pool2.repository.size());
        assertEquals(2, pool1.repository.size(), "copy leaves the source alone");
    }

    @Test
    void aPoolThatCannotVerifyMovesWithVerifyFalse()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.PRECIOUS), replica(2, ReplicaState.CACHED));
        pool1.repository.verifies = false;
        Cell pool2 = cluster.pool("pool2");
        cluster.start();

        pool1.module.execute("migration move -verify=false pool2");
        String info = awaitJob(pool1, "1", "FINISHED");

        assertTrue(info.contains("Completed  : 2 files"), info);
        assertEquals(0, pool1.repository.size(), "the sources were deleted");
        assertEquals(ReplicaState.PRECIOUS, pool2.repository.getEntry(id(1)).state());
        assertEquals(ReplicaState.CACHED, pool2.repository.getEntry(id(2)).state());
        assertEquals(0, pool1.repository.verifications.get() + pool2.repository.verifications.get());
    }

    @Test
    void aTargetThatCannotVerifyKeepsTheSourceOfAVerifyingMove()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.PRECIOUS));
        Cell pool2 = cluster.pool("pool2").with(replica(1, ReplicaState.CACHED));
        pool2.repository.verifies = false;
        cluster.start();

        pool1.module.execute("migration move pool2"); // the source verifies: -verify by default
        String info = awaitInfo(pool1, "1", "this pool does not verify checksums");
        TestCluster.sleep(300); // anything that would delete the source has had its chance

        info = info(pool1, "1");
        assertFalse(inState(info, "FINISHED"), info);
        ReplicaEntry source = pool1.repository.getEntry(id(1));
        assertNotNull(source, "the source survives a verification the target could not do");
        assertEquals(ReplicaState.PRECIOUS, source.state());
        assertEquals(ReplicaState.CACHED, pool2.repository.getEntry(id(1)).state(), "the target was not updated");
        assertEquals(0, pool2.repository.verifications.get());
        assertEquals(0, pool2.p2pStarts.get(), "the existing replica is not overwritten by a transfer");
        pool1.module.execute("migration cancel -force 1");
        awaitJob(pool1, "1", "CANCELLED");
        assertNotNull(pool1.repository.getEntry(id(1)));
    }

    @Test
    void aTargetThatVerifiesChecksTheExistingReplicaBeforeTheMoveDeletesTheSource()
    {
        // The control of the test above: the same move onto a verifying target completes.
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.PRECIOUS));
        Cell pool2 = cluster.pool("pool2").with(replica(1, ReplicaState.CACHED));
        cluster.start();

        pool1.module.execute("migration move pool2");
        awaitJob(pool1, "1", "FINISHED");

        assertEquals(1, pool2.repository.verifications.get(), "the target verified its existing replica");
        assertNull(pool1.repository.getEntry(id(1)), "the move deleted its source");
        assertEquals(ReplicaState.PRECIOUS, pool2.repository.getEntry(id(1)).state());
    }

    // ── A repository still loading at pool start ─────────────────────────────────────────

    @Test
    void aPermanentJobFromTheSetupWaitsForTheRepositoryToLoad()
    {
        Cell pool1 = cluster.pool("pool1");
        Cell pool2 = cluster.pool("pool2");
        pool2.start();
        pool1.repository.loading = true;
        pool1.open();
        assertEquals(List.of(), pool1.module.reload(List.of("migration copy -permanent -id=keep pool2")));
        pool1.module.poolStarted();

        String info = awaitInfo(pool1, "keep", "Repository is still loading; waiting for it");
        assertTrue(inState(info, "INITIALIZING"), info);
        // The pool loads its replicas and reports each one; two of them the listener misses,
        // so only the scan after loading can find them.
        for (int n = 1; n <= 6; n++) {
            pool1.repository.insert(replica(n, ReplicaState.CACHED));
        }
        for (ReplicaEntry missed : List.of(replica(7, ReplicaState.PRECIOUS), replica(8, ReplicaState.CACHED))) {
            pool1.repository.load(missed);
            cluster.register("pool1", RepositoryEvent.stateChanged(ReplicaState.NEW, missed.state(), missed));
        }
        info = info(pool1, "keep");
        assertTrue(inState(info, "INITIALIZING"), "nothing runs while the repository loads: " + info);
        assertFalse(info.contains("FAILED"), info);

        pool1.repository.loading = false;
        pool1.module.repositoryLoaded();
        awaitWithInfo(pool1, "keep", "all eight replicas on pool2", BEFORE_THE_RETRY,
                      () -> pool2.repository.size() == 8);

        for (int n = 1; n <= 8; n++) {
            assertNotNull(pool2.repository.getEntry(id(n)), "file " + n);
        }
        info = info(pool1, "keep");
        assertFalse(inState(info, "FAILED") || inState(info, "FINISHED"), "a permanent job keeps running: " + info);
        List<String> lines = setup(pool1);
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("migration copy") && l.contains("-permanent")
                                                && l.contains("-id=keep")), lines.toString());
    }

    @Test
    void aJobStartedWhileTheRepositoryLoadsFinishesWithEveryReplicaAfterLoading()
    {
        Cell pool1 = cluster.pool("pool1");
        Cell pool2 = cluster.pool("pool2");
        pool1.repository.loading = true;
        cluster.start();

        pool1.module.execute("migration copy pool2");
        String info = awaitInfo(pool1, "1", "Repository is still loading; waiting for it");
        assertTrue(inState(info, "INITIALIZING"), info);
        for (int n = 1; n <= 5; n++) {
            pool1.repository.insert(replica(n, ReplicaState.PRECIOUS));
        }
        TestCluster.sleep(100);
        assertTrue(inState(info(pool1, "1"), "INITIALIZING"), info(pool1, "1"));
        assertEquals(0, pool2.repository.size());

        pool1.repository.loading = false;
        pool1.module.repositoryLoaded();
        awaitWithInfo(pool1, "1", "the job to finish", BEFORE_THE_RETRY, () -> inState(info(pool1, "1"), "FINISHED"));

        info = info(pool1, "1");
        assertTrue(info.contains("Completed  : 5 files"), info);
        assertEquals(5, pool2.repository.size());
    }

    @Test
    void theIteratorMaySignalThatTheRepositoryIsStillLoading()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED), replica(2, ReplicaState.CACHED));
        Cell pool2 = cluster.pool("pool2");
        pool1.repository.loadingInIterator = true;
        pool1.repository.loading = true;
        cluster.start();

        pool1.module.execute("migration copy pool2");
        String info = awaitInfo(pool1, "1", "Repository is still loading; waiting for it");
        assertTrue(inState(info, "INITIALIZING"), info);

        pool1.repository.loading = false;
        pool1.module.repositoryLoaded();
        awaitWithInfo(pool1, "1", "the job to finish", BEFORE_THE_RETRY, () -> inState(info(pool1, "1"), "FINISHED"));
        assertEquals(2, pool2.repository.size());
    }

    @Test
    void anyOtherExceptionFromTheScanFailsTheJob()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED));
        Cell pool2 = cluster.pool("pool2");
        cluster.start();
        pool1.repository.scanFailure = new RuntimeException("disk on fire");

        pool1.module.execute("migration copy pool2");
        String info = awaitJob(pool1, "1", "FAILED");

        assertTrue(info.contains("disk on fire"), info);
        assertFalse(info.contains("Repository is still loading"), info);
        assertEquals(0, pool2.repository.size());
    }

    @Test
    void theRepositorysIteratorIsClosedOnceItsScanIsOver()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED), replica(2, ReplicaState.CACHED));
        Cell pool2 = cluster.pool("pool2");
        cluster.start();

        pool1.module.execute("migration copy pool2");
        awaitJob(pool1, "1", "FINISHED");
        assertEquals(2, pool2.repository.size());
        assertEquals(1, pool1.repository.iteratorsOpened.get());
        assertEquals(1, pool1.repository.iteratorsClosed.get(), "closed at the scan's end");

        // An iterator that throws midway is closed too, and the job fails with its exception.
        pool1.repository.iteratorFailure = new RuntimeException("cursor lost");
        pool1.module.execute("migration copy pool2");
        String info = awaitJob(pool1, "2", "FAILED");
        assertTrue(info.contains("cursor lost"), info);
        assertEquals(2, pool1.repository.iteratorsOpened.get());
        assertEquals(2, pool1.repository.iteratorsClosed.get(), "closed after its exception");
    }

    @Test
    void aPlainIllegalStateExceptionIsNotTakenForLoading()
    {
        // dCache's own repository throws IllegalStateException while loading; the host must
        // translate it, the module does not guess.
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED));
        cluster.pool("pool2");
        cluster.start();
        pool1.repository.scanFailure = new IllegalStateException("Repository not loaded");

        pool1.module.execute("migration copy pool2");
        String info = awaitJob(pool1, "1", "FAILED");
        assertTrue(info.contains("java.lang.IllegalStateException: Repository not loaded"), info);
    }

    // ── A target's update of a replica it holds ───────────────────────────────────────────

    /**
     * A checksum scan marks the target's cached copy BROKEN after the target read it and
     * before it is made precious: the conditional change is refused, the target reads the
     * replica again and fails the copy, and the move keeps its source. dCache confirmed such
     * a copy, and the move deleted the only readable replica.
     */
    @Test
    void aCopyMarkedBrokenBetweenTheTargetsLookAndItsUpdateIsNotConfirmed()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.PRECIOUS));
        Cell pool2 = cluster.pool("pool2").with(replica(1, ReplicaState.CACHED));
        pool2.repository.beforeConditionalStateChange.set(() -> {
            try {
                pool2.repository.setState(id(1), ReplicaState.BROKEN, "checksum scan");
            } catch (RepositoryException e) {
                throw new AssertionError(e);
            }
        });
        cluster.start();

        pool1.module.execute("migration move pool2");
        String info = awaitInfo(pool1, "1", "Cannot update file in state BROKEN");
        assertNull(pool2.repository.beforeConditionalStateChange.get(), "the scan came between look and update");
        assertEquals(ReplicaState.BROKEN, pool2.repository.getEntry(id(1)).state(), "not made precious");
        assertNotNull(pool1.repository.getEntry(id(1)), "the source is kept");
        assertEquals(ReplicaState.PRECIOUS, pool1.repository.getEntry(id(1)).state());
        assertFalse(inState(info, "FINISHED"), info);
        pool1.module.execute("migration cancel 1");
        awaitJob(pool1, "1", "CANCELLED");
        assertEquals(ReplicaState.PRECIOUS, pool1.repository.getEntry(id(1)).state(), "still kept");
    }

    // ── The pool's mode ───────────────────────────────────────────────────────────────────

    @Test
    void aTargetWhoseModeRefusesCopiesGetsNothingUntilItAcceptsAgain()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED), replica(2, ReplicaState.PRECIOUS));
        Cell pool2 = cluster.pool("pool2");
        pool2.repository.accepts = false; // pool disable -rdonly, seen only through the mode
        cluster.start();

        pool1.module.execute("migration copy -refresh=1 pool2");
        String info = awaitInfo(pool1, "1", "Pool is disabled");
        assertFalse(inState(info, "FINISHED"), info);
        assertEquals(0, pool2.repository.size());
        assertEquals(0, pool2.p2pStarts.get());
        assertTrue(pool2.repository.acceptsAsked.get() > 0, "the target asked its repository");

        int asked = pool2.repository.acceptsAsked.get();
        pool2.repository.accepts = true; // pool enable: no call into the module
        awaitJob(pool1, "1", "FINISHED");
        assertEquals(2, pool2.repository.size());
        assertTrue(pool2.repository.acceptsAsked.get() > asked, "asked again on the next request");
    }

    @Test
    void aThrowingModeCallbackRefusesTheCopyWithoutHarm()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED));
        Cell pool2 = cluster.pool("pool2");
        pool2.repository.acceptsFailure = new IllegalStateException("mode exploded");
        cluster.start();

        pool1.module.execute("migration copy -refresh=1 pool2");
        awaitInfo(pool1, "1", "Pool is disabled");
        assertEquals(0, pool2.repository.size());
        assertEquals("", pool2.module.execute("migration ls"), "the target's module still answers");

        pool2.repository.acceptsFailure = null;
        awaitJob(pool1, "1", "FINISHED");
        assertNotNull(pool2.repository.getEntry(id(1)));
    }

    @Test
    void aTargetWhoseEntryCannotBeReadFailsTheCopyAndTheSourceKeepsItsReplica()
    {
        // The target's mode and entry are read in one call into Java: a throwing entry read
        // must still fail the copy (not pass for "no replica here"), and a move keeps its source.
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.PRECIOUS));
        Cell pool2 = cluster.pool("pool2");
        pool2.repository.entryFailure = new IllegalStateException("entry exploded");
        cluster.start();

        pool1.module.execute("migration move -refresh=1 pool2");
        String info = awaitInfo(pool1, "1", "entry exploded");
        assertFalse(inState(info, "FINISHED"), info);
        assertEquals(0, pool2.p2pStarts.get(), "no transfer without a readable entry");
        assertNotNull(pool1.repository.getEntry(id(1)), "the source still has its replica");

        pool2.repository.entryFailure = null;
        awaitJob(pool1, "1", "FINISHED");
        assertNotNull(pool2.repository.getEntry(id(1)));
        assertNull(pool1.repository.getEntry(id(1)), "moved once the target could look");
    }

    @Test
    void setAcceptsCopiesFalseRefusesWithoutAskingTheRepository()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED));
        Cell pool2 = cluster.pool("pool2");
        cluster.start();
        pool2.module.setAcceptsCopies(false);

        pool1.module.execute("migration copy -refresh=1 pool2");
        awaitInfo(pool1, "1", "Pool is disabled");
        assertEquals(0, pool2.repository.acceptsAsked.get(), "the pushed mode answered first");
        assertEquals(0, pool2.repository.size());

        pool2.module.setAcceptsCopies(true);
        awaitJob(pool1, "1", "FINISHED");
        assertTrue(pool2.repository.acceptsAsked.get() > 0, "then the repository is asked");
        assertNotNull(pool2.repository.getEntry(id(1)));
    }

    // ── Checking a setup before a reload ──────────────────────────────────────────────────

    @Test
    void validSetupLinesValidateWithoutChangingTheModule()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED));
        Cell pool2 = cluster.pool("pool2");
        cluster.start();
        String defaults = pool1.module.execute("migration get concurrency-default");

        List<String> errors = pool1.module.validate(List.of(
                "# a comment",
                "migration set concurrency-default 7",
                "migration copy -permanent -id=keep pool2",
                "migration set concurrency keep 3",
                "migration cache pool2"));

        assertEquals(List.of(), errors);
        assertEquals("", pool1.module.execute("migration ls"), "no job was created");
        assertEquals(defaults, pool1.module.execute("migration get concurrency-default"));
        assertEquals(List.of(), setup(pool1));
        TestCluster.sleep(100);
        assertEquals(0, pool2.repository.size(), "nothing was copied");
        assertEquals(0, pool2.p2pStarts.get());
    }

    @Test
    void invalidSetupLinesAreReportedWithTheirLine()
    {
        Cell pool1 = cluster.pool("pool1");
        cluster.pool("pool2");
        cluster.start();
        pool1.module.execute("migration set concurrency-default 2");

        List<String> errors = pool1.module.validate(List.of(
                "migration set concurrency-default 5",
                "migration copy -smode=bogus pool2",
                "migration set concurrency nosuchjob 4",
                "migration copy -id=fine pool2"));

        assertEquals(2, errors.size(), errors.toString());
        assertTrue(errors.get(0).startsWith("migration copy -smode=bogus pool2: "), errors.toString());
        assertTrue(errors.get(1).startsWith("migration set concurrency nosuchjob 4: "), errors.toString());
        assertTrue(errors.get(1).contains("Job not found"), errors.toString());
        assertEquals("", pool1.module.execute("migration ls"));
        assertEquals("Current default concurrency: 2", pool1.module.execute("migration get concurrency-default"));
    }

    @Test
    void validateKnowsWhetherThePoolVerifies()
    {
        Cell pool1 = cluster.pool("pool1");
        pool1.repository.verifies = false;
        cluster.pool("pool2");
        cluster.start();

        List<String> errors = pool1.module.validate(List.of("migration move pool2",
                                                            "migration move -verify=false pool2"));
        assertEquals(1, errors.size(), errors.toString());
        assertTrue(errors.get(0).startsWith("migration move pool2: "), errors.toString());
        assertTrue(errors.get(0).contains("-verify"), errors.toString());
        assertEquals("", pool1.module.execute("migration ls"));
    }

    @Test
    void theNewCallsFollowTheModulesErrorConventions()
    {
        Cell pool1 = cluster.pool("pool1");
        cluster.start();
        MigrationModule module = pool1.module;
        module.repositoryLoaded(); // nothing waits: harmless
        assertEquals(List.of(), module.validate(List.of()));
        MigrationException lineBreak = assertThrows(MigrationException.class,
                                                    () -> module.validate(List.of("migration ls\nmigration ls")));
        assertEquals(MigrationException.INVALID_ARGUMENT, lineBreak.code());

        module.close();
        assertEquals(MigrationException.CLOSED,
                     assertThrows(MigrationException.class, module::repositoryLoaded).code());
        assertEquals(MigrationException.CLOSED,
                     assertThrows(MigrationException.class, () -> module.validate(List.of("migration ls"))).code());
    }
}
