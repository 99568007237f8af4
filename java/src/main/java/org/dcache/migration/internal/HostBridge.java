package org.dcache.migration.internal;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

import org.dcache.migration.CellTransport;
import org.dcache.migration.Completion;
import org.dcache.migration.P2pClient;
import org.dcache.migration.PinManager;
import org.dcache.migration.PnfsId;
import org.dcache.migration.PnfsManager;
import org.dcache.migration.PoolManager;
import org.dcache.migration.ReplicaEntry;
import org.dcache.migration.ReplicaState;
import org.dcache.migration.Repository;
import org.dcache.migration.RepositoryException;
import org.dcache.migration.RepositoryNotLoadedException;
import org.dcache.migration.ServiceException;
import org.dcache.migration.StickyRecord;

/**
 * The Java side of every host call of one module: the native library calls these methods
 * (ids cached in {@code cache.rs}) and they forward to the pool's services, decoding and
 * encoding values with {@link Codec}. Exceptions are deliberately not caught here: the native
 * side checks, clears and describes ({@link #describe}) each one, and the module records it.
 */
public final class HostBridge
{
    /** Entries per batch of a repository scan. */
    static final int BATCH = 256;

    private final Repository repository;
    private final PoolManager poolManager;
    private final PnfsManager pnfsManager;
    private final CellTransport transport;
    private final P2pClient p2p;
    private final PinManager pinManager;

    public HostBridge(Repository repository, PoolManager poolManager, PnfsManager pnfsManager,
                      CellTransport transport, P2pClient p2p, PinManager pinManager)
    {
        this.repository = Objects.requireNonNull(repository, "repository");
        this.poolManager = Objects.requireNonNull(poolManager, "poolManager");
        this.pnfsManager = Objects.requireNonNull(pnfsManager, "pnfsManager");
        this.transport = Objects.requireNonNull(transport, "transport");
        this.p2p = Objects.requireNonNull(p2p, "p2p");
        this.pinManager = Objects.requireNonNull(pinManager, "pinManager");
    }

    /**
     * The id the native library passes as {@code (high, low, tail)}: the id's first eight
     * bytes, the next eight (zero after its end), and its length in bytes above its last two
     * (for an id of 18). Built here from primitives rather than passed as a {@code String},
     * which the library would have to make through JNI for each of the five calls a file
     * makes with an id.
     */
    static PnfsId pnfsId(long high, long low, int tail)
    {
        int length = tail >>> 16;
        if (length != 12 && length != 18) {
            throw new IllegalArgumentException("a PNFS id of " + length + " bytes from the native library");
        }
        char[] text = new char[2 * length];
        for (int i = 0; i < length; i++) {
            int b = i < 8 ? (int) (high >>> (56 - 8 * i)) : i < 16 ? (int) (low >>> (120 - 8 * i)) : tail >>> (136 - 8 * i);
            text[2 * i] = HEX[b >>> 4 & 0xF];
            text[2 * i + 1] = HEX[b & 0xF];
        }
        return new PnfsId(new String(text));
    }

    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    byte[] entry(long high, long low, int tail)
    {
        ReplicaEntry entry = repository.getEntry(pnfsId(high, low, tail));
        return entry == null ? null : Codec.encodeEntry(entry);
    }

    Object openScan()
    {
        return Objects.requireNonNull(repository.entries(), "Repository.entries() returned null");
    }

    byte[] nextBatch(Object scan)
    {
        @SuppressWarnings("unchecked")
        Iterator<ReplicaEntry> entries = (Iterator<ReplicaEntry>) scan;
        if (!entries.hasNext()) {
            return null;
        }
        List<ReplicaEntry> batch = new ArrayList<>(BATCH);
        while (batch.size() < BATCH && entries.hasNext()) {
            batch.add(entries.next());
        }
        return Codec.encodeEntries(batch);
    }

    /**
     * Called once a scan is over, however it ended: an iterator that holds a resource (a
     * database cursor, an open directory) and says so by being {@link AutoCloseable} is closed.
     * An exception from {@code close()} is logged by the library; the scan's result stands.
     */
    void closeScan(Object scan) throws Exception
    {
        if (scan instanceof AutoCloseable) {
            ((AutoCloseable) scan).close();
        }
    }

    void setState(long high, long low, int tail, int state, String reason) throws RepositoryException
    {
        repository.setState(pnfsId(high, low, tail), ReplicaState.values()[state], reason);
    }

    /** {@code sticky}: the records in the codec layout, or null for none. */
    boolean removeIfUnchanged(long high, long low, int tail, int state, byte[] sticky, String reason)
            throws RepositoryException
    {
        List<StickyRecord> records = sticky == null ? List.of() : Codec.decodeSticky(sticky);
        return repository.removeIfUnchanged(pnfsId(high, low, tail), ReplicaState.values()[state], records, reason);
    }

    boolean setStateIfUnchanged(long high, long low, int tail, int seen, int state, String reason)
            throws RepositoryException
    {
        ReplicaState[] states = ReplicaState.values();
        return repository.setStateIfUnchanged(pnfsId(high, low, tail), states[seen], states[state], reason);
    }

    void setSticky(long high, long low, int tail, String owner, long expire, boolean overwrite)
            throws RepositoryException
    {
        repository.setSticky(pnfsId(high, low, tail), owner, expire, overwrite);
    }

    boolean verifiesChecksums()
    {
        return repository.verifiesChecksums();
    }

    boolean acceptsCopies()
    {
        return repository.acceptsCopies();
    }

    /**
     * A target's look at a copy request in one call: whether the pool accepts copies and,
     * only if it does, its entry of the file ({@link Codec#encodeInspection}).
     */
    byte[] inspectCopy(long high, long low, int tail)
    {
        if (!repository.acceptsCopies()) {
            return Codec.encodeInspection(false, null);
        }
        return Codec.encodeInspection(true, repository.getEntry(pnfsId(high, low, tail)));
    }

    void verifyChecksum(long high, long low, int tail) throws ServiceException
    {
        repository.verifyChecksum(pnfsId(high, low, tail));
    }

    void pools(byte[] selection, long token)
    {
        poolManager.pools(Codec.decodeSelection(selection), NativeCompletion.pools(token));
    }

    void groupsOf(String pool, long token)
    {
        poolManager.groupsOf(pool, NativeCompletion.strings(token));
    }

    void cacheLocations(long high, long low, int tail, long token)
    {
        pnfsManager.getCacheLocations(pnfsId(high, low, tail), NativeCompletion.strings(token));
    }

    void send(String to, byte[] message, long token)
    {
        transport.send(to, message, token == 0 ? null : NativeCompletion.bytes(token));
    }

    void p2pStart(byte[] request, long token)
    {
        p2p.start(Codec.decodeP2p(request), NativeCompletion.done(token));
    }

    void p2pCancel(long mostSignificant, long leastSignificant)
    {
        p2p.cancel(new UUID(mostSignificant, leastSignificant));
    }

    void movePins(byte[] request, long token)
    {
        pinManager.movePins(Codec.decodePinMove(request), NativeCompletion.done(token));
    }

    /** The module's answer to an inbound request, to the completion given to {@code deliver}. */
    @SuppressWarnings("unchecked")
    static void reply(Object completion, byte[] message)
    {
        ((Completion<byte[]>) completion).complete(message);
    }

    /** The module dropped an inbound request: kind 0 error, 1 timeout, 2 no route. */
    static void replyFailed(Object completion, int kind, int code, String message)
    {
        Completion<?> c = (Completion<?>) completion;
        switch (kind) {
        case 1:
            c.timeout();
            break;
        case 2:
            c.noRoute();
            break;
        default:
            c.fail(code, message);
            break;
        }
    }

    /**
     * What the native side needs to know of an exception a callback threw: kind 0 any, 1
     * {@link ServiceException} (with its rc), 2 {@link RepositoryException} (with its reason),
     * 3 {@link RepositoryNotLoadedException} (a scan waits for the repository).
     */
    static byte[] describe(Throwable t)
    {
        if (t instanceof RepositoryNotLoadedException) {
            return Codec.describe(3, 0, t.toString());
        }
        if (t instanceof ServiceException) {
            return Codec.describe(1, ((ServiceException) t).getRc(), t.getMessage());
        }
        if (t instanceof RepositoryException) {
            return Codec.describe(2, ((RepositoryException) t).reason().ordinal(), t.getMessage());
        }
        return Codec.describe(0, 0, t.toString());
    }
}
