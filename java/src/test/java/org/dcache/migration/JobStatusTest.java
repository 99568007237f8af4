package org.dcache.migration;

import static org.dcache.migration.TestCluster.await;
import static org.dcache.migration.TestCluster.awaitJob;
import static org.dcache.migration.TestCluster.replica;
import static org.dcache.migration.TestCluster.sorted;
import static org.dcache.migration.TestCluster.withoutPace;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.dcache.migration.TestCluster.Cell;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The typed job status a REST frontend reads instead of splitting the lines of
 * {@code migration info}: the same numbers, and the targets as pool names.
 */
class JobStatusTest
{
    /** How far the module's clock (the kernel's coarse clock) may lag Java's, ms. */
    private static final long TICK = 10;

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

    /** The value of one {@code Name : value} line of {@code migration info}. */
    private static String field(String info, String name)
    {
        for (String line : info.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equals(name)) {
                return line.substring(colon + 1).trim();
            }
        }
        throw new AssertionError("no " + name + " in\n" + info);
    }

    /** The lines under {@code Running tasks:}. */
    private static List<String> taskLines(String info)
    {
        List<String> lines = new ArrayList<>();
        boolean in = false;
        for (String line : info.split("\n")) {
            if (line.equals("Running tasks:")) {
                in = true;
            } else if (in && line.startsWith("[")) {
                lines.add(line);
            } else {
                in = false;
            }
        }
        return lines;
    }

    private static void assertSameAsInfo(JobStatus status, String info)
    {
        assertEquals(field(info, "Command"), status.commandLine());
        assertEquals(field(info, "State"), status.state().name());
        assertEquals(Long.parseLong(field(info, "Queued")), status.queued());
        assertEquals(Long.parseLong(field(info, "Attempts")), status.attempts());
        assertEquals(field(info, "Targets"), status.targetsDescription());
        assertEquals(Integer.parseInt(field(info, "Concurrency")), status.concurrency());
        String completed = status.completedFiles() + " files; " + status.transferredBytes() + " bytes";
        assertTrue(field(info, "Completed").startsWith(completed), completed + " vs\n" + info);
        if (info.contains("Total      :")) {
            assertEquals(status.totalBytes() + " bytes", field(info, "Total"));
        }
        List<String> tasks = new ArrayList<>();
        for (JobStatus.RunningTask t : status.runningTasks()) {
            tasks.add("[" + t.id() + "] " + t.pnfsId() + ": TASK." + t.state()
                      + (t.target() == null ? "" : " -> [" + t.target() + "@local]"));
        }
        assertEquals(taskLines(info), tasks);
    }

    @Test
    void aFinishedJobsStatusHasTheNumbersOfMigrationInfo()
    {
        Cell pool1 = cluster.pool("pool1");
        long bytes = 0;
        for (int n = 1; n <= 5; n++) {
            pool1.with(replica(n, ReplicaState.CACHED));
            bytes += 1000 + n;
        }
        cluster.pool("pool2");
        cluster.start();

        pool1.module.execute("migration copy -concurrency=3 pool2");
        String info = awaitJob(pool1, "1", "FINISHED");
        JobStatus status = pool1.module.job("1");

        assertSameAsInfo(status, info);
        assertEquals("1", status.id());
        assertEquals(JobState.FINISHED, status.state());
        assertEquals(5, status.completedFiles());
        assertEquals(bytes, status.transferredBytes());
        assertEquals(bytes, status.totalBytes());
        assertEquals(5, status.attempts());
        assertEquals(OptionalInt.of(100), status.percent());
        assertEquals(List.of("pool2"), status.targets());
        assertFalse(status.isPermanent());
        assertEquals(pool1.module.execute("migration ls").trim(), status.summary());
        List<JobStatus> jobs = pool1.module.jobs();
        assertEquals(1, jobs.size());
        assertEquals(withoutPace(status), withoutPace(jobs.get(0)));
        assertEquals(0, status.failures());
        assertEquals(List.of(), status.quarantined());
        assertEquals(OptionalLong.empty(), status.etaMillis(), "an ended job has no ETA");
        assertTrue(status.started().isPresent());
    }


    @Test
    void aRunningJobsTasksAndQueueAreThoseOfMigrationInfo()
    {
        Cell pool1 = cluster.pool("pool1");
        for (int n = 1; n <= 5; n++) {
            pool1.with(replica(n, ReplicaState.PRECIOUS));
        }
        Cell pool2 = cluster.pool("pool2");
        pool2.slowP2p = true;
        cluster.start();

        pool1.module.execute("migration copy -concurrency=2 -id=drain pool2");
        await("two transfers", Duration.ofSeconds(10), () -> pool2.heldTransfers.size() == 2);
        await("the copying state", Duration.ofSeconds(10),
              () -> pool1.module.job("drain").runningTasks().stream().allMatch(t -> "pool2".equals(t.target())));
        String info = pool1.module.execute("migration info drain");
        JobStatus status = pool1.module.job("drain");

        assertSameAsInfo(status, info);
        assertEquals(JobState.RUNNING, status.state());
        assertEquals(3, status.queued());
        assertEquals(2, status.runningTasks().size());
        assertEquals(0, status.completedFiles());
        assertEquals(OptionalInt.of(0), status.percent());

        pool2.slowP2p = false;
        pool2.releaseTransfers();
        info = awaitJob(pool1, "drain", "FINISHED");
        assertSameAsInfo(pool1.module.job("drain"), info);
    }

    @Test
    void aPoolGroupTargetListsItsPoolsByName()
    {
        cluster.groups.put("cache_pools", List.of("pool2", "pool3"));
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED));
        cluster.pool("pool2");
        cluster.pool("pool3");
        cluster.start();

        pool1.module.execute("migration cache -permanent -target=pgroup cache_pools");
        await("the group's pools", Duration.ofSeconds(10), () -> !pool1.module.job("1").targets().isEmpty());
        JobStatus status = pool1.module.job("1");
        String info = pool1.module.execute("migration info 1");

        assertEquals(List.of("pool2", "pool3"), sorted(status.targets()));
        assertEquals(field(info, "Targets"), status.targetsDescription());
        assertTrue(status.targetsDescription().contains("cache_pools"), status.targetsDescription());
        assertTrue(status.isPermanent());
    }

    @Test
    void notesCarryTheirTaskFileAndText()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED));
        cluster.pool("pool2");
        cluster.start();
        cluster.namespaceFailures.set(1); // the task notes the failure and retries

        pool1.module.execute("migration copy pool2");
        String info = awaitJob(pool1, "1", "FINISHED");
        JobStatus status = pool1.module.job("1");

        assertFalse(status.notes().isEmpty(), info);
        for (JobStatus.Note note : status.notes()) {
            String file = note.pnfsId() == null ? "-" : note.pnfsId().toString();
            assertTrue(info.contains("[" + note.task() + "] " + file + ": " + note.text()), note + " in\n" + info);
            assertTrue(note.time() > 0);
        }
        assertTrue(status.notes().stream().anyMatch(n -> TestCluster.id(1).equals(n.pnfsId())
                                                         && n.text().contains("namespace exploded")), info);
        assertTrue(status.created() > 0);
    }

    @Test
    void anUnknownJobIsNotFound()
    {
        Cell pool1 = cluster.pool("pool1");
        cluster.start();

        assertEquals(List.of(), pool1.module.jobs());
        pool1.module.execute("migration copy -id=real pool2");
        assertEquals("real", pool1.module.job("real").id());
        MigrationException e = assertThrows(MigrationException.class, () -> pool1.module.job("99"));
        assertEquals(MigrationException.NOT_FOUND, e.code());
        assertEquals("Job not found", e.getMessage());
        pool1.module.close();
        e = assertThrows(MigrationException.class, () -> pool1.module.jobs());
        assertEquals(MigrationException.CLOSED, e.code());
    }

    @Test
    void aJobHasNoPaceUntilThePoolStarts() throws InterruptedException
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED));
        cluster.pool("pool2").start();
        pool1.open(); // the pool reads its setup; it has not started

        pool1.module.execute("migration copy -id=early pool2");
        JobStatus waiting = pool1.module.job("early");
        assertEquals(JobState.NEW, waiting.state());
        assertEquals(OptionalLong.empty(), waiting.started());
        assertEquals(OptionalDouble.empty(), waiting.filesPerSecond());
        assertEquals(OptionalDouble.empty(), waiting.bytesPerSecond());
        assertEquals(OptionalLong.empty(), waiting.etaMillis());

        // The job is created well before the pool starts, so that a start time taken at its
        // creation would show; the module's clock may lag Java's by a tick (at most 10 ms).
        Thread.sleep(50);
        long before = System.currentTimeMillis();
        pool1.module.poolStarted();
        awaitJob(pool1, "early", "FINISHED");
        JobStatus done = pool1.module.job("early");
        long started = done.started().orElseThrow();
        assertTrue(started >= before - TICK && started >= done.created() + 50 - TICK
                   && started <= System.currentTimeMillis(),
                   started + " vs " + before + " (created " + done.created() + ")");
    }

    @Test
    void aRunningJobHasARateAndAnEta()
    {
        Cell pool1 = cluster.pool("pool1");
        for (int n = 1; n <= 8; n++) {
            pool1.with(replica(n, ReplicaState.CACHED));
        }
        Cell pool2 = cluster.pool("pool2");
        pool2.slowP2p = true;
        cluster.start();

        pool1.module.execute("migration copy -concurrency=2 -id=paced pool2");
        await("two transfers", Duration.ofSeconds(10), () -> pool2.heldTransfers.size() == 2);
        JobStatus early = pool1.module.job("paced");
        assertTrue(early.started().isPresent());
        assertEquals(OptionalLong.empty(), early.etaMillis(), "nothing completed yet");
        TestCluster.sleep(1100); // the rate needs a second of active time
        pool2.releaseTransfers();
        await("two files", Duration.ofSeconds(10), () -> pool1.module.job("paced").completedFiles() == 2);

        JobStatus status = pool1.module.job("paced");
        assertEquals(JobState.RUNNING, status.state());
        double files = status.filesPerSecond().orElseThrow();
        double bytes = status.bytesPerSecond().orElseThrow();
        assertTrue(files > 0 && files <= 2.0, "files/s " + files);
        // Both rates cover the same completions: bytes per file is the completed files' mean size.
        assertEquals(status.transferredBytes() / 2.0, bytes / files, 1.0);
        long eta = status.etaMillis().orElseThrow();
        assertTrue(eta > 0, "eta " + eta);
        // migration info prints the same pace (at its own moment).
        String info = pool1.module.execute("migration info paced");
        Matcher rate = Pattern.compile("Rate       : ([0-9.]+) files/s; ([0-9]+) bytes/s").matcher(info);
        assertTrue(rate.find(), info);
        assertTrue(Double.parseDouble(rate.group(1)) > 0, info);

        pool2.slowP2p = false;
        pool2.releaseTransfers();
        awaitJob(pool1, "paced", "FINISHED");
        assertEquals(OptionalLong.empty(), pool1.module.job("paced").etaMillis());
    }

    @Test
    void filesThatFailMaxAttemptsTimesAreQuarantinedWithTheirLastError()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED), replica(2, ReplicaState.CACHED));
        Cell pool2 = cluster.pool("pool2");
        pool2.repository.accepts = false; // pool disable -rdonly on the target
        cluster.start();

        pool1.module.execute("migration copy -max-attempts=1 pool2");
        String info = awaitJob(pool1, "1", "FINISHED");
        JobStatus status = pool1.module.job("1");

        assertEquals(0, status.completedFiles());
        assertEquals(2, status.failures());
        assertEquals(2, status.quarantined().size(), info);
        for (int n = 1; n <= 2; n++) {
            JobStatus.Quarantined q = status.quarantined().get(n - 1);
            assertEquals(TestCluster.id(n), q.pnfsId());
            assertEquals(1, q.attempts());
            assertEquals(1000L + n, q.size());
            assertEquals(104, q.returnCode());
            assertTrue(q.error().contains("Pool is disabled"), q.error());
            assertTrue(info.contains(q.pnfsId() + ": 1 attempts, last: " + q.error() + " (rc=104)"), info);
        }

        // migration retry brings them back; with the pool enabled they are copied.
        pool2.repository.accepts = true;
        pool1.module.execute("migration retry 1");
        await("the retried files", Duration.ofSeconds(20), () -> pool1.module.job("1").completedFiles() == 2);
        awaitJob(pool1, "1", "FINISHED");
        JobStatus retried = pool1.module.job("1");
        assertEquals(List.of(), retried.quarantined());
        assertEquals(2, retried.failures(), "failures are a counter");
    }

    /** The value of one sample of {@code metrics()}, or null. */
    private static String sample(String metrics, String name)
    {
        for (String line : metrics.split("\n")) {
            if (line.startsWith(name + " ")) {
                return line.substring(name.length() + 1);
            }
        }
        return null;
    }

    @Test
    void metricsCountWhatTheStatusShows()
    {
        Cell pool1 = cluster.pool("pool1");
        for (int n = 1; n <= 3; n++) {
            pool1.with(replica(n, ReplicaState.CACHED));
        }
        pool1.with(replica(4, ReplicaState.PRECIOUS));
        Cell pool2 = cluster.pool("pool2");
        cluster.start();

        pool1.module.execute("migration copy -state=cached pool2");
        awaitJob(pool1, "1", "FINISHED");
        pool2.repository.accepts = false;
        pool1.module.execute("migration copy -state=precious -max-attempts=1 -id=stuck pool2");
        awaitJob(pool1, "stuck", "FINISHED");
        String metrics = pool1.module.metrics();

        JobStatus first = pool1.module.job("1");
        assertEquals(3, first.completedFiles());
        assertEquals(String.valueOf(first.completedFiles()),
                     sample(metrics, "dcache_migration_job_files_completed_total{pool=\"pool1\",job=\"1\"}"), metrics);
        assertEquals(String.valueOf(first.transferredBytes()),
                     sample(metrics, "dcache_migration_job_bytes_completed_total{pool=\"pool1\",job=\"1\"}"));
        JobStatus stuck = pool1.module.job("stuck");
        assertEquals(String.valueOf(stuck.failures()),
                     sample(metrics, "dcache_migration_job_failures_total{pool=\"pool1\",job=\"stuck\"}"));
        assertEquals(String.valueOf(stuck.quarantined().size()),
                     sample(metrics, "dcache_migration_job_quarantined_files{pool=\"pool1\",job=\"stuck\"}"));
        assertEquals("2", sample(metrics, "dcache_migration_jobs{pool=\"pool1\",state=\"FINISHED\"}"));
        assertTrue(metrics.contains("# TYPE dcache_migration_job_files_completed_total counter\n"), metrics);
        assertEquals(pool1.module.execute("migration metrics").trim(), metrics.trim());
        assertEquals(null, sample(pool2.module.metrics(), "dcache_migration_job_files_completed_total{pool=\"pool1\",job=\"1\"}"));

        pool1.module.close();
        assertEquals(MigrationException.CLOSED,
                     assertThrows(MigrationException.class, pool1.module::metrics).code());
    }
}
