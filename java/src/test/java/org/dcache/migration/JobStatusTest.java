package org.dcache.migration;

import static org.dcache.migration.TestCluster.await;
import static org.dcache.migration.TestCluster.awaitJob;
import static org.dcache.migration.TestCluster.replica;
import static org.dcache.migration.TestCluster.sorted;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

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
        assertEquals(List.of(status), pool1.module.jobs());
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
}
