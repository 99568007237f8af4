package org.dcache.migration.internal;

import java.lang.ref.Cleaner;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

import org.dcache.migration.Completion;
import org.dcache.migration.PoolInfo;
import org.dcache.migration.ServiceException;

/**
 * A {@link Completion} backed by a native token: the module waits for its answer. It completes
 * exactly once (a second completion throws {@link IllegalStateException}); one that is
 * garbage-collected unanswered is dropped, which fails the request so the module retries.
 * Completing after the module closed is silently ignored.
 */
public final class NativeCompletion<T> implements Completion<T>
{
    private static final Cleaner CLEANER = Cleaner.create();

    /** Shared with the cleaner; must not reference the completion itself. */
    private static final class Token implements Runnable
    {
        final long token;
        final AtomicBoolean done = new AtomicBoolean();

        Token(long token)
        {
            this.token = token;
        }

        @Override
        public void run()
        {
            if (done.compareAndSet(false, true)) {
                Natives.dropCompletion(token);
            }
        }
    }

    private final Token token;
    private final Function<T, byte[]> encoder;
    private final Cleaner.Cleanable cleanable;

    private NativeCompletion(long token, Function<T, byte[]> encoder)
    {
        this.token = new Token(token);
        this.encoder = encoder;
        this.cleanable = CLEANER.register(this, this.token);
    }

    static NativeCompletion<List<String>> strings(long token)
    {
        return new NativeCompletion<>(token, Codec::encodeStrings);
    }

    static NativeCompletion<List<PoolInfo>> pools(long token)
    {
        return new NativeCompletion<>(token, Codec::encodePools);
    }

    /** The library copies the bytes before {@code completeOk} returns, so they are not cloned. */
    static NativeCompletion<byte[]> bytes(long token)
    {
        return new NativeCompletion<>(token, b -> Objects.requireNonNull(b, "a reply must not be null"));
    }

    /** No payload: {@code completeOk} takes null as an empty one, without reading an array. */
    static NativeCompletion<Void> done(long token)
    {
        return new NativeCompletion<>(token, v -> null);
    }

    private void claim()
    {
        if (!token.done.compareAndSet(false, true)) {
            throw new IllegalStateException("this request was already completed");
        }
        cleanable.clean(); // deregisters; the action sees done and does nothing
    }

    @Override
    public void complete(T value)
    {
        claim();
        byte[] payload;
        try {
            payload = encoder.apply(value);
        } catch (RuntimeException | Error e) {
            // Claimed already, so neither a second completion nor the cleaner would answer it:
            // an Error (an OutOfMemoryError while encoding, an AssertionError from the value's
            // own iterator) must fail the request too, or it would wait for ever.
            Natives.completeFailure(token.token, 0, ServiceException.UNEXPECTED_SYSTEM_EXCEPTION,
                                    "invalid answer: " + e);
            throw e;
        }
        Natives.completeOk(token.token, payload);
    }

    @Override
    public void fail(int returnCode, String message)
    {
        claim();
        Natives.completeFailure(token.token, 0, returnCode, message);
    }

    @Override
    public void timeout()
    {
        claim();
        Natives.completeFailure(token.token, 1, ServiceException.TIMEOUT, "timeout");
    }

    @Override
    public void noRoute()
    {
        claim();
        Natives.completeFailure(token.token, 2, ServiceException.SERVICE_UNAVAILABLE, "no route");
    }

    @Override
    public String toString()
    {
        return "Completion[" + token.token + (token.done.get() ? ", done]" : "]");
    }
}
