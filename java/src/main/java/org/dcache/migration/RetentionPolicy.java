package org.dcache.migration;

/** A file's retention policy. The order is part of the native contract. */
public enum RetentionPolicy
{
    CUSTODIAL, REPLICA, OUTPUT
}
