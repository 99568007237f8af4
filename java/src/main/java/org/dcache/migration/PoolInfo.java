package org.dcache.migration;

import java.util.Objects;

/**
 * A pool in a pool-manager answer: online with its cost information, or offline by name
 * (non-eager jobs still count replicas on offline pools, and never copy elsewhere while such
 * a copy is unreachable).
 */
public final class PoolInfo
{
    private final String name;
    private final PoolCostInfo cost;

    private PoolInfo(String name, PoolCostInfo cost)
    {
        this.name = Objects.requireNonNull(name, "name");
        this.cost = cost;
    }

    public static PoolInfo online(PoolCostInfo cost)
    {
        return new PoolInfo(cost.name(), cost);
    }

    public static PoolInfo offline(String name)
    {
        return new PoolInfo(name, null);
    }

    public String name()
    {
        return name;
    }

    public boolean isOnline()
    {
        return cost != null;
    }

    /** The cost information, null for an offline pool. */
    public PoolCostInfo costInfo()
    {
        return cost;
    }

    @Override
    public String toString()
    {
        return name + (isOnline() ? "" : " (offline)");
    }
}
