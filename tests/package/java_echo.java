// The program of the jar's package test (tests/package/java.sh), compiled
// and run against the jar alone:  java -cp netqueue-X.jar:classes JarEcho PORT TMPDIR
// An echo round trip with `nq server --echo` on 127.0.0.1:PORT (a short text
// and 1 MiB of every byte value), then checks, from /proc/self/maps, that
// the one libnetqueue.so.1 mapped, and libnetqueue_jni.so, were both loaded
// from one directory directly under TMPDIR (the JVM's java.io.tmpdir, where
// the loader extracts the jar's copies), and that this directory is gone.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.TreeSet;
import org.netqueue.Communicator;
import org.netqueue.CommunicatorOptions;
import org.netqueue.Message;

class JarEcho {
    static void check(boolean ok, String what) {
        if (!ok) {
            System.err.println("JarEcho: FAIL: " + what);
            System.exit(1);
        }
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        Path tmp = Path.of(args[1]).toRealPath();
        check(System.getProperty("netqueue.libdir") == null, "netqueue.libdir is set");
        check(System.getenv("LD_LIBRARY_PATH") == null, "LD_LIBRARY_PATH is set");

        byte[] big = new byte[1 << 20];
        for (int i = 0; i < big.length; i++) big[i] = (byte) (i * 31 + 7);
        byte[] text = "hello from the jar".getBytes(StandardCharsets.UTF_8);
        try (Communicator c = Communicator.client(new CommunicatorOptions().host("127.0.0.1").port(port))) {
            c.put(text).get();
            c.put(big).get();
            Message a = c.get(Duration.ofSeconds(20));
            Message b = c.get(Duration.ofSeconds(20));
            check(Arrays.equals(text, a.data()), "echo of the text: got " + a.data().length + " bytes");
            check(Arrays.equals(big, b.data()), "echo of 1 MiB: got " + b.data().length + " bytes");
        }

        // Paths of the mapped netqueue libraries ("(deleted)": the loader
        // removes its copies once they are loaded).
        TreeSet<String> lib = new TreeSet<>(), jni = new TreeSet<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] f = line.trim().split("\\s+", 6);
            if (f.length < 6) continue;
            String path = f[5].replaceFirst(" \\(deleted\\)$", "");
            String name = Path.of(path).getFileName().toString();
            if (name.startsWith("libnetqueue_jni")) jni.add(path);
            else if (name.startsWith("libnetqueue")) lib.add(path);
        }
        check(lib.size() == 1, "one libnetqueue mapped, not " + lib);
        check(jni.size() == 1, "one JNI library mapped, not " + jni);
        Path libPath = Path.of(lib.first()), jniPath = Path.of(jni.first());
        Path dir = libPath.getParent();
        check(libPath.getFileName().toString().equals("libnetqueue.so.1"), "libnetqueue mapped as " + libPath);
        check(dir.equals(jniPath.getParent()), "the two libraries come from one directory: " + libPath + ", " + jniPath);
        check(tmp.equals(dir.getParent()) && dir.getFileName().toString().startsWith("netqueue-"),
                "libnetqueue came from the jar's extraction directory under " + tmp + ", not " + libPath);
        check(!Files.exists(dir), "the extraction directory " + dir + " is left behind");
        System.out.println("JarEcho: echo round trip of " + (text.length + big.length) + " bytes; libnetqueue.so.1 and "
                + "libnetqueue_jni.so loaded from the jar's copies in " + dir + " (removed once loaded)");
    }
}
