package org.dcache.migration.internal;

import java.io.EOFException;

/**
 * Where {@link Codec} reads a value from: big-endian primitives out of an array, as
 * {@code DataInputStream} over a {@code ByteArrayInputStream} would read them, without taking
 * a lock for every byte (see {@link CodecOutput}). Reading past the end throws
 * {@link EOFException}, which the codec reports as a malformed value.
 */
final class CodecInput
{
    private final byte[] bytes;
    private int position;

    CodecInput(byte[] bytes)
    {
        this.bytes = bytes;
    }

    private int take(int n) throws EOFException
    {
        if (n < 0 || bytes.length - position < n) {
            throw new EOFException("a value from the native library ends early");
        }
        int at = position;
        position += n;
        return at;
    }

    boolean readBoolean() throws EOFException
    {
        return bytes[take(1)] != 0;
    }

    int readInt() throws EOFException
    {
        int at = take(4);
        return (bytes[at] & 0xFF) << 24 | (bytes[at + 1] & 0xFF) << 16 | (bytes[at + 2] & 0xFF) << 8
               | bytes[at + 3] & 0xFF;
    }

    long readLong() throws EOFException
    {
        long high = readInt();
        return high << 32 | readInt() & 0xFFFFFFFFL;
    }

    double readDouble() throws EOFException
    {
        return Double.longBitsToDouble(readLong());
    }

    void readFully(byte[] b) throws EOFException
    {
        System.arraycopy(bytes, take(b.length), b, 0, b.length);
    }

    /** Bytes not read yet. */
    int available()
    {
        return bytes.length - position;
    }
}
