package org.dcache.migration;

/** A file's access latency. The order is part of the native contract. */
public enum AccessLatency
{
    ONLINE, NEARLINE
}
