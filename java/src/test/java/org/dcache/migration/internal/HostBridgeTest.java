package org.dcache.migration.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The ids the native library passes as primitives; the same values as host.rs's unit test. */
class HostBridgeTest
{
    @Test
    void anIdIsBuiltFromTwoLongsAndATail()
    {
        assertEquals("0000ABCDEF0123456789ABCD",
                     HostBridge.pnfsId(0x0000ABCDEF012345L, 0x6789ABCD00000000L, 12 << 16).toString());
        assertEquals("00001234567890ABCDEF1122334455667788",
                     HostBridge.pnfsId(0x00001234567890ABL, 0xCDEF112233445566L, 18 << 16 | 0x7788).toString());
    }

    @Test
    void anIdOfAnotherLengthIsRefused()
    {
        assertThrows(IllegalArgumentException.class, () -> HostBridge.pnfsId(0, 0, 13 << 16));
        assertThrows(IllegalArgumentException.class, () -> HostBridge.pnfsId(0, 0, 0));
    }
}
