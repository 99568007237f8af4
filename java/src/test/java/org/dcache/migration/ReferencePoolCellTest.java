package org.dcache.migration;

import static org.dcache.migration.TestCluster.await;
import static org.dcache.migration.TestCluster.id;
import static org.dcache.migration.TestCluster.replica;
import static org.dcache.migration.TestCluster.sorted;
import static org.dcache.migration.TestCluster.withoutPace;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.dcache.migration.CellStandIns.MigrationData;
import org.dcache.migration.CellStandIns.PoolV2Mode;
import org.dcache.migration.CellStandIns.ProtocolInfo;
import org.dcache.migration.TestCluster.Cell;
import org.dcache.migration.messages.CopyFinishedMessage;
import org.dcache.migration.messages.CopyReplicaMessage;
import org.dcache.migration.messages.JobCancelMessage;
import org.dcache.migration.messages.MessageReply;
import org.dcache.migration.messages.MigrationMessage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link ReferencePoolCell}, the reference wiring for a dCache 12 pool, end to end: two or
 * three cells in a {@link CellDomain} that plays dCache (setup, shell, message network), with
 * the pool manager, namespace, p2p and pin manager of a {@link TestCluster}.
 */
class ReferencePoolCellTest
{
    private TestCluster cluster;
    private CellDomain domain;
    private final Map<String, PoolV2Mode> modes = new ConcurrentHashMap<>();

    @BeforeEach
    void setUp()
    {
        cluster = new TestCluster();
        domain = new CellDomain();
    }

    @AfterEach
    void tearDown()
    {
        domain.close();
        cluster.close();
    }

    /** The cell of pool {@code name}, created (its module is running) but not yet in the domain. */
    private ReferencePoolCell create(String name, ReplicaEntry... replicas)
    {
        Cell pool = cluster.pool(name).with(replicas);
        pool.repository.setListener(e -> cluster.register(name, e)); // the namespace
        for (ReplicaEntry e : pool.repository.all()) {
            cluster.register(name, RepositoryEvent.stateChanged(ReplicaState.NEW, e.state(), e));
        }
        PoolV2Mode mode = modes.computeIfAbsent(name, n -> new PoolV2Mode());
        return new ReferencePoolCell(name, pool.repository, mode, domain.endpoint(name), pool.new Pools(),
                                     pool.new Namespace(), pool.new P2p(), pool.new Pins());
    }

    private ReferencePoolCell start(String name, List<String> setup, ReplicaEntry... replicas)
    {
        return domain.start(name, create(name, replicas), setup);
    }

    private static JobStatus awaitState(ReferencePoolCell cell, String job, JobState state)
    {
        try {
            await("job " + job + " to be " + state, Duration.ofSeconds(20), () -> {
                try {
                    return cell.module().job(job).state() == state;
                } catch (MigrationException e) {
                    return false;
                }
            });
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + ":\n" + cell.module().execute("migration info " + job), e);
        }
        return cell.module().job(job);
    }

    private static Object answer(java.util.concurrent.CompletableFuture<Object> future) throws Exception
    {
        return future.get(10, TimeUnit.SECONDS);
    }

    // ── CellLifeCycleAware and CellSetupProvider ──────────────────────────────────────────

    @Test
    void theSetupRunsFirstItsJobsWaitForAfterStartAndBeforeStopClosesTheModule()
    {
        start("pool2", List.of());
        ReferencePoolCell pool1 = create("pool1", replica(1, ReplicaState.CACHED), replica(2, ReplicaState.PRECIOUS));
        List<String> setup = List.of("# the pool's setup file", "migration set concurrency-default 2",
                                     "migration copy -permanent -id=keep pool2");
        domain.add("pool1", pool1);

        domain.reload("pool1", setup);
        assertEquals(JobState.NEW, pool1.module().job("keep").state(), "the pool has not started");
        assertEquals(0, cluster.pool("pool2").repository.size());

        pool1.afterStart();
        await("both replicas on pool2", Duration.ofSeconds(10), () -> cluster.pool("pool2").repository.size() == 2);
        List<String> saved = domain.save("pool1");
        assertTrue(saved.contains("migration set concurrency-default 2"), saved.toString());
        assertTrue(saved.stream().anyMatch(l -> l.startsWith("migration copy") && l.contains("-permanent")
                                                && l.contains("-id=keep")), saved.toString());

        domain.stop("pool1");
        assertTrue(pool1.module().isClosed());
        assertEquals(MigrationException.CLOSED,
                     assertThrows(MigrationException.class, () -> pool1.module().jobs()).code());
    }

    @Test
    void anInvalidSetupIsRefusedWithoutChangingAnythingAndAValidOneReplacesTheJobs()
    {
        start("pool2", List.of());
        ReferencePoolCell pool1 = start("pool1", List.of("migration cache -permanent -id=keep pool2"));
        JobStatus before = pool1.module().job("keep");
        List<String> saved = domain.save("pool1");

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> domain.reload(
                "pool1", List.of("migration cache -permanent -id=other pool2", "migration copy -smode=bogus pool2")));
        assertTrue(e.getMessage().contains("migration copy -smode=bogus pool2: "), e.getMessage());
        assertEquals(saved, domain.save("pool1"), "the setup is unchanged");
        assertEquals(List.of("keep"), ids(pool1));
        assertEquals(before.created(), pool1.module().job("keep").created(), "the job was not re-created");

        domain.reload("pool1", List.of("migration cache -permanent -id=other pool2"));
        assertTrue(ids(pool1).contains("other"), ids(pool1).toString());
        assertTrue(domain.save("pool1").stream().noneMatch(l -> l.contains("-id=keep")), domain.save("pool1").toString());
    }

    private static List<String> ids(ReferencePoolCell cell)
    {
        return cell.module().jobs().stream().filter(j -> !j.state().isTerminal()).map(JobStatus::id)
                .collect(Collectors.toList());
    }

    // ── CellCommandListener ───────────────────────────────────────────────────────────────

    @Test
    void adminCommandsAreDispatchedByName()
    {
        start("pool2", List.of());
        start("pool1", List.of(), replica(1, ReplicaState.CACHED));

        assertTrue(domain.command("pool1", "migration copy pool2").startsWith("[1] "));
        assertTrue(domain.command("pool1", "migration info 1").contains("Command    : migration copy pool2"));
        assertTrue(domain.help("pool1", "migration copy").contains("-smode"));
        MigrationException syntax = assertThrows(MigrationException.class,
                                                 () -> domain.command("pool1", "migration copy -smode=bogus pool2"));
        assertTrue(syntax.getMessage().startsWith("Syntax error: "), syntax.getMessage());
        assertThrows(IllegalArgumentException.class, () -> domain.command("pool1", "migration bogus"));
        MigrationException unknown = assertThrows(MigrationException.class,
                                                  () -> domain.command("pool1", "migration info 99"));
        assertEquals(MigrationException.NOT_FOUND, unknown.code());
    }

    // ── CellMessageReceiver ───────────────────────────────────────────────────────────────

    @Test
    void aMoveBetweenCellsTravelsAsTypedCellMessages()
    {
        ReferencePoolCell pool2 = start("pool2", List.of());
        ReferencePoolCell pool1 = start("pool1", List.of(), replica(1, ReplicaState.PRECIOUS),
                                        replica(2, ReplicaState.CACHED), replica(3, ReplicaState.PRECIOUS));

        domain.command("pool1", "migration move -concurrency=2 pool2");
        JobStatus job = awaitState(pool1, "1", JobState.FINISHED);

        assertEquals(3, job.completedFiles());
        assertEquals(0, cluster.pool("pool1").repository.size());
        assertEquals(3, cluster.pool("pool2").repository.size());
        assertTrue(domain.carried.stream().allMatch(m -> m instanceof MigrationMessage), domain.carried.toString());
        assertEquals(3, domain.carried.stream().filter(m -> m instanceof CopyReplicaMessage).count());
        assertEquals(3, domain.carried.stream().filter(m -> m instanceof CopyFinishedMessage).count());
        assertEquals(List.of(), pool2.module().jobs(), "the target serves without a job");
    }

    @Test
    void aJobCancelFromTheRebalancerIsAnsweredOnceTheJobEnded() throws Exception
    {
        start("pool2", List.of());
        cluster.pool("pool2").slowP2p = true;
        ReferencePoolCell pool1 = start("pool1", List.of(), replica(1, ReplicaState.CACHED));
        domain.command("pool1", "migration copy pool2");
        await("a transfer", Duration.ofSeconds(10), () -> cluster.pool("pool2").heldTransfers.size() == 1);

        Object reply = answer(domain.send("Rebalancer@dCacheDomain", "pool1", new JobCancelMessage("1", true, "rebalance")));

        assertEquals(MessageReply.OK, reply);
        assertEquals(JobState.CANCELLED, pool1.module().job("1").state());
        assertEquals(0, cluster.pool("pool2").repository.size());
    }

    @Test
    void aCopyRequestFromQosIsReportedBackToQos() throws Exception
    {
        List<Object> qos = new CopyOnWriteArrayList<>();
        domain.mailboxes.put("qos-engine", qos);
        start("pool1", List.of(), replica(1, ReplicaState.PRECIOUS));
        start("pool2", List.of());
        ReplicaEntry source = cluster.pool("pool1").repository.getEntry(id(1));
        UUID uuid = UUID.randomUUID();

        Object reply = answer(domain.send("qos-engine@qosDomain", "pool2",
                                          new CopyReplicaMessage(uuid, "pool1", source.attributes(), ReplicaState.CACHED,
                                                                 List.of(), false, false, null, false)));

        assertEquals(MessageReply.OK, reply);
        await("the copy-finished message", Duration.ofSeconds(10), () -> !qos.isEmpty());
        assertEquals(List.of(new CopyFinishedMessage(uuid, "pool1", id(1), 0, null)), qos);
        assertNotNull(cluster.pool("pool2").repository.getEntry(id(1)));
    }

    // ── The pool's mode and a repository still loading ────────────────────────────────────

    @Test
    void aPoolModeDisabledForP2pRefusesCopiesUntilItIsEnabled()
    {
        start("pool2", List.of());
        ReferencePoolCell pool1 = start("pool1", List.of(), replica(1, ReplicaState.CACHED));
        modes.get("pool2").setMode(PoolV2Mode.DISABLED_RDONLY);

        domain.command("pool1", "migration copy -refresh=1 pool2");
        await("the refusal", Duration.ofSeconds(10), () -> pool1.module().job("1").notes().stream()
                .anyMatch(n -> n.text().contains("Pool is disabled")));
        assertEquals(0, cluster.pool("pool2").repository.size());

        modes.get("pool2").setMode(PoolV2Mode.ENABLED);
        awaitState(pool1, "1", JobState.FINISHED);
        assertEquals(1, cluster.pool("pool2").repository.size());
    }

    @Test
    void aRepositoryStillLoadingAtStartMakesJobsWaitUntilItIsLoaded()
    {
        start("pool2", List.of());
        ReferencePoolCell pool1 = create("pool1");
        MemoryRepository repository = cluster.pool("pool1").repository;
        repository.loading = true;
        repository.loadingAsDCache = true; // a plain IllegalStateException: the adapter translates it
        domain.start("pool1", pool1, List.of("migration copy -permanent -id=keep pool2"));

        await("the job to wait", Duration.ofSeconds(10), () -> pool1.module().job("keep").notes().stream()
                .anyMatch(n -> n.text().equals("Repository is still loading; waiting for it")));
        for (int n = 1; n <= 3; n++) {
            repository.insert(replica(n, ReplicaState.CACHED)); // loaded, and reported as events
        }
        assertEquals(JobState.INITIALIZING, pool1.module().job("keep").state());

        repository.loading = false;
        pool1.repositoryLoaded();
        await("the replicas on pool2", Duration.ofSeconds(5), () -> cluster.pool("pool2").repository.size() == 3);
        assertFalse(pool1.module().job("keep").state().isTerminal(), "a permanent job keeps running");
    }

    // ── CellInfoProvider, PoolDataBeanProvider and FileRequestMonitor ─────────────────────

    @Test
    void infoAndTheDataObjectComeFromTheTypedStatus()
    {
        cluster.groups.put("cache_pools", List.of("pool2", "pool3"));
        start("pool2", List.of());
        start("pool3", List.of());
        ReferencePoolCell pool1 = start("pool1", List.of("migration cache -permanent -id=hot -target=pgroup cache_pools"),
                                        replica(1, ReplicaState.CACHED));
        domain.command("pool1", "migration copy -id=once pool2");
        awaitState(pool1, "once", JobState.FINISHED);
        await("the group's pools", Duration.ofSeconds(10), () -> pool1.module().job("hot").targets().size() == 2);

        MigrationData data = pool1.getDataObject();
        assertEquals("Migration", data.label);
        assertEquals(withoutPace(pool1.module().jobs()), withoutPace(data.jobs)); // the rate moves with time
        List<String> ls = List.of(domain.command("pool1", "migration ls").split("\n"));
        assertEquals(sorted(ls), sorted(data.jobInfo));
        JobStatus hot = data.jobs.stream().filter(j -> j.id().equals("hot")).findFirst().orElseThrow();
        assertEquals(List.of("pool2", "pool3"), sorted(hot.targets()), "pool names, no comma splitting");
        String info = domain.info("pool1");
        assertTrue(info.startsWith("Migration jobs: 2\n"), info);
        for (String line : data.jobInfo) {
            assertTrue(info.contains(line), line + " in " + info);
        }
    }

    @Test
    void aHotFileReportedByTheFileRequestMonitorIsReplicated()
    {
        start("pool2", List.of());
        ReferencePoolCell pool1 = start("pool1", List.of(), replica(1, ReplicaState.PRECIOUS));

        pool1.reportFileRequest(id(1), 10, new ProtocolInfo("DCap", 3, 0, "10.0.0.1")); // below the threshold
        assertEquals(List.of(), pool1.module().jobs());
        pool1.reportFileRequest(id(1), 60, new ProtocolInfo("DCap", 3, 0, "10.0.0.1"));

        awaitState(pool1, "hotfile-" + id(1), JobState.FINISHED);
        assertEquals(ReplicaState.CACHED, cluster.pool("pool2").repository.getEntry(id(1)).state());
        PoolSelection readers = cluster.selections.stream().filter(s -> s.kind() == PoolSelection.Kind.READERS)
                .findFirst().orElseThrow();
        assertEquals("DCap/3", readers.protocol());
        assertEquals("10.0.0.1", readers.net());
    }
}
