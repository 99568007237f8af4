package org.dcache.migration;

import java.util.Objects;

/**
 * A sticky flag on a replica: an owner and an absolute expiry in milliseconds since the
 * epoch ({@link #NEVER_EXPIRES} for none). Records whose owner starts with the pin manager's
 * name are pins.
 */
public final class StickyRecord
{
    /** The expiry of a record that never expires. */
    public static final long NEVER_EXPIRES = -1;

    private final String owner;
    private final long expire;

    public StickyRecord(String owner, long expire)
    {
        this.owner = Objects.requireNonNull(owner, "owner");
        if (expire < NEVER_EXPIRES) {
            throw new IllegalArgumentException("expire must be -1 (never) or a time in ms, not " + expire);
        }
        this.expire = expire;
    }

    public String owner()
    {
        return owner;
    }

    public long expire()
    {
        return expire;
    }

    /** Whether the record is valid at time {@code now} (ms since the epoch). */
    public boolean isValidAt(long now)
    {
        return expire == NEVER_EXPIRES || expire > now;
    }

    @Override
    public boolean equals(Object o)
    {
        if (!(o instanceof StickyRecord)) {
            return false;
        }
        StickyRecord r = (StickyRecord) o;
        return r.owner.equals(owner) && r.expire == expire;
    }

    @Override
    public int hashCode()
    {
        return Objects.hash(owner, expire);
    }

    @Override
    public String toString()
    {
        return owner + "(" + expire + ")";
    }
}
