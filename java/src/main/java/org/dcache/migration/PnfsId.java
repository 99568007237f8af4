package org.dcache.migration;

import java.util.Locale;

/**
 * dCache's file identifier: 24 or 36 hexadecimal digits. Shorter forms (1 to 23 digits) are
 * left-padded with zeros to 24, as dCache does; the canonical form is upper case.
 */
public final class PnfsId implements Comparable<PnfsId>
{
    private final String id;

    /**
     * Parses a PNFS id.
     *
     * @throws IllegalArgumentException if {@code id} is empty, not hexadecimal, or of an
     *         illegal length
     */
    public PnfsId(String id)
    {
        if (id == null || id.isEmpty()) {
            throw new IllegalArgumentException("Empty PnfsId");
        }
        for (int i = 0; i < id.length(); i++) {
            if (Character.digit(id.charAt(i), 16) < 0) {
                throw new IllegalArgumentException("Illegal pnfsid character: " + id.charAt(i));
            }
        }
        String upper = id.toUpperCase(Locale.ROOT);
        if (upper.length() < 24) {
            upper = "0".repeat(24 - upper.length()) + upper;
        } else if (upper.length() != 24 && upper.length() != 36) {
            throw new IllegalArgumentException("Illegal pnfsid string length");
        }
        this.id = upper;
    }

    @Override
    public String toString()
    {
        return id;
    }

    @Override
    public boolean equals(Object o)
    {
        return o instanceof PnfsId && ((PnfsId) o).id.equals(id);
    }

    @Override
    public int hashCode()
    {
        return id.hashCode();
    }

    @Override
    public int compareTo(PnfsId other)
    {
        return id.compareTo(other.id);
    }
}
