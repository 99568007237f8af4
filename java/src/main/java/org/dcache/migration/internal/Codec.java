package org.dcache.migration.internal;

import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.UUID;

import org.dcache.migration.AccessLatency;
import org.dcache.migration.CommandArgument;
import org.dcache.migration.CommandOption;
import org.dcache.migration.Checksum;
import org.dcache.migration.FileAttributes;
import org.dcache.migration.JobState;
import org.dcache.migration.JobStatus;
import org.dcache.migration.P2pRequest;
import org.dcache.migration.PinMove;
import org.dcache.migration.PnfsId;
import org.dcache.migration.PoolCostInfo;
import org.dcache.migration.PoolInfo;
import org.dcache.migration.PoolSelection;
import org.dcache.migration.ReplicaEntry;
import org.dcache.migration.ReplicaState;
import org.dcache.migration.RepositoryEvent;
import org.dcache.migration.RetentionPolicy;
import org.dcache.migration.StickyRecord;
import org.dcache.migration.messages.CancelMessage;
import org.dcache.migration.messages.CopyFinishedMessage;
import org.dcache.migration.messages.CopyReplicaMessage;
import org.dcache.migration.messages.JobCancelMessage;
import org.dcache.migration.messages.MessageReply;
import org.dcache.migration.messages.MigrationMessage;
import org.dcache.migration.messages.PingMessage;
import org.dcache.migration.messages.RequestMessage;

/**
 * The byte format of values crossing to the native library, mirrored by {@code codec.rs}:
 * big-endian primitives ({@link CodecOutput}, {@link CodecInput}); strings as an int length and UTF-8 bytes
 * ({@code -1} for null); lists as an int count and the items; enums as their ordinals.
 * Internal: public only for the facade.
 */
public final class Codec
{
    private Codec()
    {
    }

    /** Builds one encoded value. */
    interface Encoder
    {
        void write(CodecOutput out) throws IOException;
    }

    /** Reads one encoded value. */
    interface Decoder<T>
    {
        T read(CodecInput in) throws IOException;
    }

    static byte[] encode(Encoder encoder)
    {
        CodecOutput out = new CodecOutput();
        try {
            encoder.write(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    static <T> T decode(byte[] bytes, Decoder<T> decoder)
    {
        try {
            CodecInput in = new CodecInput(bytes);
            T value = decoder.read(in);
            if (in.available() != 0) {
                throw new IllegalArgumentException("trailing bytes in a value from the native library");
            }
            return value;
        } catch (IOException e) {
            throw new IllegalArgumentException("malformed value from the native library", e);
        }
    }

    static void writeString(CodecOutput out, String s) throws IOException
    {
        if (s == null) {
            out.writeInt(-1);
        } else {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            out.writeInt(b.length);
            out.write(b);
        }
    }

    /**
     * A name another pool acts on (a pool, a job id), which must arrive as written: an unpaired
     * surrogate, which {@link String#getBytes} would turn into {@code ?}, makes two names one
     * (job {@code a\uD800} and job {@code a?}), so it is refused. Free texts (a reason, an error)
     * go through {@link #writeString}, where a {@code ?} harms nothing.
     */
    private static void writeName(CodecOutput out, String s, String what) throws IOException
    {
        if (s != null) {
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i++;
                } else if (Character.isSurrogate(c)) {
                    throw new IllegalArgumentException(what + " holds an unpaired surrogate at index " + i);
                }
            }
        }
        writeString(out, s);
    }

    static String readString(CodecInput in) throws IOException
    {
        int n = in.readInt();
        if (n == -1) {
            return null;
        }
        if (n < 0 || n > in.available()) {
            throw new EOFException("a string of " + n + " bytes in a value from the native library");
        }
        byte[] b = new byte[n];
        in.readFully(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    static void writeStrings(CodecOutput out, Collection<String> strings) throws IOException
    {
        out.writeInt(strings.size());
        for (String s : strings) {
            writeString(out, s);
        }
    }

    static List<String> readStrings(CodecInput in) throws IOException
    {
        int n = in.readInt();
        List<String> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            list.add(readString(in));
        }
        return list;
    }

    private static void writeSticky(CodecOutput out, List<StickyRecord> records) throws IOException
    {
        out.writeInt(records.size());
        for (StickyRecord r : records) {
            writeString(out, r.owner());
            out.writeLong(r.expire());
        }
    }

    /** As {@link #writeSticky}, for a message another pool acts on: owners are names there. */
    private static void writeStickyNames(CodecOutput out, List<StickyRecord> records) throws IOException
    {
        out.writeInt(records.size());
        for (StickyRecord r : records) {
            writeName(out, r.owner(), "a sticky record's owner");
            out.writeLong(r.expire());
        }
    }

    private static List<StickyRecord> readSticky(CodecInput in) throws IOException
    {
        int n = in.readInt();
        List<StickyRecord> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            list.add(new StickyRecord(readString(in), in.readLong()));
        }
        return list;
    }

    private static ReplicaState readState(CodecInput in) throws IOException
    {
        return ReplicaState.values()[in.readInt()];
    }

    static void writeAttributes(CodecOutput out, FileAttributes a) throws IOException
    {
        writeString(out, a.pnfsId().toString());
        out.writeLong(a.size());
        writeString(out, a.storageClass());
        writeString(out, a.cacheClass());
        out.writeInt(a.accessLatency() == null ? -1 : a.accessLatency().ordinal());
        out.writeInt(a.retentionPolicy() == null ? -1 : a.retentionPolicy().ordinal());
        out.writeInt(a.checksums().size());
        for (Checksum c : a.checksums()) {
            writeString(out, c.type());
            writeString(out, c.value());
        }
    }

    static FileAttributes readAttributes(CodecInput in) throws IOException
    {
        PnfsId id = new PnfsId(readString(in));
        long size = in.readLong();
        String storageClass = readString(in);
        String cacheClass = readString(in);
        int al = in.readInt();
        int rp = in.readInt();
        int n = in.readInt();
        List<Checksum> checksums = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            checksums.add(new Checksum(readString(in), readString(in)));
        }
        return new FileAttributes(id, size, storageClass, cacheClass, al < 0 ? null : AccessLatency.values()[al],
                                  rp < 0 ? null : RetentionPolicy.values()[rp], checksums);
    }

    static void writeEntry(CodecOutput out, ReplicaEntry e) throws IOException
    {
        writeAttributes(out, e.attributes());
        out.writeInt(e.state().ordinal());
        writeSticky(out, e.stickyRecords());
        out.writeLong(e.lastAccessTime());
    }

    static byte[] encodeEntry(ReplicaEntry e)
    {
        return encode(out -> writeEntry(out, e));
    }

    /** Whether a pool accepts copies, then (if it does) whether it has an entry and the entry. */
    static byte[] encodeInspection(boolean accepts, ReplicaEntry entry)
    {
        return encode(out -> {
            out.writeBoolean(accepts);
            out.writeBoolean(entry != null);
            if (entry != null) {
                writeEntry(out, entry);
            }
        });
    }

    static byte[] encodeEntries(List<ReplicaEntry> entries)
    {
        return encode(out -> {
            out.writeInt(entries.size());
            for (ReplicaEntry e : entries) {
                writeEntry(out, e);
            }
        });
    }

    public static byte[] encodeEvent(RepositoryEvent event)
    {
        return encode(out -> {
            out.writeInt(event.kind().ordinal());
            if (event.kind() == RepositoryEvent.Kind.STATE) {
                out.writeInt(event.oldState().ordinal());
                out.writeInt(event.newState().ordinal());
            } else {
                writeEntry(out, event.oldEntry());
            }
            writeEntry(out, event.newEntry());
        });
    }

    static byte[] encodeStrings(List<String> strings)
    {
        return encode(out -> writeStrings(out, strings));
    }

    private static void writeQueue(CodecOutput out, PoolCostInfo.QueueInfo q) throws IOException
    {
        out.writeInt(q.active);
        out.writeInt(q.maxActive);
        out.writeInt(q.queued);
        out.writeInt(q.readers);
        out.writeInt(q.writers);
    }

    private static void writeOptionalQueue(CodecOutput out, PoolCostInfo.QueueInfo q) throws IOException
    {
        out.writeBoolean(q != null);
        writeQueue(out, q == null ? new PoolCostInfo.QueueInfo(0, 0, 0, 0, 0) : q);
    }

    static byte[] encodePools(List<PoolInfo> pools)
    {
        return encode(out -> {
            out.writeInt(pools.size());
            for (PoolInfo p : pools) {
                out.writeBoolean(p.isOnline());
                writeString(out, p.name());
                if (!p.isOnline()) {
                    continue;
                }
                PoolCostInfo c = p.costInfo();
                PoolCostInfo.SpaceInfo s = c.space();
                out.writeLong(s.total);
                out.writeLong(s.free);
                out.writeLong(s.precious);
                out.writeLong(s.removable);
                out.writeLong(s.gap);
                out.writeDouble(s.breakEven);
                out.writeLong(s.lru);
                writeOptionalQueue(out, c.store());
                writeOptionalQueue(out, c.restore());
                writeOptionalQueue(out, c.p2pServer());
                writeOptionalQueue(out, c.p2pClient());
                out.writeInt(c.movers().size());
                for (Map.Entry<String, PoolCostInfo.QueueInfo> m : c.movers().entrySet()) {
                    writeString(out, m.getKey());
                    writeQueue(out, m.getValue());
                }
                out.writeDouble(c.moverCostFactor());
                out.writeInt(c.tags().size());
                for (Map.Entry<String, String> t : c.tags().entrySet()) {
                    writeString(out, t.getKey());
                    writeString(out, t.getValue());
                }
            }
        });
    }

    static PoolSelection decodeSelection(byte[] bytes)
    {
        return decode(bytes, in -> {
            PoolSelection.Kind kind = PoolSelection.Kind.values()[in.readInt()];
            List<String> names = readStrings(in);
            if (kind != PoolSelection.Kind.READERS) {
                return new PoolSelection(kind, names, null, null, null);
            }
            FileAttributes file = readAttributes(in);
            String protocol = readString(in);
            String net = readString(in);
            return new PoolSelection(kind, names, file, protocol, net);
        });
    }

    static P2pRequest decodeP2p(byte[] bytes)
    {
        return decode(bytes, in -> {
            UUID id = new UUID(in.readLong(), in.readLong());
            String source = readString(in);
            FileAttributes file = readAttributes(in);
            ReplicaState state = readState(in);
            List<StickyRecord> sticky = readSticky(in);
            boolean hasAtime = in.readBoolean();
            long atime = in.readLong();
            boolean force = in.readBoolean();
            return new P2pRequest(id, source, file, state, sticky, hasAtime ? OptionalLong.of(atime) : OptionalLong.empty(),
                                  force);
        });
    }

    static List<StickyRecord> decodeSticky(byte[] bytes)
    {
        return decode(bytes, Codec::readSticky);
    }

    static PinMove decodePinMove(byte[] bytes)
    {
        return decode(bytes, in -> new PinMove(new PnfsId(readString(in)), readSticky(in), readString(in), readString(in)));
    }

    /** The failed lines of a reload, as {@code <line>: <message>}. */
    public static List<String> decodeReloadErrors(byte[] bytes)
    {
        return decode(bytes, in -> {
            int n = in.readInt();
            List<String> errors = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                String line = readString(in);
                in.readInt(); // the error code
                errors.add(line + ": " + readString(in));
            }
            return errors;
        });
    }

    /** The module's configuration, in the order of {@code Reader::config}. */
    public static byte[] encodeConfig(long poolTimeout, long pnfsTimeout, long poolManagerTimeout, long pinManagerTimeout,
                               String pinManager, int concurrency, long refresh, int hotfileReplicas,
                               long hotfileThreshold)
    {
        return encode(out -> {
            out.writeLong(poolTimeout);
            out.writeLong(pnfsTimeout);
            out.writeLong(poolManagerTimeout);
            out.writeLong(pinManagerTimeout);
            writeString(out, pinManager);
            out.writeInt(concurrency);
            out.writeLong(refresh);
            out.writeInt(hotfileReplicas);
            out.writeLong(hotfileThreshold);
        });
    }

    // ---- Messages between pools (Writer::message / Reader::message in codec.rs) ----------

    private static final int COPY = 0;
    private static final int PING = 1;
    private static final int CANCEL = 2;
    private static final int COPY_FINISHED = 3;
    private static final int JOB_CANCEL = 4;

    private static void writeUuid(CodecOutput out, UUID uuid) throws IOException
    {
        out.writeLong(uuid.getMostSignificantBits());
        out.writeLong(uuid.getLeastSignificantBits());
    }

    private static void writeRequest(CodecOutput out, int kind, RequestMessage m) throws IOException
    {
        out.writeInt(kind);
        writeUuid(out, m.getUUID());
        writeName(out, m.getPool(), "the pool name");
        if (kind != COPY) {
            writeString(out, m.getPnfsId().toString());
        }
    }

    /** A typed message in the layout {@code Reader::message} reads. */
    public static byte[] encodeMessage(MigrationMessage message)
    {
        return encode(out -> {
            if (message instanceof CopyReplicaMessage) {
                CopyReplicaMessage m = (CopyReplicaMessage) message;
                writeRequest(out, COPY, m);
                writeAttributes(out, m.getFileAttributes());
                out.writeInt(m.getState().ordinal());
                writeStickyNames(out, m.getStickyRecords());
                out.writeBoolean(m.getComputeChecksumOnUpdate());
                out.writeBoolean(m.isForceSourceMode());
                out.writeBoolean(m.getAtime() != null);
                out.writeLong(m.getAtime() == null ? 0 : m.getAtime());
                out.writeBoolean(m.isMetaOnly());
            } else if (message instanceof PingMessage) {
                writeRequest(out, PING, (PingMessage) message);
            } else if (message instanceof CancelMessage) {
                writeRequest(out, CANCEL, (CancelMessage) message);
                writeString(out, ((CancelMessage) message).getReason());
            } else if (message instanceof CopyFinishedMessage) {
                CopyFinishedMessage m = (CopyFinishedMessage) message;
                writeRequest(out, COPY_FINISHED, m);
                out.writeInt(m.getReturnCode());
                writeString(out, m.getErrorMessage());
            } else if (message instanceof JobCancelMessage) {
                JobCancelMessage m = (JobCancelMessage) message;
                out.writeInt(JOB_CANCEL);
                writeName(out, m.getJobId(), "the job id");
                out.writeBoolean(m.isForced());
                writeString(out, m.getReason());
            } else {
                throw new IllegalArgumentException("not a message of org.dcache.migration.messages: "
                                                   + message.getClass().getName());
            }
        });
    }

    /** A typed message from the layout {@code Writer::message} writes. */
    public static MigrationMessage decodeMessage(byte[] bytes)
    {
        return decode(bytes, in -> {
            int kind = in.readInt();
            if (kind == JOB_CANCEL) {
                return new JobCancelMessage(readString(in), in.readBoolean(), readString(in));
            }
            UUID uuid = new UUID(in.readLong(), in.readLong());
            String pool = readString(in);
            switch (kind) {
            case COPY: {
                FileAttributes file = readAttributes(in);
                ReplicaState state = readState(in);
                List<StickyRecord> sticky = readSticky(in);
                boolean verify = in.readBoolean();
                boolean force = in.readBoolean();
                boolean hasAtime = in.readBoolean();
                long atime = in.readLong();
                boolean metaOnly = in.readBoolean();
                return new CopyReplicaMessage(uuid, pool, file, state, sticky, verify, force,
                                              hasAtime ? Long.valueOf(atime) : null, metaOnly);
            }
            case PING:
                return new PingMessage(uuid, pool, new PnfsId(readString(in)));
            case CANCEL:
                return new CancelMessage(uuid, pool, new PnfsId(readString(in)), readString(in));
            case COPY_FINISHED:
                return new CopyFinishedMessage(uuid, pool, new PnfsId(readString(in)), in.readInt(), readString(in));
            default:
                throw new IOException("bad message kind " + kind);
            }
        });
    }

    /** A reply in the layout {@code Reader::reply} reads. */
    public static byte[] encodeReply(MessageReply reply)
    {
        return encode(out -> {
            out.writeInt(reply.getReturnCode());
            writeString(out, reply.getErrorMessage());
        });
    }

    /** A reply from the layout {@code Writer::reply} writes. */
    public static MessageReply decodeReply(byte[] bytes)
    {
        return decode(bytes, in -> new MessageReply(in.readInt(), readString(in)));
    }

    // ---- Job status (Writer::job_status in codec.rs) -------------------------------------

    private static JobStatus readJobStatus(CodecInput in) throws IOException
    {
        String id = readString(in);
        JobState state = JobState.values()[in.readInt()];
        String command = readString(in);
        String summary = readString(in);
        boolean permanent = in.readBoolean();
        int concurrency = in.readInt();
        long queued = in.readLong();
        long attempts = in.readLong();
        long completed = in.readLong();
        long transferred = in.readLong();
        long total = in.readLong();
        long failures = in.readLong();
        boolean hasPercent = in.readBoolean();
        long percent = in.readLong();
        List<String> targets = readStrings(in);
        String targetsDescription = readString(in);
        int n = in.readInt();
        List<JobStatus.RunningTask> tasks = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            tasks.add(new JobStatus.RunningTask(in.readLong(), new PnfsId(readString(in)), readString(in),
                                                readString(in)));
        }
        n = in.readInt();
        List<JobStatus.Note> notes = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            long time = in.readLong();
            long task = in.readLong();
            String file = readString(in);
            notes.add(new JobStatus.Note(time, task, file == null ? null : new PnfsId(file), readString(in)));
        }
        long created = in.readLong();
        OptionalLong started = readOptionalLong(in);
        boolean hasRate = in.readBoolean();
        double filesPerSecond = in.readDouble();
        double bytesPerSecond = in.readDouble();
        OptionalLong eta = readOptionalLong(in);
        n = in.readInt();
        List<JobStatus.Quarantined> quarantined = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            quarantined.add(new JobStatus.Quarantined(new PnfsId(readString(in)), in.readLong(), in.readInt(),
                                                      in.readInt(), readString(in)));
        }
        return new JobStatus(id, state, command, summary, permanent, concurrency, queued, attempts, failures,
                             completed, transferred, total,
                             hasPercent ? OptionalInt.of((int) percent) : OptionalInt.empty(), targets,
                             targetsDescription, tasks, notes, created, started,
                             hasRate ? OptionalDouble.of(filesPerSecond) : OptionalDouble.empty(),
                             hasRate ? OptionalDouble.of(bytesPerSecond) : OptionalDouble.empty(), eta, quarantined);
    }

    /** A presence flag, then a long (0 when absent): {@code Writer::opt_i64}. */
    private static OptionalLong readOptionalLong(CodecInput in) throws IOException
    {
        boolean present = in.readBoolean();
        long value = in.readLong();
        return present ? OptionalLong.of(value) : OptionalLong.empty();
    }

    /** One job's status. */
    public static JobStatus decodeJob(byte[] bytes)
    {
        return decode(bytes, Codec::readJobStatus);
    }

    /** Every job's status: a count, then the jobs. */
    public static List<JobStatus> decodeJobs(byte[] bytes)
    {
        return decode(bytes, in -> {
            int n = in.readInt();
            List<JobStatus> jobs = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                jobs.add(readJobStatus(in));
            }
            return List.copyOf(jobs);
        });
    }

    // ---- Command schemas (Writer::command_spec in codec.rs) ------------------------------

    /** A command's schema: its name, one-line summary, options and positional arguments. */
    public static final class CommandSchema
    {
        public final String name;
        public final String summary;
        public final List<CommandOption> options;
        public final List<CommandArgument> arguments;

        CommandSchema(String name, String summary, List<CommandOption> options, List<CommandArgument> arguments)
        {
            this.name = name;
            this.summary = summary;
            this.options = List.copyOf(options);
            this.arguments = List.copyOf(arguments);
        }
    }

    /** A command's schema from the layout {@code Writer::command_spec} writes. */
    public static CommandSchema decodeCommandSpec(byte[] bytes)
    {
        return decode(bytes, in -> {
            String name = readString(in);
            String summary = readString(in);
            int n = in.readInt();
            List<CommandOption> options = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                String option = readString(in);
                int kind = in.readInt();
                CommandOption.Type[] types = CommandOption.Type.values();
                if (kind < 0 || kind >= types.length) {
                    throw new IOException("bad option type " + kind);
                }
                List<String> values = readStrings(in);
                String category = readString(in);
                String valueSyntax = readString(in);
                String metaVar = readString(in);
                String help = readString(in);
                options.add(new CommandOption(option, types[kind], values, category, valueSyntax, metaVar, help));
            }
            List<String> names = readStrings(in);
            int required = in.readInt();
            boolean variadic = in.readBoolean();
            List<CommandArgument> arguments = new ArrayList<>(names.size());
            for (int i = 0; i < names.size(); i++) {
                arguments.add(new CommandArgument(i, names.get(i), i < required,
                                                  variadic && i == names.size() - 1));
            }
            return new CommandSchema(name, summary, options, arguments);
        });
    }

    /** A description of a throwable: kind (0 other, 1 service, 2 repository), code, text. */
    static byte[] describe(int kind, int code, String text)
    {
        return encode(out -> {
            out.writeInt(kind);
            out.writeInt(code);
            writeString(out, text == null ? "" : text);
        });
    }
}
