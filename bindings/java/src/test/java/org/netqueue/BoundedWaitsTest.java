package org.netqueue;

import static org.junit.jupiter.api.Assertions.*;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Nothing waits forever by default (issue 11): close() and try-with-resources
 * are bounded by Communicator.DEFAULT_CLOSE_TIMEOUT, close(null) still waits
 * without a bound, and the connect timeout and keepalive options are checked.
 */
class BoundedWaitsTest {
    /** What the tests allow beyond a bound: thread start-up, a loaded machine. */
    static final long MARGIN_MS = 3000;

    static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    /** Sockets holding the ports of freePort() until the class is done. */
    static final List<Socket> HELD = new ArrayList<>();

    /**
     * A loopback port with nothing listening on it that stays so: a bound,
     * unconnected socket holds it (connects are refused, and no other test
     * running beside this one can listen there; a port bound then closed
     * was once taken by another test's server, and the client reached it).
     */
    static int freePort() throws Exception {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        synchronized (HELD) {
            HELD.add(s);
        }
        return s.getLocalPort();
    }

    /** Let a server of the test listen on a port of freePort(). */
    static void release(int port) throws Exception {
        synchronized (HELD) {
            for (Socket s : HELD)
                if (s.getLocalPort() == port)
                    s.close();
        }
    }

    @AfterAll
    static void releasePorts() throws Exception {
        synchronized (HELD) {
            for (Socket s : HELD)
                s.close();
            HELD.clear();
        }
    }

    static NetqueueException cause(CompletableFuture<Void> f) throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
        return assertInstanceOf(NetqueueException.class, e.getCause());
    }

    @Test
    void defaultCloseTimeoutIsTenSeconds() {
        assertEquals(Duration.ofSeconds(10), Communicator.DEFAULT_CLOSE_TIMEOUT);
    }

    @Test
    void tryWithResourcesOnAClientWithoutServerEndsWithinTheBound() throws Exception {
        int port = freePort();
        AtomicReference<CompletableFuture<Void>> put = new AtomicReference<>();
        long start = System.nanoTime();
        NetqueueException e = assertThrows(NetqueueException.class, () -> {
            try (Communicator c = Communicator.client(Support.at(port))) {
                put.set(c.put(b("nobody hears this")));
            }
        });
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertTrue(ms < Communicator.DEFAULT_CLOSE_TIMEOUT.toMillis() + MARGIN_MS, "took " + ms + " ms");
        assertEquals(Status.ETIMEDOUT, e.status());
        assertTrue(e.getMessage().contains("was not reached"), e.getMessage()); // the library's detail
        assertEquals(Status.ECANCELED, cause(put.get()).status()); // the put is reported
    }

    @Test
    void explicitShortCloseTimeoutIsHonoured() throws Exception {
        Communicator c = Communicator.client(Support.at(freePort()));
        CompletableFuture<Void> f = c.put(b("x"));
        long start = System.nanoTime();
        NetqueueException e = assertThrows(NetqueueException.class, () -> c.close(Duration.ofMillis(300)));
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertEquals(Status.ETIMEDOUT, e.status());
        assertTrue(ms < 300 + MARGIN_MS, "took " + ms + " ms");
        assertEquals(Status.ECANCELED, cause(f).status());
        c.close(); // closed already
    }

    @Test
    void closeNullWaitsPastTheDefaultBound() throws Exception {
        int port = freePort();
        Communicator c = Communicator.client(Support.at(port));
        CompletableFuture<Void> f = c.put(b("late but delivered"));
        CompletableFuture<Void> closed = CompletableFuture.runAsync(() -> c.close(null));
        Thread.sleep(Communicator.DEFAULT_CLOSE_TIMEOUT.toMillis() + 1000);
        assertFalse(closed.isDone(), "close(null) gave up");
        release(port);
        try (Communicator s = Communicator.server(Support.at(port))) {
            assertEquals("late but delivered", new String(s.get(Duration.ofSeconds(30)).data(), StandardCharsets.UTF_8));
            closed.get(30, TimeUnit.SECONDS);
        }
        f.get(0, TimeUnit.SECONDS);
    }

    @Test
    void connectTimeoutFailsPendingPutsWithEaddr() throws Exception {
        Communicator c = Communicator.client(Support.at(freePort()).connectTimeout(Duration.ofMillis(300)));
        try {
            NetqueueException e = cause(c.put(b("x")));
            assertEquals(Status.EADDR, e.status());
            assertTrue(e.getMessage().contains("not reached within the connect timeout"), e.getMessage());
        } finally {
            try {
                c.close(Duration.ofSeconds(1));
            } catch (NetqueueException e) {
                assertEquals(Status.ETIMEDOUT, e.status());
            }
        }
    }

    @Test
    void connectTimeoutAndKeepaliveAreValidated() throws Exception {
        try (Communicator s = Communicator.server(Support.at(0))) {
            CommunicatorOptions[] good = {
                Support.at(s.port()).keepalive(Duration.ofSeconds(1)),
                Support.at(s.port()).keepalive(Duration.ZERO),
                Support.at(s.port()).keepalive(null),
                Support.at(s.port()).keepalive(Duration.ofHours(24)),
                Support.at(s.port()).connectTimeout(null),
                Support.at(s.port()).connectTimeout(Duration.ZERO),
            };
            for (CommunicatorOptions o : good) {
                try (Communicator c = Communicator.client(o)) {
                    c.put(b("ok")).get(10, TimeUnit.SECONDS);
                    assertEquals("ok", new String(s.get(Duration.ofSeconds(10)).data(), StandardCharsets.UTF_8));
                }
            }
            CommunicatorOptions o = Support.at(s.port());
            Object[][] bad = {
                { (Executable) () -> o.keepalive(Duration.ofMillis(500)), "keepalive" },
                { (Executable) () -> o.keepalive(Duration.ofHours(24).plusMillis(1)), "keepalive" },
                { (Executable) () -> o.keepalive(Duration.ofSeconds(-1)), "keepalive" },
                { (Executable) () -> o.connectTimeout(Duration.ofSeconds(-1)), "connect timeout" },
            };
            for (Object[] row : bad) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, (Executable) row[0]);
                assertTrue(e.getMessage().contains((String) row[1]), e.getMessage());
            }
        }
    }
}
