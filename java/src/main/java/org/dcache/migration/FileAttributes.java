package org.dcache.migration;

import java.util.List;
import java.util.Objects;

/**
 * What a pool knows about a file beyond its replica: what a target needs to create a replica
 * (id, size, storage info, checksums). Immutable; the {@code with…} methods return copies.
 */
public final class FileAttributes
{
    private final PnfsId pnfsId;
    private final long size;
    private final String storageClass;
    private final String cacheClass;
    private final AccessLatency accessLatency;
    private final RetentionPolicy retentionPolicy;
    private final List<Checksum> checksums;

    public FileAttributes(PnfsId pnfsId, long size)
    {
        this(pnfsId, size, null, null, null, null, List.of());
    }

    public FileAttributes(PnfsId pnfsId, long size, String storageClass, String cacheClass,
                          AccessLatency accessLatency, RetentionPolicy retentionPolicy, List<Checksum> checksums)
    {
        if (size < 0) {
            throw new IllegalArgumentException("negative size: " + size);
        }
        this.pnfsId = Objects.requireNonNull(pnfsId, "pnfsId");
        this.size = size;
        this.storageClass = storageClass;
        this.cacheClass = cacheClass;
        this.accessLatency = accessLatency;
        this.retentionPolicy = retentionPolicy;
        this.checksums = List.copyOf(checksums);
    }

    public PnfsId pnfsId()
    {
        return pnfsId;
    }

    public long size()
    {
        return size;
    }

    /** The storage class ({@code <store>:<group>@<hsm>}), or null. */
    public String storageClass()
    {
        return storageClass;
    }

    /** The cache class, or null. */
    public String cacheClass()
    {
        return cacheClass;
    }

    /** The access latency, or null if unknown. */
    public AccessLatency accessLatency()
    {
        return accessLatency;
    }

    /** The retention policy, or null if unknown. */
    public RetentionPolicy retentionPolicy()
    {
        return retentionPolicy;
    }

    public List<Checksum> checksums()
    {
        return checksums;
    }

    public FileAttributes withStorageClass(String storageClass)
    {
        return new FileAttributes(pnfsId, size, storageClass, cacheClass, accessLatency, retentionPolicy, checksums);
    }

    public FileAttributes withCacheClass(String cacheClass)
    {
        return new FileAttributes(pnfsId, size, storageClass, cacheClass, accessLatency, retentionPolicy, checksums);
    }

    public FileAttributes withAccessLatency(AccessLatency al)
    {
        return new FileAttributes(pnfsId, size, storageClass, cacheClass, al, retentionPolicy, checksums);
    }

    public FileAttributes withRetentionPolicy(RetentionPolicy rp)
    {
        return new FileAttributes(pnfsId, size, storageClass, cacheClass, accessLatency, rp, checksums);
    }

    public FileAttributes withChecksums(List<Checksum> checksums)
    {
        return new FileAttributes(pnfsId, size, storageClass, cacheClass, accessLatency, retentionPolicy, checksums);
    }

    @Override
    public boolean equals(Object o)
    {
        if (!(o instanceof FileAttributes)) {
            return false;
        }
        FileAttributes a = (FileAttributes) o;
        return a.pnfsId.equals(pnfsId) && a.size == size && Objects.equals(a.storageClass, storageClass)
               && Objects.equals(a.cacheClass, cacheClass) && a.accessLatency == accessLatency
               && a.retentionPolicy == retentionPolicy && a.checksums.equals(checksums);
    }

    @Override
    public int hashCode()
    {
        return Objects.hash(pnfsId, size, storageClass, cacheClass, accessLatency, retentionPolicy, checksums);
    }

    @Override
    public String toString()
    {
        return pnfsId + " size=" + size + " sc=" + storageClass;
    }
}
