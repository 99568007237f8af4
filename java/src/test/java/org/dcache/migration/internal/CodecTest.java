package org.dcache.migration.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;

import org.dcache.migration.Checksum;
import org.dcache.migration.FileAttributes;
import org.dcache.migration.PnfsId;
import org.junit.jupiter.api.Test;

/** The codec's own reader and writer keep the byte layout of {@code DataOutputStream}. */
class CodecTest
{
    @Test
    void primitivesAreWrittenAsDataOutputStreamWritesThem() throws IOException
    {
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        DataOutputStream data = new DataOutputStream(expected);
        CodecOutput out = new CodecOutput();
        long[] longs = { 0, -1, Long.MIN_VALUE, Long.MAX_VALUE, 0x0102030405060708L };
        for (long v : longs) {
            data.writeLong(v);
            out.writeLong(v);
            data.writeInt((int) v);
            out.writeInt((int) v);
            data.writeBoolean(v != 0);
            out.writeBoolean(v != 0);
            data.writeDouble(v / 3.0);
            out.writeDouble(v / 3.0);
        }
        byte[] big = new byte[1000]; // more than the first buffer holds
        Arrays.fill(big, (byte) 0xA5);
        data.write(big);
        out.write(big);
        assertArrayEquals(expected.toByteArray(), out.toByteArray());

        CodecInput in = new CodecInput(out.toByteArray());
        for (long v : longs) {
            assertEquals(v, in.readLong());
            assertEquals((int) v, in.readInt());
            assertEquals(v != 0, in.readBoolean());
            assertEquals(v / 3.0, in.readDouble());
        }
        byte[] back = new byte[big.length];
        in.readFully(back);
        assertArrayEquals(big, back);
        assertEquals(0, in.available());
    }

    @Test
    void attributesRoundTripAndEveryTruncationIsRefusedAsMalformed()
    {
        FileAttributes file = new FileAttributes(new PnfsId("0000ABCDEF0123456789ABCD"), 4711)
                .withStorageClass("atlas:raw@osm").withChecksums(List.of(new Checksum("ADLER32", "0badcafe")));
        byte[] bytes = Codec.encode(out -> Codec.writeAttributes(out, file));
        assertEquals(file, Codec.decode(bytes, Codec::readAttributes));

        for (int n = 0; n < bytes.length; n++) {
            byte[] cut = Arrays.copyOf(bytes, n);
            assertThrows(IllegalArgumentException.class, () -> Codec.decode(cut, Codec::readAttributes), "cut at " + n);
        }
        byte[] longer = Arrays.copyOf(bytes, bytes.length + 1);
        assertThrows(IllegalArgumentException.class, () -> Codec.decode(longer, Codec::readAttributes));
    }
}
