package org.dcache.migration.internal;

import java.util.Arrays;

/**
 * Where {@link Codec} writes a value: big-endian primitives into a growing array, as
 * {@code DataOutputStream} over a {@code ByteArrayOutputStream} would write them, without
 * their cost. That pair takes the stream's lock once for every byte of every {@code int} and
 * {@code long}, and the codec encodes a replica entry on every file a job moves.
 */
final class CodecOutput
{
    private byte[] bytes = new byte[128];
    private int length;

    private void room(int n)
    {
        if (length + n > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + n));
        }
    }

    void writeBoolean(boolean v)
    {
        room(1);
        bytes[length++] = (byte) (v ? 1 : 0);
    }

    void writeInt(int v)
    {
        room(4);
        bytes[length] = (byte) (v >>> 24);
        bytes[length + 1] = (byte) (v >>> 16);
        bytes[length + 2] = (byte) (v >>> 8);
        bytes[length + 3] = (byte) v;
        length += 4;
    }

    void writeLong(long v)
    {
        writeInt((int) (v >>> 32));
        writeInt((int) v);
    }

    void writeDouble(double v)
    {
        writeLong(Double.doubleToLongBits(v));
    }

    void write(byte[] b)
    {
        room(b.length);
        System.arraycopy(b, 0, bytes, length, b.length);
        length += b.length;
    }

    /** What was written. */
    byte[] toByteArray()
    {
        return Arrays.copyOf(bytes, length);
    }
}
