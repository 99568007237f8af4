package org.dcache.migration;

import java.util.Objects;

/** A checksum of a file: its type (e.g. {@code ADLER32}) and value. */
public final class Checksum
{
    private final String type;
    private final String value;

    public Checksum(String type, String value)
    {
        this.type = Objects.requireNonNull(type, "type");
        this.value = Objects.requireNonNull(value, "value");
    }

    public String type()
    {
        return type;
    }

    public String value()
    {
        return value;
    }

    @Override
    public boolean equals(Object o)
    {
        return o instanceof Checksum && ((Checksum) o).type.equals(type) && ((Checksum) o).value.equals(value);
    }

    @Override
    public int hashCode()
    {
        return Objects.hash(type, value);
    }

    @Override
    public String toString()
    {
        return type + ":" + value;
    }
}
