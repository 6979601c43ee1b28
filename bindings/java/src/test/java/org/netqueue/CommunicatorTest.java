package org.netqueue;

import static org.junit.jupiter.api.Assertions.*;

import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Java server and Java clients in one process, through the binding. */
class CommunicatorTest {
    static final Duration T = Duration.ofSeconds(30);

    static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    static Communicator server() { return Communicator.server(Support.at(0)); }

    /** Wait until the server lists n clients (their ini arrived). */
    static void awaitPeers(Communicator s, int n) throws InterruptedException {
        while (s.peers().size() < n) Thread.sleep(10);
    }

    @Test
    void broadcastAndTargetedPuts() throws Exception {
        try (Communicator s = server();
             Communicator a = Communicator.client(Support.at(s.port()));
             Communicator c = Communicator.client(Support.at(s.port()))) {
            a.put(b("a")).get();
            c.put(b("c")).get();
            Set<String> got = new HashSet<>();
            for (int i = 0; i < 2; i++) got.add(new String(s.get(T).data(), StandardCharsets.UTF_8));
            assertEquals(Set.of("a", "c"), got);
            awaitPeers(s, 2);

            s.put(b("all")).get();
            assertEquals("all", a.get(T).text());
            assertEquals("all", c.get(T).text());

            s.put(b("only a"), a.id()).get();
            assertEquals("only a", a.get(T).text());
            NetqueueException none = assertThrows(NetqueueException.class, () -> c.get(Duration.ofMillis(200)));
            assertEquals(Status.ETIMEDOUT, none.status());
        }
    }

    @Test
    void completionRunsOnTheBindingsDrainThread() throws Exception {
        // A listener that never answers: the put stays pending (no ini), so
        // the callback is attached before it completes, by close's cancel.
        try (ServerSocket silent = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            Communicator c = Communicator.client(Support.at(silent.getLocalPort()));
            CompletableFuture<Void> f = c.put(b("never sent"));
            AtomicReference<String> thread = new AtomicReference<>();
            CompletableFuture<Void> seen = f.whenComplete((v, e) -> thread.set(Thread.currentThread().getName()));
            assertFalse(f.isDone());
            assertThrows(NetqueueException.class, () -> c.close(Duration.ofMillis(100)));
            ExecutionException e = assertThrows(ExecutionException.class, seen::get);
            assertEquals(Status.ECANCELED, ((NetqueueException) e.getCause()).status());
            assertTrue(thread.get().startsWith("netqueue-cq-"), "completed on " + thread.get());
        }
    }

    @Test
    void closeWhileDataInFlight() throws Exception {
        // The server never gets and its queue is small: the client cannot
        // flush 64 MiB, so close times out and cancels what is left.
        try (Communicator s = Communicator.server(Support.at(0).queueLimit(1024))) {
            Communicator c = Communicator.client(Support.at(s.port()));
            byte[] mib = new byte[1 << 20];
            List<CompletableFuture<Void>> puts = new ArrayList<>();
            for (int i = 0; i < 64; i++) puts.add(c.put(mib));
            try {
                c.close(Duration.ofMillis(300));
            } catch (NetqueueException e) {
                assertEquals(Status.ETIMEDOUT, e.status());
            }
            int cancelled = 0;
            for (CompletableFuture<Void> f : puts) {
                assertTrue(f.isDone(), "every put completes before close returns");
                if (f.isCompletedExceptionally()) {
                    ExecutionException e = assertThrows(ExecutionException.class, f::get);
                    Status st = ((NetqueueException) e.getCause()).status();
                    assertTrue(st == Status.ECANCELED || st == Status.ERESET, st.toString());
                    cancelled++;
                }
            }
            assertTrue(cancelled > 0, "some of 64 MiB must still have been in flight");
            NetqueueException after = assertThrows(NetqueueException.class, () -> c.put(mib));
            assertEquals(Status.ECLOSED, after.status());
            s.close(Duration.ZERO);
        } catch (NetqueueException e) {
            assertEquals(Status.ETIMEDOUT, e.status()); // the server's own close, cut short
        }
    }

    @Test
    void badOptionsThrowIllegalArgumentWithTheLibrarysDetail() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Support.at(70000));
        assertEquals("options: port 70000 is not in 0..65535", e.getMessage());
        assertEquals(Status.EINVAL, ((NetqueueException) e.getCause()).status());
        IllegalArgumentException q = assertThrows(IllegalArgumentException.class,
                () -> Support.at(0).queueLimit(10));
        assertTrue(q.getMessage().contains("queue limit 10"), q.getMessage());
    }

    @Test
    void closedPeerAndUnknownPeer() throws Exception {
        try (Communicator s = server()) {
            Communicator c = Communicator.client(Support.at(s.port()));
            c.put(b("hi")).get();
            assertEquals("hi", s.get(T).text());
            awaitPeers(s, 1);
            UUID gone = c.id();
            c.close(T);
            while (!s.peers().isEmpty()) Thread.sleep(10);
            NetqueueException e = assertThrows(NetqueueException.class, () -> s.put(b("x"), gone));
            assertEquals(Status.ENOPEER, e.status());
            NetqueueException closed = assertThrows(NetqueueException.class, () -> c.get(Duration.ZERO));
            assertEquals(Status.ECLOSED, closed.status());
            try (Communicator other = Communicator.client(Support.at(s.port()))) {
                NetqueueException client = assertThrows(NetqueueException.class,
                        () -> other.put(b("x"), UUID.randomUUID()));
                assertEquals(Status.EINVAL, client.status(), "only a server may name peers");
            }
        }
    }

    @Test
    void pickledStringsAsAPythonPeerSendsThem() {
        assertEquals("Hello, Client!", Pickle.loadsString(Pickle.dumps("Hello, Client!")));
        NetqueueException e = assertThrows(NetqueueException.class, () -> Pickle.loadsString(b("not a pickle")));
        assertEquals(Status.ECODEC, e.status());
    }
}
