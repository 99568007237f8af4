package org.dcache.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

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
}
