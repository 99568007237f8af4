package org.dcache.migration;

/**
 * The pool is still loading its repository and cannot list it yet. Thrown by
 * {@link Repository#entries()} (or by its iterator) during pool start, where dCache's
 * repository throws {@link IllegalStateException}. Jobs then wait instead of failing; the
 * host reports each replica as a {@link RepositoryEvent} while loading and calls
 * {@link MigrationModule#repositoryLoaded()} when done. It is the only exception that means
 * "not loaded": any other one fails the job's scan.
 */
public class RepositoryNotLoadedException extends IllegalStateException
{
    private static final long serialVersionUID = 1L;

    public RepositoryNotLoadedException(String message)
    {
        super(message);
    }

    public RepositoryNotLoadedException(String message, Throwable cause)
    {
        super(message, cause);
    }
}
