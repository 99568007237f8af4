package org.dcache.migration.internal;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Finds and loads the native library, once per JVM, in this order:
 * <ol>
 * <li>the file named by the system property {@value #PROPERTY} (no fallback if it fails: the
 *     operator asked for that file);</li>
 * <li>{@code System.loadLibrary("dcache_migration")}, i.e. {@code java.library.path};</li>
 * <li>the library packaged in the jar under {@code /native/<os>-<arch>/}, extracted to a
 *     temporary file.</li>
 * </ol>
 * Then it checks that the library speaks this facade's contract ({@link #ABI_VERSION}) and
 * starts forwarding the module's log to SLF4J.
 */
public final class NativeLibrary
{
    /** The contract version this facade expects; the library's {@code abiVersion()} must match. */
    public static final int ABI_VERSION = 7;

    /** The system property naming the library file. */
    public static final String PROPERTY = "dcache.migration.library";

    /** The library's name for {@link System#loadLibrary}. */
    public static final String NAME = "dcache_migration";

    private static volatile String loadedFrom;

    private NativeLibrary()
    {
    }

    /** Loads the library if this JVM has not yet; returns where it came from. */
    public static String load()
    {
        String from = loadedFrom;
        if (from != null) {
            return from;
        }
        synchronized (NativeLibrary.class) {
            if (loadedFrom == null) {
                String source = loadLibrary();
                int actual;
                try {
                    actual = Natives.abiVersion();
                } catch (UnsatisfiedLinkError e) {
                    throw new UnsatisfiedLinkError("The library " + source + " is not the dCache migration module "
                                                   + "(it has no abiVersion()): " + e.getMessage());
                }
                checkAbi(actual, ABI_VERSION, source);
                Natives.init();
                NativeLog.start();
                loadedFrom = source;
            }
            return loadedFrom;
        }
    }

    /** Fails unless the library's contract version is the facade's. */
    static void checkAbi(int actual, int expected, String source)
    {
        if (actual != expected) {
            throw new UnsatisfiedLinkError("The native library " + source + " has ABI version " + actual
                                           + " but this dCache migration facade needs version " + expected
                                           + ": use the library built with this jar");
        }
    }

    private static String loadLibrary()
    {
        String path = System.getProperty(PROPERTY);
        if (path != null && !path.isEmpty()) {
            String absolute = new File(path).getAbsolutePath();
            try {
                System.load(absolute);
            } catch (UnsatisfiedLinkError e) {
                throw new UnsatisfiedLinkError("Cannot load the migration library named by -D" + PROPERTY + "="
                                               + path + ": " + e.getMessage());
            }
            return absolute;
        }
        List<String> attempts = new ArrayList<>();
        try {
            System.loadLibrary(NAME);
            return "java.library.path (" + System.mapLibraryName(NAME) + ")";
        } catch (UnsatisfiedLinkError e) {
            attempts.add("java.library.path: " + e.getMessage());
        }
        String resource = resourcePath(System.getProperty("os.name"), System.getProperty("os.arch"));
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
            if (in == null) {
                attempts.add("jar resource " + resource + ": not packaged");
            } else {
                Path file = Files.createTempFile("dcache-migration-", "-" + System.mapLibraryName(NAME));
                file.toFile().deleteOnExit();
                Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
                System.load(file.toAbsolutePath().toString());
                return "jar resource " + resource;
            }
        } catch (IOException | UnsatisfiedLinkError e) {
            attempts.add("jar resource " + resource + ": " + e);
        }
        throw new UnsatisfiedLinkError("Cannot find the dCache migration library; set -D" + PROPERTY
                                       + "=/path/to/" + System.mapLibraryName(NAME) + ". Tried " + attempts);
    }

    /** Where the jar keeps the library for an OS and architecture. */
    static String resourcePath(String osName, String osArch)
    {
        String os = osName.toLowerCase(Locale.ROOT);
        String family = os.startsWith("linux") ? "linux"
                        : os.startsWith("mac") || os.startsWith("darwin") ? "macos"
                        : os.startsWith("windows") ? "windows" : os.replaceAll("[^a-z0-9]", "");
        String arch = osArch.toLowerCase(Locale.ROOT);
        String cpu = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64"
                     : arch.equals("aarch64") || arch.equals("arm64") ? "aarch64" : arch.replaceAll("[^a-z0-9_]", "");
        String file = family.equals("windows") ? NAME + ".dll"
                      : family.equals("macos") ? "lib" + NAME + ".dylib" : "lib" + NAME + ".so";
        return "/native/" + family + "-" + cpu + "/" + file;
    }
}
