package org.dcache.migration;

import java.util.List;

/**
 * A request to the pin manager: move the pins of a file from the source pool to the target
 * pool. Afterwards the file must no longer be pinned on the source.
 */
public final class PinMove
{
    private final PnfsId pnfsId;
    private final List<StickyRecord> pins;
    private final String sourcePool;
    private final String targetPool;

    public PinMove(PnfsId pnfsId, List<StickyRecord> pins, String sourcePool, String targetPool)
    {
        this.pnfsId = pnfsId;
        this.pins = List.copyOf(pins);
        this.sourcePool = sourcePool;
        this.targetPool = targetPool;
    }

    public PnfsId pnfsId()
    {
        return pnfsId;
    }

    /** The pin records on the source. */
    public List<StickyRecord> pins()
    {
        return pins;
    }

    public String sourcePool()
    {
        return sourcePool;
    }

    public String targetPool()
    {
        return targetPool;
    }
}
