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
        String upper = isCanonical(id) ? id : checkedUpperCase(id);
        if (upper.length() < 24) {
            upper = "0".repeat(24 - upper.length()) + upper;
        } else if (upper.length() != 24 && upper.length() != 36) {
            throw new IllegalArgumentException("Illegal pnfsid string length");
        }
        this.id = upper;
    }

    /** Whether every character is one of 0-9 and A-F: the common case, with nothing to convert. */
    private static boolean isCanonical(String id)
    {
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            if ((c < '0' || c > '9') && (c < 'A' || c > 'F')) {
                return false;
            }
        }
        return true;
    }

    /** Any other id: each character must be a hexadecimal digit, and the id is upper-cased. */
    private static String checkedUpperCase(String id)
    {
        for (int i = 0; i < id.length(); i++) {
            // ASCII only: Character.digit also takes full-width and other scripts' digits,
            // which the library refuses, and one such id would fail a whole scan.
            char c = id.charAt(i);
            boolean hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (!hex) {
                throw new IllegalArgumentException("Illegal pnfsid character: " + c);
            }
        }
        return id.toUpperCase(Locale.ROOT);
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

    /**
     * dCache's order: the ids' bytes compared as signed values, then the shorter first, so that
     * bytes 0x80 to 0xFF sort before 0x00 to 0x7F, as in the module's own queue order.
     */
    @Override
    public int compareTo(PnfsId other)
    {
        int bytes = Math.min(id.length(), other.id.length()) / 2;
        for (int i = 0; i < bytes; i++) {
            int c = Byte.compare(byteAt(i), other.byteAt(i));
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(id.length(), other.id.length());
    }

    /** The {@code i}-th byte of the id, as Java's signed byte. */
    private byte byteAt(int i)
    {
        return (byte) (Character.digit(id.charAt(2 * i), 16) << 4 | Character.digit(id.charAt(2 * i + 1), 16));
    }
}
