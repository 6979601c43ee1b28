package org.netqueue;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The developers' override, netqueue.libdir: the build runs the tests with
 * it (target/native, or the directory given to mvn as -Dnetqueue.libdir,
 * which surefire passes on), so libnetqueue.so.1 must have been mapped from
 * there, the JNI library from there too if it has one, else from the jar's
 * copy (extracted into a netqueue-* temporary directory) — and no other
 * libnetqueue. (The jar alone is the package test's, tests/package/java.sh:
 * one load per JVM.)
 */
class NativeLoaderTest {
    @Test
    void libnetqueueComesFromNetqueueLibdir() throws Exception {
        String dir = System.getProperty(NativeLoader.LIBDIR_PROPERTY);
        assertNotNull(dir, "the build sets netqueue.libdir for the tests (pom.xml, surefire argLine)");
        NativeLoader.load();
        Path libdir = Path.of(dir).toRealPath();
        TreeSet<String> lib = new TreeSet<>(), jni = new TreeSet<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] f = line.trim().split("\\s+", 6);
            if (f.length < 6) continue;
            if (f[5].contains("/libnetqueue_jni")) jni.add(f[5]);
            else if (f[5].contains("/libnetqueue")) lib.add(f[5]);
        }
        assertEquals(Set.of(libdir.resolve(NativeLoader.LIBNETQUEUE).toRealPath().toString()), lib,
                "the libnetqueue mapped");
        assertEquals(1, jni.size(), "one JNI library mapped: " + jni);
        Path jniPath = Path.of(jni.first().replaceFirst(" \\(deleted\\)$", ""));
        if (Files.exists(libdir.resolve(NativeLoader.LIBJNI))) {
            assertEquals(libdir.resolve(NativeLoader.LIBJNI), jniPath);
        } else {
            assertTrue(jniPath.getParent().getFileName().toString().startsWith("netqueue-"), "the jar's JNI library: " + jniPath);
            assertFalse(Files.exists(jniPath.getParent()), "its extraction directory is removed");
        }
    }

    @Test
    void thisMachineIsTheJarsPlatform() {
        assertEquals("linux-x86_64", NativeLoader.platform());
        assertNotNull(NativeLoader.class.getResource("/native/linux-x86_64/" + NativeLoader.LIBNETQUEUE),
                "the build staged libnetqueue.so.1 as a resource of the jar");
        assertNotNull(NativeLoader.class.getResource("/native/linux-x86_64/" + NativeLoader.LIBJNI));
    }
}
