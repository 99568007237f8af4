import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLongArray;

import org.dcache.migration.CellTransport;
import org.dcache.migration.Completion;
import org.dcache.migration.FileAttributes;
import org.dcache.migration.MigrationException;
import org.dcache.migration.MigrationModule;
import org.dcache.migration.P2pClient;
import org.dcache.migration.P2pRequest;
import org.dcache.migration.PinManager;
import org.dcache.migration.PinMove;
import org.dcache.migration.PnfsId;
import org.dcache.migration.PnfsManager;
import org.dcache.migration.PoolCostInfo;
import org.dcache.migration.PoolInfo;
import org.dcache.migration.PoolManager;
import org.dcache.migration.PoolSelection;
import org.dcache.migration.ReplicaEntry;
import org.dcache.migration.ReplicaState;
import org.dcache.migration.Repository;
import org.dcache.migration.RepositoryEvent;
import org.dcache.migration.StickyRecord;
import org.dcache.migration.internal.Natives;

/**
 * The JNI throughput bench: two pool cells in this JVM, {@code src} with N generated replicas
 * and {@code dst} empty, on the Java facade. Every service answers inside the callback (pool
 * manager, namespace, pin manager, a p2p client that completes at once without data, a
 * transport that delivers straight to the other module). For each concurrency it runs
 * {@code migration move -concurrency=C dst} to FINISHED and prints {@code rate C files/s},
 * after unprinted warm-up runs for the JIT.
 *
 * Usage: java -Ddcache.migration.library=.../libdcache_migration.so JniBench FILES C...
 */
public final class JniBench
{
    static final String PREFIX = "0000B10C";

    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    /** The id of file {@code i}: written by hand, since {@code String.format} parses its
     *  pattern on every call and was a visible part of this "instant" host's time. */
    static PnfsId id(long i)
    {
        char[] digits = new char[24];
        PREFIX.getChars(0, 8, digits, 0);
        for (int d = 23; d >= 8; d--, i >>>= 4) {
            digits[d] = HEX[(int) (i & 0xF)];
        }
        return new PnfsId(new String(digits));
    }

    static long index(PnfsId id)
    {
        String s = id.toString();
        return s.length() == 24 && s.startsWith(PREFIX) ? Long.parseUnsignedLong(s.substring(8), 16) : -1;
    }

    static ReplicaEntry entry(PnfsId id, long i)
    {
        FileAttributes file = new FileAttributes(id, 1000 + (i * 2654435761L) % 1000000).withStorageClass("atlas:raw@osm");
        return new ReplicaEntry(file, ReplicaState.PRECIOUS, List.of(), 1_700_000_000_000L);
    }

    static final class Cell implements Repository, PoolManager, PnfsManager, CellTransport, P2pClient, PinManager
    {
        final String name;
        final long n;
        final AtomicLongArray deleted;
        Cell peer;
        volatile MigrationModule module;

        Cell(String name, long n)
        {
            this.name = name;
            this.n = n;
            this.deleted = new AtomicLongArray((int) (n / 64 + 1));
        }

        boolean isDeleted(long i)
        {
            return (deleted.get((int) (i / 64)) >>> (i % 64) & 1) != 0;
        }

        @Override
        public Iterator<ReplicaEntry> entries()
        {
            return new Iterator<ReplicaEntry>()
            {
                long next = advance(0);

                long advance(long i)
                {
                    while (i < n && isDeleted(i)) {
                        i++;
                    }
                    return i;
                }

                @Override
                public boolean hasNext()
                {
                    return next < n;
                }

                @Override
                public ReplicaEntry next()
                {
                    if (next >= n) {
                        throw new NoSuchElementException();
                    }
                    ReplicaEntry e = entry(id(next), next);
                    next = advance(next + 1);
                    return e;
                }
            };
        }

        @Override
        public ReplicaEntry getEntry(PnfsId id)
        {
            long i = index(id);
            return i >= 0 && i < n && !isDeleted(i) ? entry(id, i) : null;
        }

        @Override
        public boolean removeIfUnchanged(PnfsId id, ReplicaState state, List<StickyRecord> sticky, String reason)
        {
            // Every replica here is precious with no record, and nothing but a removal changes one.
            if (state != ReplicaState.PRECIOUS || !sticky.isEmpty()) {
                return false;
            }
            setState(id, ReplicaState.REMOVED, reason);
            return true;
        }

        @Override
        public boolean setStateIfUnchanged(PnfsId id, ReplicaState seen, ReplicaState state, String reason)
        {
            // Every replica here is precious, and nothing but a removal changes one.
            if (seen != ReplicaState.PRECIOUS) {
                return false;
            }
            setState(id, state, reason);
            return true;
        }

        @Override
        public void setState(PnfsId id, ReplicaState state, String reason)
        {
            long i = index(id);
            if (state != ReplicaState.REMOVED || i < 0 || i >= n || isDeleted(i)) {
                return;
            }
            long bit = 1L << (i % 64);
            deleted.getAndUpdate((int) (i / 64), w -> w | bit);
            ReplicaEntry before = entry(id, i);
            module.repositoryEvent(RepositoryEvent.stateChanged(ReplicaState.PRECIOUS, ReplicaState.REMOVED, before));
        }

        @Override
        public void setSticky(PnfsId id, String owner, long expire, boolean overwrite)
        {
        }

        @Override
        public boolean verifiesChecksums()
        {
            return true;
        }

        @Override
        public void verifyChecksum(PnfsId id)
        {
        }

        @Override
        public boolean acceptsCopies()
        {
            return true;
        }

        @Override
        public void pools(PoolSelection selection, Completion<List<PoolInfo>> done)
        {
            List<PoolInfo> pools = new java.util.ArrayList<>();
            if (selection.kind() == PoolSelection.Kind.NAMES) {
                for (String pool : selection.names()) {
                    pools.add(PoolInfo.online(PoolCostInfo.simple(pool, 1L << 50, 1L << 49, 0)));
                }
            }
            done.complete(pools);
        }

        @Override
        public void groupsOf(String pool, Completion<List<String>> done)
        {
            done.complete(List.of());
        }

        @Override
        public void getCacheLocations(PnfsId id, Completion<List<String>> done)
        {
            done.complete(List.of("src"));
        }

        @Override
        public void send(String pool, byte[] message, Completion<byte[]> reply)
        {
            if (!pool.equals(peer.name)) {
                if (reply != null) {
                    reply.noRoute();
                }
                return;
            }
            peer.module.deliver(name, message, reply);
        }

        @Override
        public void start(P2pRequest request, Completion<Void> done)
        {
            done.complete(null);
        }

        @Override
        public void cancel(UUID id)
        {
        }

        @Override
        public void movePins(PinMove request, Completion<Void> done)
        {
            done.complete(null);
        }

        void start()
        {
            module = MigrationModule.builder(name).repository(this).poolManager(this).pnfsManager(this)
                    .transport(this).p2pClient(this).pinManager(this).seed(7).start();
        }
    }

    static double run(long files, int concurrency) throws InterruptedException
    {
        Cell src = new Cell("src", files);
        Cell dst = new Cell("dst", 0);
        src.peer = dst;
        dst.peer = src;
        src.start();
        dst.start();
        src.module.poolStarted();
        dst.module.poolStarted();
        long t0 = System.nanoTime();
        src.module.execute("migration move -concurrency=" + concurrency + " dst");
        while (true) {
            String info;
            try {
                info = src.module.execute("migration info 1");
            } catch (MigrationException e) {
                if (e.code() != MigrationException.NOT_FOUND) {
                    throw e;
                }
                info = "";
            }
            if (info.contains("State      : FINISHED\n")) {
                break;
            }
            if (info.contains("State      : FAILED\n") || info.contains("State      : CANCELLED\n")) {
                throw new IllegalStateException("the job ended badly:\n" + info);
            }
            Thread.sleep(0, 200_000);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        for (long i = 0; i < files; i++) {
            if (!src.isDeleted(i)) {
                throw new IllegalStateException("file " + i + " was not moved");
            }
        }
        src.module.close();
        dst.module.close();
        return files / seconds;
    }

    public static void main(String[] args) throws Exception
    {
        long files = Long.parseLong(args[0]);
        // Warm-up: the JIT compiles the callbacks (C2 takes a core of this machine for seconds).
        for (int i = 0; i < 3; i++) {
            run(Math.min(files, 50_000), 16);
        }
        for (int a = 1; a < args.length; a++) {
            int concurrency = Integer.parseInt(args[a]);
            long[] before = Natives.crossings();
            double rate = run(files, concurrency);
            long[] after = Natives.crossings();
            System.out.printf("rate %d %.0f%n", concurrency, rate);
            // Per file, from the library into Java and from Java into it (the start, the
            // polling of `migration info` and the close included: a few hundred calls).
            System.out.printf(java.util.Locale.ROOT, "crossings %d %.2f %.2f%n", concurrency,
                              (after[0] - before[0]) / (double) files, (after[1] - before[1]) / (double) files);
            System.out.flush();
        }
    }
}
