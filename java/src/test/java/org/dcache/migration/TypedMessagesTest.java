package org.dcache.migration;

import static org.dcache.migration.TestCluster.await;
import static org.dcache.migration.TestCluster.awaitJob;
import static org.dcache.migration.TestCluster.id;
import static org.dcache.migration.TestCluster.replica;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import org.dcache.migration.TestCluster.Cell;
import org.dcache.migration.messages.CancelMessage;
import org.dcache.migration.messages.CopyFinishedMessage;
import org.dcache.migration.messages.CopyReplicaMessage;
import org.dcache.migration.messages.JobCancelMessage;
import org.dcache.migration.messages.MessageReply;
import org.dcache.migration.messages.MigrationMessage;
import org.dcache.migration.messages.MigrationMessages;
import org.dcache.migration.messages.PingMessage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The module's messages as typed classes mirroring dCache's: every kind survives encoding, the
 * module's own traffic can be carried as typed messages only, and services that are not pools
 * (QoS, the Rebalancer) can talk to it.
 */
class TypedMessagesTest
{
    private static final UUID UUID_1 = new UUID(0x0123456789abcdefL, 0xfedcba9876543210L);
    private static final StickyRecord QOS = new StickyRecord("qos", StickyRecord.NEVER_EXPIRES);

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

    private static MigrationMessage roundTrip(MigrationMessage m)
    {
        return MigrationMessages.decode(MigrationMessages.encode(m));
    }

    /** A completion that records the reply and, at that moment, the job's state. */
    private static final class Recorded implements Completion<MessageReply>
    {
        final AtomicReference<Object> answer = new AtomicReference<>();
        final AtomicReference<JobState> stateAtReply = new AtomicReference<>();
        private final MigrationModule module;
        private final String job;

        Recorded(MigrationModule module, String job)
        {
            this.module = module;
            this.job = job;
        }

        @Override
        public void complete(MessageReply value)
        {
            if (job != null) {
                stateAtReply.set(module.job(job).state());
            }
            answer.set(value);
        }

        @Override
        public void fail(int returnCode, String message)
        {
            answer.set("failed " + returnCode + " " + message);
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

        Object await()
        {
            TestCluster.await("a reply", Duration.ofSeconds(10), () -> answer.get() != null);
            return answer.get();
        }
    }

    // ── Encoding ─────────────────────────────────────────────────────────────────────────

    @Test
    void aCopyReplicaMessageKeepsEveryField()
    {
        FileAttributes file = replica(7, ReplicaState.PRECIOUS).attributes();
        CopyReplicaMessage full = new CopyReplicaMessage(UUID_1, "pool1", file, ReplicaState.PRECIOUS,
                                                         List.of(QOS, new StickyRecord("foo", 1234)), true, true,
                                                         1_600_000_000_007L, true);
        CopyReplicaMessage bare = new CopyReplicaMessage(UUID_1, "pool1", new FileAttributes(id(8), 0),
                                                         ReplicaState.CACHED, List.of(), false, false, null, false);

        for (CopyReplicaMessage m : List.of(full, bare)) {
            MigrationMessage decoded = roundTrip(m);
            assertEquals(m, decoded);
            assertEquals(m.hashCode(), decoded.hashCode());
        }
        CopyReplicaMessage decoded = (CopyReplicaMessage) roundTrip(full);
        assertEquals(UUID_1, decoded.getUUID(), "all 128 bits of the UUID");
        assertEquals(id(7), decoded.getPnfsId());
        assertEquals("atlas:default@osm", decoded.getFileAttributes().storageClass());
        assertEquals(List.of(new Checksum("ADLER32", "00000007")), decoded.getFileAttributes().checksums());
        assertEquals(Long.valueOf(1_600_000_000_007L), decoded.getAtime());
        assertTrue(decoded.getComputeChecksumOnUpdate() && decoded.isForceSourceMode() && decoded.isMetaOnly());
        assertNull(((CopyReplicaMessage) roundTrip(bare)).getAtime(), "no access time stays null, not 0");
        assertNotEquals(full, bare);
    }

    @Test
    void pingCancelCopyFinishedAndJobCancelSurviveEncoding()
    {
        List<MigrationMessage> messages = List.of(
                new PingMessage(UUID_1, "pool1", id(1)),
                new CancelMessage(UUID_1, "pool1", id(1), "job cancelled"),
                new CancelMessage(UUID_1, "pool1", id(1), null),
                new CopyFinishedMessage(UUID_1, "pool1", id(1), 0, null),
                new CopyFinishedMessage(UUID_1, "pool1", id(1), 10004, "Checksum mismatch"),
                new JobCancelMessage("hot", true, "pool is being drained"),
                new JobCancelMessage("7", false, ""));
        for (MigrationMessage m : messages) {
            assertEquals(m, roundTrip(m), m.toString());
        }
        // Same request fields, different kinds: not equal.
        assertNotEquals(new PingMessage(UUID_1, "pool1", id(1)), new CancelMessage(UUID_1, "pool1", id(1), null));
        assertNotEquals(new CancelMessage(UUID_1, "pool1", id(1), "a"), new CancelMessage(UUID_1, "pool1", id(1), "b"));
    }

    @Test
    void repliesSurviveEncodingAndReturnCodeZeroIsSuccess()
    {
        MessageReply error = new MessageReply(104, "Pool is disabled");
        assertEquals(error, MigrationMessages.decodeReply(MigrationMessages.encodeReply(error)));
        assertEquals(MessageReply.OK, MigrationMessages.decodeReply(MigrationMessages.encodeReply(MessageReply.OK)));
        assertEquals(MessageReply.OK, MigrationMessages.decodeReply(MigrationMessages.encodeReply(new MessageReply(0, "x"))),
                     "dCache's return code 0 is success whatever the text");
        assertTrue(MessageReply.OK.isSuccess());
        assertFalse(error.isSuccess());
    }

    @Test
    void malformedBytesAreRefusedWithInvalidArgument()
    {
        byte[] reply = MigrationMessages.encodeReply(MessageReply.OK);
        byte[] ping = MigrationMessages.encode(new PingMessage(UUID_1, "pool1", id(1)));
        // The codec writes wire version 2 (binary: 0xDC, the version, the body); a version it
        // does not know is refused, as is version 1's JSON with a bogus kind.
        byte[] future = ping.clone();
        future[1] = 3;
        List<byte[]> malformed = List.of(new byte[] { 1, 2, 3 }, new byte[0], reply, future,
                                         "{\"v\":1,\"body\":{\"Bogus\":{}}}".getBytes(StandardCharsets.UTF_8));
        for (byte[] bytes : malformed) {
            MigrationException e = assertThrows(MigrationException.class, () -> MigrationMessages.decode(bytes));
            assertEquals(MigrationException.INVALID_ARGUMENT, e.code(), e.getMessage());
        }
        MigrationException e = assertThrows(MigrationException.class, () -> MigrationMessages.decode(null));
        assertEquals(MigrationException.INVALID_ARGUMENT, e.code());
        e = assertThrows(MigrationException.class, () -> MigrationMessages.decodeReply(ping));
        assertEquals(MigrationException.INVALID_ARGUMENT, e.code());
        e = assertThrows(MigrationException.class, () -> MigrationMessages.decodeReply(new byte[] { '{' }));
        assertEquals(MigrationException.INVALID_ARGUMENT, e.code());
        assertEquals(new PingMessage(UUID_1, "pool1", id(1)), MigrationMessages.decode(ping), "still usable afterwards");
    }

    @Test
    void aFailureWithReturnCodeZeroIsNotEncoded()
    {
        // Its source would count the copy, and a move delete its only good replica.
        MigrationException e = assertThrows(MigrationException.class, () -> MigrationMessages.encode(
                new CopyFinishedMessage(UUID_1, "pool1", id(1), 0, "disk full")));
        assertEquals(MigrationException.INVALID_ARGUMENT, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("disk full"), e.getMessage());
    }

    @Test
    void aNameWithAnUnpairedSurrogateIsRefusedAndAPairKept()
    {
        // String.getBytes would send job "a?" and pool "p?": another job, another pool.
        assertThrows(IllegalArgumentException.class,
                     () -> MigrationMessages.encode(new JobCancelMessage("a\uD800", true, "x")));
        assertThrows(IllegalArgumentException.class,
                     () -> MigrationMessages.encode(new PingMessage(UUID_1, "p\uDC00", id(1))));
        FileAttributes file = replica(7, ReplicaState.CACHED).attributes();
        assertThrows(IllegalArgumentException.class, () -> MigrationMessages.encode(new CopyReplicaMessage(
                UUID_1, "pool1", file, ReplicaState.CACHED, List.of(new StickyRecord("own\uD800", -1)),
                false, false, null, false)));
        JobCancelMessage emoji = new JobCancelMessage("a\uD83D\uDE00", true, "half \uD800 a reason is kept lossily");
        JobCancelMessage decoded = (JobCancelMessage) roundTrip(emoji);
        assertEquals("a\uD83D\uDE00", decoded.getJobId());
        assertEquals("half ? a reason is kept lossily", decoded.getReason());
    }

    @Test
    void wellFormedBytesWithAValueNoTypedMessageTakesAreInvalidArgument()
    {
        // A sticky record expiring at -2 is well formed on the wire (the target refuses it
        // with 10015); StickyRecord refuses it, which decode reports as not a message.
        FileAttributes file = replica(7, ReplicaState.CACHED).attributes();
        byte[] bytes = MigrationMessages.encode(new CopyReplicaMessage(
                UUID_1, "pool1", file, ReplicaState.CACHED, List.of(new StickyRecord("zz-owner", -1)),
                false, false, null, false));
        byte[] owner = "zz-owner".getBytes(StandardCharsets.UTF_8);
        int at = indexOf(bytes, owner) + owner.length;
        assertEquals(1, bytes[at], "expiry -1, zigzag-encoded (docs/wire.md)");
        bytes[at] = 3; // -2
        MigrationException e = assertThrows(MigrationException.class, () -> MigrationMessages.decode(bytes));
        assertEquals(MigrationException.INVALID_ARGUMENT, e.code(), e.getMessage());
    }

    private static int indexOf(byte[] haystack, byte[] needle)
    {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }

    // ── The module's own traffic ──────────────────────────────────────────────────────────

    @Test
    void aMoveBetweenTwoPoolsPassesThroughTypedMessagesOnly()
    {
        StickyRecord foo = new StickyRecord("foo", StickyRecord.NEVER_EXPIRES);
        List<ReplicaEntry> files = new ArrayList<>();
        for (int n = 1; n <= 6; n++) {
            files.add(replica(n, n % 2 == 0 ? ReplicaState.CACHED : ReplicaState.PRECIOUS, foo));
        }
        Cell pool1 = cluster.pool("pool1").with(files.toArray(new ReplicaEntry[0]));
        Cell pool2 = cluster.pool("pool2");
        cluster.typedMessages = true;
        cluster.start();

        pool1.module.execute("migration move -concurrency=2 pool2");
        String info = awaitJob(pool1, "1", "FINISHED");

        assertTrue(info.contains("Completed  : 6 files"), info);
        assertEquals(0, pool1.repository.size());
        List<CopyReplicaMessage> copies = cluster.carried.stream().filter(m -> m instanceof CopyReplicaMessage)
                .map(m -> (CopyReplicaMessage) m).collect(Collectors.toList());
        assertEquals(6, copies.size(), cluster.carried.toString());
        for (ReplicaEntry file : files) {
            CopyReplicaMessage copy = copies.stream().filter(m -> m.getPnfsId().equals(file.pnfsId())).findFirst()
                    .orElseThrow();
            assertEquals("pool1", copy.getPool(), "the source pool");
            assertEquals(file.attributes(), copy.getFileAttributes());
            assertEquals(file.state(), copy.getState());
            assertEquals(file.stickyRecords(), copy.getStickyRecords());
            assertTrue(copy.getComputeChecksumOnUpdate(), "move verifies by default");
            assertEquals(Long.valueOf(file.lastAccessTime()), copy.getAtime(), "move keeps the access time");
            assertFalse(copy.isMetaOnly());
            assertEquals(file.attributes(), pool2.repository.getEntry(file.pnfsId()).attributes());
        }
        Set<UUID> finished = cluster.carried.stream().filter(m -> m instanceof CopyFinishedMessage)
                .map(m -> (CopyFinishedMessage) m).filter(m -> m.getReturnCode() == 0 && m.getPool().equals("pool1"))
                .map(CopyFinishedMessage::getUUID).collect(Collectors.toSet());
        assertEquals(copies.stream().map(CopyReplicaMessage::getUUID).collect(Collectors.toSet()), finished,
                     "each copy request was answered by a copy-finished message");
    }

    @Test
    void aTypedPingForAnUnknownRequestIsAnsweredWithAnError()
    {
        Cell pool1 = cluster.pool("pool1");
        cluster.start();
        Recorded reply = new Recorded(pool1.module, null);

        pool1.module.deliver("pool2", new PingMessage(UUID_1, "pool2", id(1)), reply);

        assertEquals(new MessageReply(10015, "No such request"), reply.await());
    }

    // ── Services that are not pools ───────────────────────────────────────────────────────

    @Test
    void aJobCancelFromTheRebalancerIsAnsweredOnlyOnceTheJobHasEnded()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED), replica(2, ReplicaState.CACHED));
        Cell pool2 = cluster.pool("pool2");
        pool2.slowP2p = true;
        cluster.start();
        pool1.module.execute("migration copy -concurrency=2 pool2");
        await("two transfers", Duration.ofSeconds(10), () -> pool2.heldTransfers.size() == 2);
        Recorded reply = new Recorded(pool1.module, "1");

        pool1.module.deliver("Rebalancer@dCacheDomain", new JobCancelMessage("1", false, "rebalancing"), reply);
        await("the job to be cancelling", Duration.ofSeconds(10),
              () -> pool1.module.job("1").state() == JobState.CANCELLING);
        TestCluster.sleep(200);
        assertNull(reply.answer.get(), "no reply while the job waits for its running tasks");

        pool2.releaseTransfers();
        assertEquals(MessageReply.OK, reply.await());
        assertEquals(JobState.CANCELLED, reply.stateAtReply.get(), "the reply comes after the job ended");
        assertEquals(2, pool2.repository.size(), "the running copies were allowed to finish");
    }

    @Test
    void aForcedJobCancelAbortsTheTransfersBeforeItIsAnswered()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.CACHED), replica(2, ReplicaState.CACHED));
        Cell pool2 = cluster.pool("pool2");
        pool2.slowP2p = true;
        cluster.start();
        pool1.module.execute("migration copy -concurrency=2 pool2");
        await("two transfers", Duration.ofSeconds(10), () -> pool2.heldTransfers.size() == 2);
        Recorded reply = new Recorded(pool1.module, "1");

        pool1.module.deliver("Rebalancer@dCacheDomain", new JobCancelMessage("1", true, "rebalancing"), reply);

        assertEquals(MessageReply.OK, reply.await());
        assertEquals(JobState.CANCELLED, reply.stateAtReply.get());
        assertEquals(0, pool2.repository.size(), "the aborted transfers left nothing");
        assertTrue(pool2.heldTransfers.isEmpty());
    }

    @Test
    void aCopyRequestFromQosIsPulledFromTheSourcePoolAndReportedToQos()
    {
        Cell pool1 = cluster.pool("pool1").with(replica(1, ReplicaState.PRECIOUS));
        Cell pool2 = cluster.pool("pool2");
        List<MigrationMessage> qos = new CopyOnWriteArrayList<>();
        cluster.services.put("qos-engine", qos);
        cluster.typedMessages = true;
        cluster.start();
        UUID uuid = UUID.randomUUID();
        ReplicaEntry source = pool1.repository.getEntry(id(1));
        Recorded reply = new Recorded(pool2.module, null);

        pool2.module.deliver("qos-engine", new CopyReplicaMessage(uuid, "pool1", source.attributes(),
                                                                  ReplicaState.CACHED, List.of(QOS), false, false,
                                                                  null, false), reply);

        assertEquals(MessageReply.OK, reply.await());
        await("the copy-finished message at qos-engine", Duration.ofSeconds(10), () -> !qos.isEmpty());
        assertEquals(List.of(new CopyFinishedMessage(uuid, "pool1", id(1), 0, null)), qos);
        ReplicaEntry copy = pool2.repository.getEntry(id(1));
        assertNotNull(copy, "pulled from pool1");
        assertEquals(ReplicaState.CACHED, copy.state());
        assertEquals(List.of(QOS), copy.stickyRecords());
        assertEquals(ReplicaState.PRECIOUS, pool1.repository.getEntry(id(1)).state(), "the source is untouched");
        assertTrue(cluster.carried.stream().noneMatch(m -> m instanceof CopyFinishedMessage),
                   "nothing went to the source pool: " + cluster.carried);
    }
}
