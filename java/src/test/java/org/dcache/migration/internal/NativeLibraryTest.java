package org.dcache.migration.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;

import org.junit.jupiter.api.Test;

/** Finding, checking and packaging the native library. */
class NativeLibraryTest
{
    @Test
    void theLibraryNamedByThePropertyIsLoadedAndSpeaksThisContract()
    {
        String property = System.getProperty(NativeLibrary.PROPERTY);
        assertNotNull(property, "the build passes -D" + NativeLibrary.PROPERTY);
        assertEquals(new File(property).getAbsolutePath(), NativeLibrary.load());
        assertEquals(NativeLibrary.ABI_VERSION, Natives.abiVersion());
    }

    @Test
    void aLibraryOfAnotherAbiIsRefusedWithAClearMessage()
    {
        UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class,
                                              () -> NativeLibrary.checkAbi(2, 1, "/tmp/libdcache_migration.so"));
        assertTrue(e.getMessage().contains("has ABI version 2 but this dCache migration facade needs version 1"),
                   e.getMessage());
        NativeLibrary.checkAbi(1, 1, "same");
    }

    @Test
    void resourcePathsNameOsAndArchitecture()
    {
        assertEquals("/native/linux-x86_64/libdcache_migration.so", NativeLibrary.resourcePath("Linux", "amd64"));
        assertEquals("/native/linux-aarch64/libdcache_migration.so", NativeLibrary.resourcePath("Linux", "aarch64"));
        assertEquals("/native/macos-aarch64/libdcache_migration.dylib",
                     NativeLibrary.resourcePath("Mac OS X", "aarch64"));
        assertEquals("/native/windows-x86_64/dcache_migration.dll",
                     NativeLibrary.resourcePath("Windows 11", "amd64"));
    }

    @Test
    void theJarUnderTestCarriesTheLibraryForThisPlatform()
    {
        String path = NativeLibrary.resourcePath(System.getProperty("os.name"), System.getProperty("os.arch"));
        assertNotNull(NativeLibrary.class.getResource(path), path + " is packaged");
    }
}
