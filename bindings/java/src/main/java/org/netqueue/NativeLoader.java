package org.netqueue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Loads libnetqueue_jni.so once. In order:
 * <ol>
 * <li>the file named by the system property {@code netqueue.jni.path} or the
 * environment variable {@code NETQUEUE_JNI_PATH};</li>
 * <li>{@code System.loadLibrary("netqueue_jni")}, i.e. java.library.path (set
 * by the Maven build for {@code mvn test});</li>
 * <li>the copy inside the jar ({@code native/linux-x86_64/}), extracted to a
 * temporary file.</li>
 * </ol>
 * The JNI library finds libnetqueue.so.1 through its rpath (the directory it
 * was built against) or the system's library path.
 */
final class NativeLoader {
    private static boolean loaded;

    private NativeLoader() {}

    static synchronized void load() {
        if (loaded) return;
        String path = System.getProperty("netqueue.jni.path", System.getenv("NETQUEUE_JNI_PATH"));
        if (path != null && !path.isEmpty()) {
            System.load(Path.of(path).toAbsolutePath().toString());
        } else {
            try {
                System.loadLibrary("netqueue_jni");
            } catch (UnsatisfiedLinkError notOnPath) {
                loadFromJar(notOnPath);
            }
        }
        loaded = true;
    }

    private static void loadFromJar(UnsatisfiedLinkError cause) {
        String res = "/native/linux-x86_64/libnetqueue_jni.so";
        try (InputStream in = NativeLoader.class.getResourceAsStream(res)) {
            if (in == null) throw cause;
            Path tmp = Files.createTempFile("netqueue_jni", ".so");
            tmp.toFile().deleteOnExit();
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            System.load(tmp.toString());
        } catch (IOException e) {
            UnsatisfiedLinkError err = new UnsatisfiedLinkError("netqueue: cannot extract " + res + ": " + e);
            err.initCause(cause);
            throw err;
        }
    }
}
