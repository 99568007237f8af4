package org.dcache.migration;

import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;

import org.dcache.migration.internal.NativeLibrary;

/**
 * Run in a child JVM by {@link ChildJvmTest}, as a pool would run the module: the facade is
 * loaded by a plugin class loader (not the application class loader), the library comes out of
 * the jar, a job runs, the module is closed and main returns. The JVM must then exit by
 * itself: nothing of the module may keep it alive.
 */
public final class ChildJvmMain
{
    private ChildJvmMain()
    {
    }

    /** Loads this class again through a plugin class loader and runs {@link #run()} there. */
    public static void main(String[] args) throws Exception
    {
        List<URL> urls = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            urls.add(new File(entry).toURI().toURL());
        }
        try (URLClassLoader plugin = new URLClassLoader("plugin", urls.toArray(new URL[0]),
                                                        ClassLoader.getPlatformClassLoader())) {
            Class<?> isolated = plugin.loadClass(ChildJvmMain.class.getName());
            if (isolated == ChildJvmMain.class) {
                throw new IllegalStateException("the plugin loader did not isolate the facade");
            }
            isolated.getMethod("run").invoke(null);
        }
    }

    public static void run() throws Exception
    {
        ClassLoader loader = ChildJvmMain.class.getClassLoader();
        System.out.println("facade loaded by " + loader.getName());
        String from = NativeLibrary.load();
        AtomicReference<String> scanThread = new AtomicReference<>();
        Repository empty = new Repository()
        {
            @Override
            public Iterator<ReplicaEntry> entries()
            {
                Thread t = Thread.currentThread();
                scanThread.set(t.getName() + (t.getContextClassLoader() == loader ? " with" : " without")
                               + " the plugin loader");
                return Collections.emptyIterator();
            }

            @Override
            public ReplicaEntry getEntry(PnfsId id)
            {
                return null;
            }

            @Override
            public void setState(PnfsId id, ReplicaState state, String reason)
            {
            }

            @Override
            public boolean removeIfUnchanged(PnfsId id, ReplicaState state, List<StickyRecord> sticky, String reason)
            {
                return false;
            }

            @Override
            public boolean setStateIfUnchanged(PnfsId id, ReplicaState seen, ReplicaState state, String reason)
            {
                return false;
            }

            @Override
            public void setSticky(PnfsId id, String owner, long expire, boolean overwrite)
            {
            }

            @Override
            public boolean verifiesChecksums()
            {
                return false;
            }

            @Override
            public void verifyChecksum(PnfsId id)
            {
                throw new UnsupportedOperationException("this repository does not verify checksums");
            }

            @Override
            public boolean acceptsCopies()
            {
                return true;
            }
        };
        PoolManager pools = new PoolManager()
        {
            @Override
            public void pools(PoolSelection selection, Completion<List<PoolInfo>> done)
            {
                done.complete(List.of(PoolInfo.online(PoolCostInfo.simple("pool2", 1000, 1000, 0))));
            }

            @Override
            public void groupsOf(String pool, Completion<List<String>> done)
            {
                done.complete(List.of());
            }
        };
        try (MigrationModule module = MigrationModule.builder("child")
                .repository(empty)
                .poolManager(pools)
                .pnfsManager((id, done) -> done.complete(List.of()))
                .transport((pool, message, reply) -> {
                    if (reply != null) {
                        reply.noRoute();
                    }
                })
                .p2pClient(new P2pClient()
                {
                    @Override
                    public void start(P2pRequest request, Completion<Void> done)
                    {
                        done.fail(ServiceException.DEFAULT_ERROR_CODE, "no p2p here");
                    }

                    @Override
                    public void cancel(UUID id)
                    {
                    }
                })
                .pinManager((request, done) -> done.complete(null))
                .start()) {
            module.poolStarted();
            try {
                module.execute("migration info 99");
            } catch (MigrationException e) {
                System.out.println("caught MigrationException " + e.code() + ": " + e.getMessage());
            }
            module.execute("migration copy pool2");
            long deadline = System.currentTimeMillis() + 10_000;
            while (!module.execute("migration info 1").contains("State      : FINISHED")) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("job did not finish: " + module.execute("migration info 1"));
                }
                Thread.sleep(5);
            }
        }
        Thread.sleep(200); // let the log thread forward the last records
        System.out.println("scanned on " + scanThread.get());
        System.out.println("child loaded the library from " + from);
    }
}
