package org.netqueue;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Test peers: the C `nq server` on a free loopback port, and options. */
final class Support {
    private Support() {}

    static CommunicatorOptions at(int port) {
        return new CommunicatorOptions().host("127.0.0.1").port(port);
    }

    /**
     * The C tool: NQ_CLI (the pom's netqueue.cli, which ctest sets to the
     * build's), a path or a name looked up on PATH. Missing: the test fails.
     */
    static String cli() {
        String cli = System.getenv().getOrDefault("NQ_CLI", "nq");
        if (!cli.contains("/")) {
            for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
                if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, cli))) return Path.of(dir, cli).toString();
            }
        }
        if (!Files.isExecutable(Path.of(cli))) {
            fail("no nq tool at " + cli + " (install netqueue's tools, or run mvn with -Dnetqueue.cli=/path/to/nq)");
        }
        return cli;
    }

    /** A C server (`nq server`) started with port 0; stopped by close(). */
    static final class CServer implements AutoCloseable {
        final Process proc;
        final int port;

        CServer(String... args) throws IOException {
            String cli = cli();
            List<String> cmd = new ArrayList<>(List.of(cli, "server", "--host", "127.0.0.1", "--port", "0"));
            cmd.addAll(List.of(args));
            proc = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            BufferedReader err = new BufferedReader(new InputStreamReader(proc.getErrorStream(), StandardCharsets.UTF_8));
            Pattern p = Pattern.compile("listening on .*:(\\d+)");
            int found = -1;
            StringBuilder said = new StringBuilder();
            for (String line; (line = err.readLine()) != null; ) {
                said.append(line).append('\n');
                Matcher m = p.matcher(line);
                if (m.find()) { found = Integer.parseInt(m.group(1)); break; }
            }
            if (found < 0) throw new IOException("nq server did not start: " + said);
            port = found;
            Thread t = new Thread(() -> { try { for (String l; (l = err.readLine()) != null; ) System.err.println(l); } catch (IOException ignored) { } });
            t.setDaemon(true);
            t.start();
        }

        @Override
        public void close() throws InterruptedException {
            proc.destroy();
            if (!proc.waitFor(10, TimeUnit.SECONDS)) proc.destroyForcibly();
        }
    }
}
