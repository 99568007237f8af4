package org.dcache.migration;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * A pool's repository in memory, with dCache's rules for state changes and sticky records.
 * Changes are reported to a listener after the lock is released, as a real pool does.
 */
final class MemoryRepository implements Repository
{
    private final Map<PnfsId, ReplicaEntry> entries = new LinkedHashMap<>();
    private volatile Consumer<RepositoryEvent> listener = e -> { };
    /** A scan takes this long (ms), to hold one of the module's threads in a callback. */
    volatile long scanDelay;
    /** Scans started. */
    final java.util.concurrent.atomic.AtomicInteger scans = new java.util.concurrent.atomic.AtomicInteger();
    /** What {@link #verifiesChecksums()} answers (asked once, when the module starts). */
    volatile boolean verifies = true;
    /** Checksum verifications done. */
    final java.util.concurrent.atomic.AtomicInteger verifications = new java.util.concurrent.atomic.AtomicInteger();
    /** What {@link #acceptsCopies()} answers: the pool's mode. */
    volatile boolean accepts = true;
    /** When set, {@link #acceptsCopies()} throws it (a misbehaving callback). */
    volatile RuntimeException acceptsFailure;
    /** When set, {@link #getEntry} throws it (a misbehaving callback). */
    volatile RuntimeException entryFailure;

    /** When set, {@link #removeIfUnchanged} runs it first, once: a change that comes after
     * the module's look at a replica and before its removal. */
    final AtomicReference<Runnable> beforeConditionalRemoval = new AtomicReference<>();
    /** When set, {@link #setStateIfUnchanged} runs it first, once: a change that comes after
     * a target's look at a replica and before its update. */
    final AtomicReference<Runnable> beforeConditionalStateChange = new AtomicReference<>();
    /** Times {@link #acceptsCopies()} was asked. */
    final java.util.concurrent.atomic.AtomicInteger acceptsAsked = new java.util.concurrent.atomic.AtomicInteger();
    /** Still loading at pool start: {@link #entries()} throws {@link RepositoryNotLoadedException}. */
    volatile boolean loading;
    /** With {@link #loading}: the iterator throws instead of {@link #entries()} (a lazy scan). */
    volatile boolean loadingInIterator;
    /**
     * With {@link #loading}: throw a plain {@link IllegalStateException}, as dCache's own
     * repository does while it loads, and leave the translation to the host's adapter.
     */
    volatile boolean loadingAsDCache;
    /** When set, {@link #entries()} throws it (a broken repository). */
    volatile RuntimeException scanFailure;
    /** When set, the iterator's {@code next()} throws it after the first entry (a lazy scan that breaks). */
    volatile RuntimeException iteratorFailure;
    /** Iterators {@link #entries()} returned (each an {@link AutoCloseable}), and how many were closed. */
    final java.util.concurrent.atomic.AtomicInteger iteratorsOpened = new java.util.concurrent.atomic.AtomicInteger();
    final java.util.concurrent.atomic.AtomicInteger iteratorsClosed = new java.util.concurrent.atomic.AtomicInteger();

    void setListener(Consumer<RepositoryEvent> listener)
    {
        this.listener = listener;
    }

    /** Adds a listener after the ones already set (the pool's own, then the module's). */
    synchronized void addListener(Consumer<RepositoryEvent> next)
    {
        listener = listener.andThen(next);
    }

    private RuntimeException stillLoading()
    {
        return loadingAsDCache ? new IllegalStateException("Repository has not been loaded")
                               : new RepositoryNotLoadedException("Repository is still loading");
    }

    /** Adds a replica without reporting it (a pool that loaded before the module). */
    synchronized void load(ReplicaEntry entry)
    {
        entries.put(entry.pnfsId(), entry);
    }

    /** Adds a replica, reported as a state change from NEW. */
    void insert(ReplicaEntry entry)
    {
        synchronized (this) {
            entries.put(entry.pnfsId(), entry);
        }
        listener.accept(RepositoryEvent.stateChanged(ReplicaState.NEW, entry.state(), entry));
    }

    /** Removes a sticky record outright (what the pin manager does to a moved pin). */
    void removeSticky(PnfsId id, String owner)
    {
        ReplicaEntry before;
        ReplicaEntry after;
        synchronized (this) {
            before = entries.get(id);
            if (before == null) {
                return;
            }
            List<StickyRecord> records = new ArrayList<>(before.stickyRecords());
            if (!records.removeIf(r -> r.owner().equals(owner))) {
                return;
            }
            after = before.withStickyRecords(records);
            entries.put(id, after);
        }
        listener.accept(RepositoryEvent.stickyChanged(before, after));
    }

    synchronized List<ReplicaEntry> all()
    {
        return new ArrayList<>(entries.values());
    }

    synchronized int size()
    {
        return entries.size();
    }

    @Override
    public Iterator<ReplicaEntry> entries()
    {
        scans.incrementAndGet();
        if (scanDelay > 0) {
            TestCluster.sleep(scanDelay);
        }
        if (loading && !loadingInIterator) {
            throw stillLoading();
        }
        RuntimeException failure = scanFailure;
        if (failure != null) {
            throw failure;
        }
        Iterator<ReplicaEntry> snapshot;
        synchronized (this) {
            snapshot = new ArrayList<>(entries.values()).iterator();
        }
        iteratorsOpened.incrementAndGet();
        return new Scan(snapshot);
    }

    /** A repository's iterator that holds a resource (a cursor), so closes. */
    private final class Scan implements Iterator<ReplicaEntry>, AutoCloseable
    {
        private final Iterator<ReplicaEntry> snapshot;
        private int returned;

        Scan(Iterator<ReplicaEntry> snapshot)
        {
            this.snapshot = snapshot;
        }

        @Override
        public boolean hasNext()
        {
            if (loading && loadingInIterator) {
                throw stillLoading();
            }
            return snapshot.hasNext();
        }

        @Override
        public ReplicaEntry next()
        {
            RuntimeException failure = iteratorFailure;
            if (failure != null && returned > 0) {
                throw failure;
            }
            returned++;
            return snapshot.next();
        }

        @Override
        public void close()
        {
            iteratorsClosed.incrementAndGet();
        }
    }

    @Override
    public boolean verifiesChecksums()
    {
        return verifies;
    }

    @Override
    public void verifyChecksum(PnfsId id)
    {
        verifications.incrementAndGet();
    }

    @Override
    public boolean acceptsCopies()
    {
        acceptsAsked.incrementAndGet();
        RuntimeException failure = acceptsFailure;
        if (failure != null) {
            throw failure;
        }
        return accepts;
    }

    @Override
    public synchronized ReplicaEntry getEntry(PnfsId id)
    {
        RuntimeException failure = entryFailure;
        if (failure != null) {
            throw failure;
        }
        return entries.get(id);
    }

    /** Runs the change a test set to come between a look and a conditional change, once. */
    private static void runOnce(AtomicReference<Runnable> hook)
    {
        Runnable meanwhile = hook.getAndSet(null);
        if (meanwhile != null) {
            meanwhile.run();
        }
    }

    /** The replica's entry; the caller holds this repository's lock. */
    private ReplicaEntry existing(PnfsId id) throws RepositoryException
    {
        ReplicaEntry entry = entries.get(id);
        if (entry == null) {
            throw new RepositoryException(RepositoryException.Reason.NOT_FOUND, "replica not found: " + id);
        }
        return entry;
    }

    private static boolean complete(ReplicaState s)
    {
        return s == ReplicaState.CACHED || s == ReplicaState.PRECIOUS || s == ReplicaState.BROKEN;
    }

    @Override
    public void setState(PnfsId id, ReplicaState state, String reason) throws RepositoryException
    {
        RepositoryEvent event;
        synchronized (this) {
            ReplicaEntry entry = entries.get(id);
            ReplicaState current = entry == null ? ReplicaState.NEW : entry.state();
            if (state == ReplicaState.REMOVED && !complete(current)) {
                return; // NEW, REMOVED, DESTROYED: nothing to remove
            }
            if (entry == null) {
                throw new RepositoryException(RepositoryException.Reason.NOT_FOUND, "replica not found: " + id);
            }
            if (!complete(current) || !(complete(state) || state == ReplicaState.REMOVED)) {
                throw new RepositoryException(RepositoryException.Reason.ILLEGAL_TRANSITION,
                                              "Illegal state transition " + current + " -> " + state);
            }
            if (current == state) {
                return;
            }
            ReplicaEntry after = entry.withState(state);
            if (state == ReplicaState.REMOVED) {
                entries.remove(id);
            } else {
                entries.put(id, after);
            }
            event = RepositoryEvent.stateChanged(current, state, after);
        }
        listener.accept(event);
    }

    @Override
    public boolean removeIfUnchanged(PnfsId id, ReplicaState state, List<StickyRecord> sticky, String reason)
            throws RepositoryException
    {
        runOnce(beforeConditionalRemoval);
        RepositoryEvent event;
        synchronized (this) {
            ReplicaEntry entry = existing(id);
            List<StickyRecord> held = entry.stickyRecords();
            if (entry.state() != state || held.size() != sticky.size() || !held.containsAll(sticky)) {
                return false;
            }
            entries.remove(id);
            event = RepositoryEvent.stateChanged(state, ReplicaState.REMOVED, entry.withState(ReplicaState.REMOVED));
        }
        listener.accept(event);
        return true;
    }

    @Override
    public boolean setStateIfUnchanged(PnfsId id, ReplicaState seen, ReplicaState state, String reason)
            throws RepositoryException
    {
        runOnce(beforeConditionalStateChange);
        RepositoryEvent event;
        synchronized (this) {
            ReplicaEntry entry = existing(id);
            if (entry.state() != seen) {
                return false;
            }
            if (state == seen) {
                return true;
            }
            if (!complete(seen) || !complete(state)) {
                throw new RepositoryException(RepositoryException.Reason.ILLEGAL_TRANSITION,
                                              "Illegal state transition " + seen + " -> " + state);
            }
            ReplicaEntry after = entry.withState(state);
            entries.put(id, after);
            event = RepositoryEvent.stateChanged(seen, state, after);
        }
        listener.accept(event);
        return true;
    }

    @Override
    public void setSticky(PnfsId id, String owner, long expire, boolean overwrite) throws RepositoryException
    {
        RepositoryEvent event;
        synchronized (this) {
            ReplicaEntry entry = existing(id);
            if (!complete(entry.state())) {
                throw new RepositoryException(RepositoryException.Reason.ILLEGAL_TRANSITION, "File is incomplete");
            }
            List<StickyRecord> records = new ArrayList<>(entry.stickyRecords());
            int existing = -1;
            for (int i = 0; i < records.size(); i++) {
                if (records.get(i).owner().equals(owner)) {
                    existing = i;
                }
            }
            if (existing >= 0) {
                StickyRecord old = records.get(existing);
                if (old.expire() == expire || (!overwrite && old.isValidAt(expire))) {
                    return;
                }
                records.set(existing, new StickyRecord(owner, expire));
            } else {
                records.add(new StickyRecord(owner, expire));
            }
            ReplicaEntry after = entry.withStickyRecords(records);
            entries.put(id, after);
            event = RepositoryEvent.stickyChanged(entry, after);
        }
        listener.accept(event);
    }
}
