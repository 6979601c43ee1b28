package org.netqueue;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** A Python client of the Python binding (pickle) against this Java server. */
@Tag("interop")
class CrossLanguageTest {
    @Test
    void pythonClientToJavaServer() throws Exception {
        String py = System.getenv().getOrDefault("NQ_PY_PYTHON", "../../.venv-bindings/bin/python");
        Assumptions.assumeTrue(Files.isExecutable(Path.of(py)), "no Python binding venv at " + py);
        Path hello = Path.of("../python/examples/hello.py");
        try (Communicator server = Communicator.server(Support.at(0))) {
            Process p = new ProcessBuilder(py, hello.toString(), "--port", String.valueOf(server.port()),
                    "--text", "Hello from Python").redirectError(ProcessBuilder.Redirect.INHERIT).start();
            Message m = server.get(Duration.ofSeconds(60));
            assertEquals("Hello from Python", m.pickledString());
            server.putPickled("Hello, Client!", m.peer()).get();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue());
            assertEquals("Hello, Client!", out);
        }
    }
}
