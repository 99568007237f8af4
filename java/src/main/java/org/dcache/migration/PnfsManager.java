package org.dcache.migration;

import java.util.List;

/** The namespace: where replicas of a file exist. */
public interface PnfsManager
{
    /**
     * The pools registered as holding a replica of {@code id}. A file deleted from the
     * namespace fails with {@link ServiceException#FILE_NOT_FOUND}.
     */
    void getCacheLocations(PnfsId id, Completion<List<String>> done);
}
