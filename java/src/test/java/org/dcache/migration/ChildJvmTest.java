package org.dcache.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/**
 * A pool's JVM from the outside: the facade is loaded by a plugin class loader, the library
 * comes out of the jar, the runtime's threads find the facade's classes, the module's log
 * reaches SLF4J, -Xcheck:jni stays silent, and after close() the JVM exits on its own.
 */
class ChildJvmTest
{
    @Test
    void aPluginLoadedModuleWorksLogsThroughSlf4jAndLetsTheJvmExitAfterClose() throws Exception
    {
        String classpath = System.getProperty("dcache.migration.test.classpath");
        assertNotNull(classpath, "the build passes the test class path");
        Path out = Files.createTempFile("child-jvm", ".out");
        Path err = Files.createTempFile("child-jvm", ".err");
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        List<String> command = new ArrayList<>(List.of(java, "-Xcheck:jni", "-cp", classpath,
                                                       "-Dorg.slf4j.simpleLogger.defaultLogLevel=info"));
        if (Runtime.version().feature() >= 17) {
            command.add("--enable-native-access=ALL-UNNAMED"); // JDK 24+ warns without it
        }
        command.add(ChildJvmMain.class.getName());
        Process child = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        boolean exited = child.waitFor(60, TimeUnit.SECONDS);
        if (!exited) {
            child.destroyForcibly();
        }
        String stdout = Files.readString(out, StandardCharsets.UTF_8);
        String stderr = Files.readString(err, StandardCharsets.UTF_8);
        Files.delete(out);
        Files.delete(err);
        String both = "stdout:\n" + stdout + "\nstderr:\n" + stderr;

        assertTrue(exited, "the JVM exits by itself after close(); " + both);
        assertEquals(0, child.exitValue(), both);
        assertTrue(stdout.contains("facade loaded by plugin"), both);
        assertTrue(stdout.contains("caught MigrationException 2: Job not found"), both);
        assertTrue(stdout.contains("scanned on migration-child-"), both);
        assertTrue(stdout.contains("with the plugin loader"), "runtime threads get the facade's loader; " + both);
        assertTrue(stdout.contains("child loaded the library from jar resource /native/"), both);
        assertTrue(stderr.contains("migration.jni - migration module started"), "log reaches SLF4J; " + both);
        assertFalse(both.contains("WARNING"), "-Xcheck:jni and the JVM are silent; " + both);
        assertFalse(both.contains("Exception in thread") || both.contains("\tat "), "no stack traces; " + both);
    }
}
