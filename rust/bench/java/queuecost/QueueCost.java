import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * The memory of dCache's migration job queue per replica: dCache's Job keeps its queue as a
 * {@code LinkedHashSet<PnfsId>} and the sizes as a {@code HashMap<PnfsId, Long>}; a PnfsId
 * holds its decoded bytes. This program builds the same structures for N files and prints the
 * heap growth (after full collections) divided by N, one line per count given.
 *
 * Usage: java -XX:+UseSerialGC -Xmx3g QueueCost 1000000 10000000
 */
public final class QueueCost
{
    /** dCache's diskCacheV111.util.PnfsId, reduced to what it stores: the id's bytes. */
    static final class PnfsId
    {
        private final byte[] _a;

        PnfsId(byte[] a)
        {
            _a = a;
        }

        @Override
        public boolean equals(Object o)
        {
            return o instanceof PnfsId && Arrays.equals(_a, ((PnfsId) o)._a);
        }

        @Override
        public int hashCode()
        {
            return Arrays.hashCode(_a);
        }
    }

    static Set<PnfsId> queue;
    static Map<PnfsId, Long> sizes;

    static long used()
    {
        Runtime r = Runtime.getRuntime();
        for (int i = 0; i < 4; i++) {
            System.gc();
        }
        return r.totalMemory() - r.freeMemory();
    }

    public static void main(String[] args)
    {
        for (String arg : args) {
            int n = Integer.parseInt(arg);
            queue = null;
            sizes = null;
            long before = used();
            queue = new LinkedHashSet<>();
            sizes = new HashMap<>();
            for (int i = 0; i < n; i++) {
                byte[] a = new byte[12];
                long x = (i * 0x9E3779B97F4A7C15L);
                x ^= x >>> 32;
                a[0] = 0; a[1] = 0; a[2] = (byte) 0xB1; a[3] = 0x0C;
                for (int k = 0; k < 8; k++) {
                    a[4 + k] = (byte) (x >>> (56 - 8 * k));
                }
                PnfsId id = new PnfsId(a);
                queue.add(id);
                sizes.put(id, 1000L + (x & 0xFFFFF));
            }
            long after = used();
            System.out.println(n + " " + ((double) (after - before) / n));
        }
    }
}
