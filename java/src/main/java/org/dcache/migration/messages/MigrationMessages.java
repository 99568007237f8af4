package org.dcache.migration.messages;

import java.util.Objects;

import org.dcache.migration.MigrationException;
import org.dcache.migration.internal.Codec;
import org.dcache.migration.internal.NativeLibrary;
import org.dcache.migration.internal.Natives;

/**
 * Converts typed messages to and from the bytes the module's {@link
 * org.dcache.migration.CellTransport} carries and {@link
 * org.dcache.migration.MigrationModule#deliver(String, byte[], org.dcache.migration.Completion)}
 * takes. The format is the module's own; these methods only lay its values out as Java
 * objects. They need no module, and they are safe on any thread.
 */
public final class MigrationMessages
{
    private MigrationMessages()
    {
    }

    /**
     * The bytes of {@code message}, as a pool's module sends them.
     *
     * @throws IllegalArgumentException if a pool name, a job id or a sticky record's owner
     *         holds an unpaired surrogate (it would arrive as another name)
     * @throws MigrationException with {@link MigrationException#INVALID_ARGUMENT} for a
     *         message the module would not send: a copy-finished message with return code 0
     *         (success) and an error text, which its source would count as a copy
     */
    public static byte[] encode(MigrationMessage message)
    {
        Objects.requireNonNull(message, "message");
        NativeLibrary.load();
        return Natives.encodeMessage(Codec.encodeMessage(message));
    }

    /**
     * The message in {@code bytes}, as a pool's module sent them.
     *
     * @throws MigrationException with {@link MigrationException#INVALID_ARGUMENT} for bytes
     *         that are not a message (null, malformed, a newer version)
     */
    public static MigrationMessage decode(byte[] bytes)
    {
        NativeLibrary.load();
        byte[] layout = Natives.decodeMessage(bytes);
        try {
            return Codec.decodeMessage(layout);
        } catch (IllegalArgumentException e) {
            // Well-formed bytes whose values a typed message refuses (a sticky record expiring
            // before -1, which the target also refuses): not a message either.
            throw new MigrationException(MigrationException.INVALID_ARGUMENT, "not a valid message: " + e.getMessage());
        }
    }

    /** The bytes of {@code reply}; return code 0 encodes success whatever the text. */
    public static byte[] encodeReply(MessageReply reply)
    {
        Objects.requireNonNull(reply, "reply");
        NativeLibrary.load();
        return Natives.encodeReply(Codec.encodeReply(reply));
    }

    /**
     * The reply in {@code bytes}, as a pool's module answered a message.
     *
     * @throws MigrationException with {@link MigrationException#INVALID_ARGUMENT} for bytes
     *         that are not a reply
     */
    public static MessageReply decodeReply(byte[] bytes)
    {
        NativeLibrary.load();
        return Codec.decodeReply(Natives.decodeReply(bytes));
    }
}
