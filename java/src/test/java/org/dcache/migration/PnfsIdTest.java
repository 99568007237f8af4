package org.dcache.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The Java facade's PnfsId: dCache's parsing rules, whichever path an id takes. */
class PnfsIdTest
{
    @Test
    void canonicalIdsAreKeptAndOthersAreUpperCasedAndPadded()
    {
        assertEquals("0000ABCDEF0123456789ABCD", new PnfsId("0000ABCDEF0123456789ABCD").toString());
        assertEquals("0000ABCDEF0123456789ABCD", new PnfsId("0000abcdef0123456789abcd").toString());
        assertEquals("00001234567890ABCDEF1122334455667788",
                     new PnfsId("00001234567890abcdef1122334455667788").toString());
        assertEquals("0000000000000000000000FF", new PnfsId("ff").toString());
        assertEquals("000000000000000000000123", new PnfsId("123").toString());
        assertEquals(new PnfsId("0000ABCDEF0123456789ABCD"), new PnfsId("0000abcdef0123456789ABCD"));
    }

    @Test
    void anythingButHexadecimalDigitsOfALegalLengthIsRefused()
    {
        assertThrows(IllegalArgumentException.class, () -> new PnfsId(""));
        assertThrows(IllegalArgumentException.class, () -> new PnfsId("0000ABCDEF0123456789ABCG"));
        assertThrows(IllegalArgumentException.class, () -> new PnfsId("0000ABCDEF01234-6789ABCD"));
        assertThrows(IllegalArgumentException.class, () -> new PnfsId("0000ABCDEF0123456789ABCD0"));
        assertThrows(IllegalArgumentException.class, () -> new PnfsId("0".repeat(37)));
        // Digits of other scripts, which Character.digit takes and the library does not: a
        // full-width one, an Arabic-Indic one.
        assertThrows(IllegalArgumentException.class, () -> new PnfsId("\uFF11"));
        assertThrows(IllegalArgumentException.class, () -> new PnfsId("0000ABCDEF0123456789ABC\u0661"));
    }

    /** dCache's order: bytes compared as signed values (0x80 before 0x00), then length. */
    @Test
    void idsSortAsDCacheSortsThem()
    {
        PnfsId high = new PnfsId("80" + "0".repeat(22));
        PnfsId low = new PnfsId("0".repeat(24));
        PnfsId longer = new PnfsId("0".repeat(36));
        assertTrue(high.compareTo(low) < 0, "0x80 is negative as a byte");
        assertTrue(low.compareTo(high) > 0);
        assertTrue(low.compareTo(longer) < 0, "the shorter first when one is the other's start");
        assertEquals(0, low.compareTo(new PnfsId("0")));
        assertTrue(new PnfsId("01").compareTo(new PnfsId("7F")) < 0);
        assertTrue(new PnfsId("FF").compareTo(new PnfsId("01")) < 0, "0xFF is -1");
    }

    /** Values the library would refuse later, or misread, are refused where they are made. */
    @Test
    void valuesAreCheckedWhereTheyAreMade()
    {
        assertThrows(IllegalArgumentException.class, () -> new StickyRecord("o", -2));
        new StickyRecord("o", StickyRecord.NEVER_EXPIRES);
        new StickyRecord("o", 0);
        assertThrows(IllegalArgumentException.class, () -> new PoolCostInfo.SpaceInfo(10, -1, 0, 0, 0, 0.7, 0));
        assertThrows(IllegalArgumentException.class, () -> new PoolCostInfo.QueueInfo(0, 1, -1, 0, 0));
        NullPointerException e = assertThrows(NullPointerException.class, () -> new RepositoryException(null, "x"));
        assertEquals("reason", e.getMessage());
    }
}
