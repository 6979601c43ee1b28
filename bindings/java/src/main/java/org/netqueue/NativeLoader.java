package org.netqueue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Loads the two native libraries once: libnetqueue.so.1 (the C library)
 * first, then libnetqueue_jni.so (the SWIG layer). The JNI library's NEEDED
 * entry libnetqueue.so.1 then resolves to the library already loaded (the
 * dynamic linker matches it by SONAME), so neither LD_LIBRARY_PATH nor an
 * installed libnetqueue is needed.
 * <ol>
 * <li>The system property {@code netqueue.libdir} (or the environment
 * variable {@code NETQUEUE_LIBDIR}), for developers: a directory holding
 * libnetqueue.so.1, and libnetqueue_jni.so too if that one should not come
 * from the jar. The Maven build's target/native is such a directory (what
 * the tests use), and so is a build tree's src/ for the C library alone.</li>
 * <li>Otherwise the copies inside the jar, {@code /native/linux-x86_64/},
 * extracted into a new private (0700) temporary directory and deleted as
 * soon as they are loaded: a mapped library stays usable once unlinked, and
 * nothing is left behind even if the JVM is killed.</li>
 * </ol>
 * The libraries libnetqueue needs (libev, OpenSSL, Paho MQTT, gRPC) are the
 * system's; docs/bindings-java.md lists the Debian packages.
 */
final class NativeLoader {
    static final String LIBDIR_PROPERTY = "netqueue.libdir";
    static final String LIBNETQUEUE = "libnetqueue.so.1";
    static final String LIBJNI = "libnetqueue_jni.so";
    private static boolean loaded;

    private NativeLoader() {}

    static synchronized void load() {
        if (loaded) return;
        String dir = System.getProperty(LIBDIR_PROPERTY);
        if (dir == null || dir.isEmpty()) dir = System.getenv("NETQUEUE_LIBDIR");
        if (dir != null && !dir.isEmpty()) {
            loadFromDir(Path.of(dir).toAbsolutePath());
        } else {
            loadFromJar(true);
        }
        loaded = true;
    }

    private static void loadFromDir(Path dir) {
        Path lib = dir.resolve(LIBNETQUEUE);
        if (!Files.isRegularFile(lib)) {
            throw new UnsatisfiedLinkError("netqueue: " + LIBDIR_PROPERTY + " is " + dir + ", which has no " + LIBNETQUEUE);
        }
        System.load(lib.toString());
        Path jni = dir.resolve(LIBJNI);
        if (Files.isRegularFile(jni)) {
            System.load(jni.toString());
        } else {
            loadFromJar(false);
        }
    }

    /** The jar's copies (the C library's only if withLibnetqueue). */
    private static void loadFromJar(boolean withLibnetqueue) {
        String res = "/native/" + platform() + "/";
        Path tmp = null;
        try {
            tmp = Files.createTempDirectory("netqueue-");
            Path lib = withLibnetqueue ? extract(res, LIBNETQUEUE, tmp) : null;
            Path jni = extract(res, LIBJNI, tmp);
            try {
                if (lib != null) System.load(lib.toString());
                System.load(jni.toString());
            } catch (UnsatisfiedLinkError e) {
                UnsatisfiedLinkError hint = new UnsatisfiedLinkError("netqueue: cannot load the jar's native libraries ("
                        + e.getMessage() + "). libnetqueue needs the system's libev4, libssl3, libpaho-mqtt1.3 and"
                        + " libgrpc29 (Debian packages); a java.io.tmpdir mounted noexec cannot hold them either"
                        + " (set -Djava.io.tmpdir, or -D" + LIBDIR_PROPERTY + ")");
                hint.initCause(e);
                throw hint;
            }
        } catch (IOException e) {
            throw new UnsatisfiedLinkError("netqueue: cannot extract the native libraries of the jar into "
                    + (tmp != null ? tmp : System.getProperty("java.io.tmpdir")) + " (" + e
                    + "); set java.io.tmpdir to a writable, executable place, or -D" + LIBDIR_PROPERTY
                    + " to a directory holding " + LIBNETQUEUE + " and " + LIBJNI);
        } finally {
            if (tmp != null) deleteQuietly(tmp);
        }
    }

    private static Path extract(String res, String name, Path dir) throws IOException {
        try (InputStream in = NativeLoader.class.getResourceAsStream(res + name)) {
            if (in == null) {
                throw new UnsatisfiedLinkError("netqueue: the jar has no " + res + name + " (built for linux-x86_64 only);"
                        + " set -D" + LIBDIR_PROPERTY + " to a directory holding " + LIBNETQUEUE + " and " + LIBJNI);
            }
            Path out = dir.resolve(name);
            Files.copy(in, out);
            return out;
        }
    }

    /** The jar's directory name for this OS and CPU. */
    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (arch.equals("amd64")) arch = "x86_64";
        return (os.startsWith("linux") ? "linux" : os.replace(' ', '_')) + "-" + arch;
    }

    private static void deleteQuietly(Path dir) {
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) Files.deleteIfExists(p);
            Files.deleteIfExists(dir);
        } catch (IOException ignored) {
            // a leftover temporary directory, at worst
        }
    }
}
