package org.dcache.migration;

/** The pin manager. */
public interface PinManager
{
    /** Moves the pins; afterwards the file is no longer pinned on the source pool. */
    void movePins(PinMove request, Completion<Void> done);
}
