package org.dcache.migration;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The cost information of an online pool, as the pool manager reports it (dCache's
 * {@code PoolCostInfo}): space figures, queue figures, the mover cost factor and the pool's
 * tags (e.g. {@code hostname}). Immutable.
 */
public final class PoolCostInfo
{
    /** Space figures in bytes. */
    public static final class SpaceInfo
    {
        public final long total;
        public final long free;
        public final long precious;
        public final long removable;
        public final long gap;
        public final double breakEven;
        public final long lru;

        public SpaceInfo(long total, long free, long precious, long removable, long gap, double breakEven, long lru)
        {
            // Refused here, with the figure's name: the library would refuse the whole answer
            // of the pool manager for one negative figure.
            nonNegative(total, "total");
            nonNegative(free, "free");
            nonNegative(precious, "precious");
            nonNegative(removable, "removable");
            nonNegative(gap, "gap");
            this.total = total;
            this.free = free;
            this.precious = precious;
            this.removable = removable;
            this.gap = gap;
            this.breakEven = breakEven;
            this.lru = lru;
        }
    }

    /** The figures of one queue. */
    public static final class QueueInfo
    {
        public final int active;
        public final int maxActive;
        public final int queued;
        public final int readers;
        public final int writers;

        public QueueInfo(int active, int maxActive, int queued, int readers, int writers)
        {
            nonNegative(active, "active");
            nonNegative(maxActive, "maxActive");
            nonNegative(queued, "queued");
            nonNegative(readers, "readers");
            nonNegative(writers, "writers");
            this.active = active;
            this.maxActive = maxActive;
            this.queued = queued;
            this.readers = readers;
            this.writers = writers;
        }
    }

    private final String name;
    private final SpaceInfo space;
    private final QueueInfo store;
    private final QueueInfo restore;
    private final QueueInfo p2pServer;
    private final QueueInfo p2pClient;
    private final Map<String, QueueInfo> movers;
    private final double moverCostFactor;
    private final Map<String, String> tags;

    /** Queues other than the movers may be null (not reported). */
    public PoolCostInfo(String name, SpaceInfo space, QueueInfo store, QueueInfo restore, QueueInfo p2pServer,
                        QueueInfo p2pClient, Map<String, QueueInfo> movers, double moverCostFactor,
                        Map<String, String> tags)
    {
        this.name = Objects.requireNonNull(name, "name");
        this.space = Objects.requireNonNull(space, "space");
        this.store = store;
        this.restore = restore;
        this.p2pServer = p2pServer;
        this.p2pClient = p2pClient;
        this.movers = Collections.unmodifiableMap(new LinkedHashMap<>(movers));
        this.moverCostFactor = moverCostFactor;
        this.tags = Collections.unmodifiableMap(new TreeMap<>(tags));
    }

    /**
     * A pool with the given space, no precious data, one idle {@code regular} mover queue of
     * 100 slots, break-even 0.7 and mover cost factor 0.5.
     */
    public static PoolCostInfo simple(String name, long total, long free, long removable)
    {
        return new PoolCostInfo(name, new SpaceInfo(total, free, 0, removable, 0, 0.7, 0), null, null, null, null,
                                Map.of("regular", new QueueInfo(0, 100, 0, 0, 0)), 0.5, Map.of());
    }

    /** A copy with one more tag. */
    public PoolCostInfo withTag(String key, String value)
    {
        Map<String, String> t = new TreeMap<>(tags);
        t.put(key, value);
        return new PoolCostInfo(name, space, store, restore, p2pServer, p2pClient, movers, moverCostFactor, t);
    }

    public String name()
    {
        return name;
    }

    public SpaceInfo space()
    {
        return space;
    }

    public QueueInfo store()
    {
        return store;
    }

    public QueueInfo restore()
    {
        return restore;
    }

    public QueueInfo p2pServer()
    {
        return p2pServer;
    }

    public QueueInfo p2pClient()
    {
        return p2pClient;
    }

    /** Mover queues by name, in order. */
    public Map<String, QueueInfo> movers()
    {
        return movers;
    }

    public double moverCostFactor()
    {
        return moverCostFactor;
    }

    public Map<String, String> tags()
    {
        return tags;
    }

    private static void nonNegative(long value, String what)
    {
        if (value < 0) {
            throw new IllegalArgumentException(what + " must not be negative, not " + value);
        }
    }
}
