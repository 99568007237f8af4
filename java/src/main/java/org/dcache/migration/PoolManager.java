package org.dcache.migration;

import java.util.List;

/** The pool manager: pool lists with cost information. */
public interface PoolManager
{
    /** Answers a pool selection: online pools with cost information, offline pools by name. */
    void pools(PoolSelection selection, Completion<List<PoolInfo>> done);

    /** The pool groups that contain {@code pool} ({@code -target=pgroup} without names). */
    void groupsOf(String pool, Completion<List<String>> done);
}
