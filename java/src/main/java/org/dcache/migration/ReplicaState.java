package org.dcache.migration;

/**
 * The state of a replica in a pool's repository, as in dCache. The order is part of the
 * native contract: do not reorder.
 */
public enum ReplicaState
{
    NEW, FROM_CLIENT, FROM_POOL, FROM_STORE, BROKEN, CACHED, PRECIOUS, REMOVED, DESTROYED
}
