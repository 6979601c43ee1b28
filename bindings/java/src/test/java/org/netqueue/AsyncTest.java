package org.netqueue;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** getAsync, cancel and statistics (1.2), Java server and clients over tcp; events: EventsTest. */
class AsyncTest {
    static final Duration T = Duration.ofSeconds(30);
    static final long S = 30; // seconds any future may take

    static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    static Communicator server() { return Communicator.server(Support.at(0)); }

    @Test
    void getAsyncRoundTripCompletesOnTheDrainThread() throws Exception {
        try (Communicator s = server(); Communicator c = Communicator.client(Support.at(s.port()))) {
            CompletableFuture<Message> f = s.getAsync(T);
            assertFalse(f.isDone(), "nothing was sent yet");
            AtomicReference<String> thread = new AtomicReference<>();
            CompletableFuture<Message> seen = f.whenComplete((m, e) -> thread.set(Thread.currentThread().getName()));
            CompletableFuture<Void> put = c.put(b("hello"));
            Message m = seen.get(S, TimeUnit.SECONDS);
            assertEquals("hello", m.text());
            assertEquals(c.id(), m.peer());
            assertTrue(thread.get().startsWith("netqueue-cq-"), "completed on " + thread.get());
            assertNull(put.get(S, TimeUnit.SECONDS));

            // and back, with a peer filter
            CompletableFuture<Message> back = c.getAsync(T, s.id());
            s.put(b("world"), c.id()).get(S, TimeUnit.SECONDS);
            assertEquals("world", back.get(S, TimeUnit.SECONDS).text());
            assertEquals(s.id(), back.get().peer());
        }
    }

    @Test
    void manyPendingReceivesTakeMessagesInOrder() throws Exception {
        try (Communicator s = server(); Communicator c = Communicator.client(Support.at(s.port()))) {
            List<CompletableFuture<Message>> fs = new ArrayList<>();
            for (int i = 0; i < 50; i++) fs.add(s.getAsync(T));
            for (int i = 0; i < 50; i++) c.put(b("m" + i));
            for (int i = 0; i < 50; i++) assertEquals("m" + i, fs.get(i).get(S, TimeUnit.SECONDS).text());
        }
    }

    @Test
    void timeoutCompletesWithEtimedout() throws Exception {
        try (Communicator s = server()) {
            long t0 = System.nanoTime();
            CompletableFuture<Message> f = s.getAsync(Duration.ofMillis(200));
            ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(S, TimeUnit.SECONDS));
            assertEquals(Status.ETIMEDOUT, ((NetqueueException) e.getCause()).status());
            assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(190), "timed out too early");
            // zero: only a message already queued
            CompletableFuture<Message> z = s.getAsync(Duration.ZERO);
            e = assertThrows(ExecutionException.class, () -> z.get(S, TimeUnit.SECONDS));
            assertEquals(Status.ETIMEDOUT, ((NetqueueException) e.getCause()).status());
            // a timeout too long for nanoseconds waits as forever
            CompletableFuture<Message> huge = s.getAsync(Duration.ofSeconds(Long.MAX_VALUE));
            assertFalse(huge.isDone());
            assertTrue(huge.cancel(true));
        }
    }

    @Test
    void cancelWithoutMessageCancelsAndTheNextReceiveGetsTheMessage() throws Exception {
        try (Communicator s = server(); Communicator c = Communicator.client(Support.at(s.port()))) {
            CompletableFuture<Message> f = s.getAsync(null);
            assertTrue(f.cancel(true));
            assertTrue(f.isCancelled());
            assertThrows(CancellationException.class, f::join);
            c.put(b("after")).get(S, TimeUnit.SECONDS);
            assertEquals("after", s.getAsync(T).get(S, TimeUnit.SECONDS).text());
            assertFalse(f.cancel(true) && !f.isCancelled());
        }
    }

    @Test
    void cancelWithMessagesInFlightLosesAndDuplicatesNone() throws Exception {
        final int n = 2000;
        try (Communicator s = server(); Communicator c = Communicator.client(Support.at(s.port()))) {
            List<String> got = Collections.synchronizedList(new ArrayList<>());
            List<CompletableFuture<Void>> puts = new ArrayList<>();
            // paced, so that receives are often waiting (cancels succeed) and
            // often just getting a message (cancels come too late)
            Thread sender = new Thread(() -> {
                for (int i = 0; i < n; i++) {
                    puts.add(c.put(b(Integer.toString(i))));
                    if (i % 4 == 0) java.util.concurrent.locks.LockSupport.parkNanos(200_000);
                }
            });
            sender.start();
            int cancelled = 0, lateCancel = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(S);
            while (got.size() < n) {
                assertTrue(System.nanoTime() < deadline, "only " + got.size() + " of " + n + " messages came");
                List<CompletableFuture<Message>> fs = new ArrayList<>();
                // a short timeout: the last round has more receives than messages left
                for (int i = 0; i < 8; i++) fs.add(s.getAsync(Duration.ofSeconds(2)));
                // cancel every other one, racing the deliveries
                for (int i = 0; i < fs.size(); i += 2) {
                    if (fs.get(i).cancel(true)) cancelled++;
                    else lateCancel++;
                }
                for (CompletableFuture<Message> f : fs) {
                    try {
                        got.add(f.get(S, TimeUnit.SECONDS).text());
                    } catch (CancellationException e) {
                        assertTrue(f.isCancelled());
                    } catch (ExecutionException e) {
                        // only when the sender is done and nothing is left
                        assertEquals(Status.ETIMEDOUT, ((NetqueueException) e.getCause()).status());
                    }
                }
            }
            sender.join(TimeUnit.SECONDS.toMillis(S));
            assertEquals(n, got.size(), "messages lost or duplicated");
            List<String> want = new ArrayList<>();
            for (int i = 0; i < n; i++) want.add(Integer.toString(i));
            assertEquals(want, got, "one peer's messages come in order, none twice");
            assertTrue(cancelled > 0, "no cancel succeeded (" + lateCancel + " came too late)");
            // nothing left over
            NetqueueException e = assertThrows(NetqueueException.class, () -> s.get(Duration.ofMillis(100)));
            assertEquals(Status.ETIMEDOUT, e.status());
        }
    }

    @Test
    void aFutureCompletedByTheApplicationHandsItsMessageToTheNextReceive() throws Exception {
        try (Communicator s = server(); Communicator c = Communicator.client(Support.at(s.port()))) {
            CompletableFuture<Message> f = s.getAsync(T);
            assertTrue(f.complete(new Message(new UUID(0, 0), new byte[0])));
            c.put(b("kept")).get(S, TimeUnit.SECONDS);
            // the native receive still takes "kept"; it goes back for the next receive
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(S);
            Message m = null;
            while (m == null) {
                assertTrue(System.nanoTime() < deadline, "the message was lost");
                try {
                    m = s.get(Duration.ofMillis(50));
                } catch (NetqueueException e) {
                    assertEquals(Status.ETIMEDOUT, e.status());
                }
            }
            assertEquals("kept", m.text());
        }
    }

    @Test
    void closeCompletesPendingReceivesWithEclosed() throws Exception {
        Communicator s = server();
        CompletableFuture<Message> f = s.getAsync(null);
        s.close(T);
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(S, TimeUnit.SECONDS));
        assertEquals(Status.ECLOSED, ((NetqueueException) e.getCause()).status());
        NetqueueException after = assertThrows(NetqueueException.class, () -> s.getAsync(T));
        assertEquals(Status.ECLOSED, after.status());
    }

    @Test
    void statsMatchTheTraffic() throws Exception {
        try (Communicator s = server(); Communicator c = Communicator.client(Support.at(s.port()))) {
            for (int i = 0; i < 10; i++) c.put(new byte[100]).get(S, TimeUnit.SECONDS);
            // the client's puts are written; the server has them once 10 are in
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(S);
            while (s.stats().get("msgs_in") < 10) {
                assertTrue(System.nanoTime() < deadline, "server stats: " + s.stats());
                Thread.sleep(10);
            }
            for (int i = 0; i < 4; i++) s.getAsync(T).get(S, TimeUnit.SECONDS);
            Map<String, Long> st = s.stats();
            assertEquals(10L, st.get("msgs_in"));
            assertEquals(1000L, st.get("bytes_in"));
            assertEquals(6L, st.get("recv_queue_msgs"));
            assertEquals(600L, st.get("recv_queue_bytes"));
            assertEquals(10L, c.stats().get("msgs_out"));
            Map<String, Long> ps = s.peerStats(c.id());
            assertEquals(10L, ps.get("msgs_in"));
            assertEquals(6L, ps.get("recv_queue_msgs"));
            assertThrows(UnsupportedOperationException.class, () -> st.put("x", 1L));
            NetqueueException none = assertThrows(NetqueueException.class, () -> s.peerStats(new UUID(1, 2)));
            assertEquals(Status.ENOPEER, none.status());
        }
    }
}
