package org.dcache.migration;

/**
 * The answer to an asynchronous request: complete it exactly once, from any thread, with a
 * value or one of the failures. The module enforces its own timeouts; a completion that is
 * garbage-collected unanswered reports a failure, so a forgetful service makes the module
 * retry instead of hang.
 *
 * <p>The module hands out completions backed by native tokens; completing such a completion a
 * second time throws {@link IllegalStateException}. {@link MigrationModule#deliver} also takes
 * a completion, for the answer to an inbound request, which may be any implementation.
 *
 * @param <T> the type of the answer
 */
public interface Completion<T>
{
    /**
     * Success. On a module's completion, an answer that cannot be encoded or taken (a null pool
     * name in a list) fails the request with 10011 first, and is then thrown: the exception the
     * encoding threw, or a {@link MigrationException} with {@link
     * MigrationException#INVALID_ARGUMENT}.
     */
    void complete(T value);

    /**
     * The service answered with an error: a dCache return code and its text. A return code of 0,
     * dCache's success, is taken as {@link ServiceException#DEFAULT_ERROR_CODE}: the request
     * failed all the same, and a target never reports such a copy as made.
     */
    void fail(int returnCode, String message);

    /** No answer in time. */
    void timeout();

    /** The peer cannot be reached. */
    void noRoute();

    /** Fails with the return code of a {@link ServiceException}, else with dCache's unexpected-exception code. */
    default void fail(Throwable t)
    {
        if (t instanceof ServiceException) {
            fail(((ServiceException) t).getRc(), t.getMessage());
        } else {
            fail(ServiceException.UNEXPECTED_SYSTEM_EXCEPTION, t.toString());
        }
    }
}
