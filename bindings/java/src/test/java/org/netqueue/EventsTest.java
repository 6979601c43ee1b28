package org.netqueue;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * Events apart from data (ABI 1.3): the options' listener fed by an
 * events-only receive of its own, get/getAsync taking data only, and the
 * Flow publishers events() and messages(). Java server and clients over tcp.
 */
class EventsTest {
    static final Duration T = Duration.ofSeconds(30);
    static final long S = 30;
    /** How long "nothing more comes" is watched for. */
    static final long QUIET_MS = 300;

    static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    static void await(BooleanSupplier cond, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(S);
        while (!cond.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
            Thread.sleep(5);
        }
    }

    static Event next(BlockingQueue<Event> q) throws InterruptedException {
        Event e = q.poll(S, TimeUnit.SECONDS);
        assertNotNull(e, "no event came");
        return e;
    }

    static long queued(Communicator c) { return c.stats().get("recv_queue_msgs"); }

    /** The communicator's drain thread is gone (close joins it). */
    static void assertDrainThreadGone(Communicator c) {
        String name = "netqueue-cq-" + c.id().toString().substring(0, 8);
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            assertFalse(t.getName().equals(name) && t.isAlive(), name + " still runs after close");
        }
    }

    /** A subscriber that records every signal, and the threads of onNext. */
    static final class Recorder<T> implements Flow.Subscriber<T> {
        final long initial;
        final BlockingQueue<T> items = new LinkedBlockingQueue<>();
        final List<String> threads = Collections.synchronizedList(new ArrayList<>());
        final CountDownLatch subscribed = new CountDownLatch(1);
        final CountDownLatch completed = new CountDownLatch(1);
        final CompletableFuture<Throwable> error = new CompletableFuture<>();
        volatile Flow.Subscription subscription;
        volatile int signalsAfterEnd;
        volatile boolean ended;

        Recorder(long initial) { this.initial = initial; }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            subscribed.countDown();
            if (initial > 0) s.request(initial);
        }

        @Override
        public void onNext(T item) {
            if (ended) signalsAfterEnd++;
            threads.add(Thread.currentThread().getName());
            items.add(item);
        }

        @Override
        public void onError(Throwable t) {
            if (ended) signalsAfterEnd++;
            ended = true;
            error.complete(t);
        }

        @Override
        public void onComplete() {
            if (ended) signalsAfterEnd++;
            ended = true;
            completed.countDown();
        }

        T next() throws InterruptedException {
            T t = items.poll(S, TimeUnit.SECONDS);
            assertNotNull(t, "nothing came");
            return t;
        }

        void assertQuiet() throws InterruptedException {
            T t = items.poll(QUIET_MS, TimeUnit.MILLISECONDS);
            assertNull(t, "came unrequested: " + t);
        }

        void assertCompleted() throws InterruptedException {
            assertTrue(completed.await(S, TimeUnit.SECONDS), "no onComplete");
            assertFalse(error.isDone(), "onError too");
            assertEquals(0, signalsAfterEnd);
        }
    }

    // ----- the listener ------------------------------------------------------

    @Test
    void theListenerHearsConnectedWhileNoGetIsPending() throws Exception {
        BlockingQueue<Event> events = new LinkedBlockingQueue<>();
        List<String> threads = Collections.synchronizedList(new ArrayList<>());
        CommunicatorOptions so = Support.at(0).events(ev -> {
            threads.add(Thread.currentThread().getName());
            events.add(ev);
        });
        try (Communicator s = Communicator.server(so); Communicator c = Communicator.client(Support.at(s.port()))) {
            c.put(b("hello")).get(S, TimeUnit.SECONDS); // the connection is up; nobody gets on s
            Event e = next(events);
            assertEquals(EventKind.CONNECTED, e.kind());
            assertEquals(c.id(), e.peer());
            assertTrue(e.detail().startsWith("127.0.0.1:"), e.detail());
            assertTrue(threads.get(0).startsWith("netqueue-cq-"), "listener ran on " + threads.get(0));
            // the data waits for a get, untouched by the event receive
            await(() -> queued(s) == 1, "the message queued on the server");
            assertEquals("hello", s.get(T).text());
        }
    }

    @Test
    void getAndGetAsyncNeverReturnAnEvent() throws Exception {
        BlockingQueue<Event> events = new LinkedBlockingQueue<>();
        try (Communicator s = Communicator.server(Support.at(0).events(events::add))) {
            Communicator c = Communicator.client(Support.at(s.port()));
            UUID cid = c.id();
            c.put(b("one"));
            c.put(b("two"));
            c.close(T); // CONNECTED, one, two, FINISHED
            assertEquals("one", s.get(T).text());
            assertEquals("two", s.getAsync(T).get(S, TimeUnit.SECONDS).text());
            // nothing but events is left: both forms time out
            NetqueueException e = assertThrows(NetqueueException.class, () -> s.get(Duration.ofMillis(200)));
            assertEquals(Status.ETIMEDOUT, e.status());
            ExecutionException x = assertThrows(ExecutionException.class,
                () -> s.getAsync(Duration.ofMillis(200)).get(S, TimeUnit.SECONDS));
            assertEquals(Status.ETIMEDOUT, ((NetqueueException) x.getCause()).status());
            // the listener had them
            Event connected = next(events);
            assertEquals(EventKind.CONNECTED, connected.kind());
            assertEquals(cid, connected.peer());
            assertEquals(new Event(EventKind.FINISHED, cid, ""), next(events));
        }
    }

    @Test
    void finishedReachesTheListenerWhileTheDataIsStillQueued() throws Exception {
        BlockingQueue<Event> events = new LinkedBlockingQueue<>();
        try (Communicator s = Communicator.server(Support.at(0).events(events::add))) {
            Communicator c = Communicator.client(Support.at(s.port()));
            UUID cid = c.id();
            for (int i = 0; i < 3; i++) c.put(b("m" + i));
            c.close(T);
            assertEquals(EventKind.CONNECTED, next(events).kind());
            Event fin = next(events);
            assertEquals(EventKind.FINISHED, fin.kind());
            assertEquals(cid, fin.peer());
            // events are not in order with the data any more: all three still wait
            assertEquals(3L, queued(s));
            for (int i = 0; i < 3; i++) assertEquals("m" + i, s.get(T).text());
        }
    }

    @Test
    void aThrowingListenerStopsNeitherTheEventsNorTheData() throws Exception {
        BlockingQueue<Event> events = new LinkedBlockingQueue<>();
        CommunicatorOptions so = Support.at(0).events(ev -> {
            events.add(ev);
            throw new IllegalStateException("listener bug (thrown on purpose by the test)");
        });
        try (Communicator s = Communicator.server(so)) {
            Communicator c1 = Communicator.client(Support.at(s.port()));
            c1.put(b("still here")).get(S, TimeUnit.SECONDS);
            assertEquals(EventKind.CONNECTED, next(events).kind());
            Communicator c2 = Communicator.client(Support.at(s.port()));
            c2.put(b("and again")).get(S, TimeUnit.SECONDS);
            Event e2 = next(events);
            assertEquals(EventKind.CONNECTED, e2.kind());
            assertEquals(c2.id(), e2.peer());
            assertEquals("still here", s.getAsync(T).get(S, TimeUnit.SECONDS).text());
            assertEquals("and again", s.get(T).text());
            c1.close(T);
            c2.close(T);
        }
    }

    @Test
    void eventOptionsRefuseNullKinds() {
        assertThrows(IllegalArgumentException.class, () -> new CommunicatorOptions().events(e -> { }, (EventKind) null));
        assertThrows(IllegalArgumentException.class, () -> new CommunicatorOptions().events((EventKind) null));
    }

    @Test
    void eventsWithoutEnablingThemIsAnIllegalState() {
        try (Communicator s = Communicator.server(Support.at(0))) {
            assertThrows(IllegalStateException.class, s::events);
        }
        CommunicatorOptions off = Support.at(0).events(ev -> { }).events((EventKind[]) null);
        try (Communicator s = Communicator.server(off)) {
            assertThrows(IllegalStateException.class, s::events);
        }
    }

    // ----- events(): the Flow.Publisher --------------------------------------

    @Test
    void aSubscriberGetsWhatItRequestsAndTheRestWaitsInTheLibrary() throws Exception {
        try (Communicator s = Communicator.server(Support.at(0).events(EventKind.CONNECTED))) {
            Recorder<Event> r = new Recorder<>(1);
            s.events().subscribe(r);
            assertTrue(r.subscribed.await(S, TimeUnit.SECONDS));
            try (Communicator c1 = Communicator.client(Support.at(s.port()));
                 Communicator c2 = Communicator.client(Support.at(s.port()))) {
                c1.put(b("1")).get(S, TimeUnit.SECONDS);
                c2.put(b("2")).get(S, TimeUnit.SECONDS);
                Event first = r.next();
                assertEquals(EventKind.CONNECTED, first.kind());
                assertTrue(r.threads.get(0).startsWith("netqueue-cq-"), "onNext on " + r.threads.get(0));
                // one requested, one delivered: the other CONNECTED stays in the
                // library's queue (with the two messages), not in Java
                await(() -> queued(s) == 3, "two messages and one event queued");
                r.assertQuiet();
                assertEquals(3L, queued(s));
                r.subscription.request(1);
                Event second = r.next();
                assertEquals(EventKind.CONNECTED, second.kind());
                assertEquals(java.util.Set.of(c1.id(), c2.id()), java.util.Set.of(first.peer(), second.peer()));
                assertEquals(2L, queued(s));
                r.assertQuiet();
                assertEquals("1", s.get(T, c1.id()).text());
                assertEquals("2", s.get(T, c2.id()).text());
            }
        }
    }

    @Test
    void closeCompletesEverySubscriber() throws Exception {
        Communicator s = Communicator.server(Support.at(0).events());
        Recorder<Event> hungry = new Recorder<>(Long.MAX_VALUE);
        Recorder<Event> idle = new Recorder<>(0);
        s.events().subscribe(hungry);
        s.events().subscribe(idle);
        Communicator c = Communicator.client(Support.at(s.port()));
        c.put(b("x")).get(S, TimeUnit.SECONDS);
        c.close(T);
        // the idle one holds the others back: nothing is taken yet
        hungry.assertQuiet();
        idle.subscription.cancel();
        assertEquals(EventKind.CONNECTED, hungry.next().kind());
        assertEquals(EventKind.FINISHED, hungry.next().kind());
        s.close(T);
        hungry.assertCompleted();
        assertDrainThreadGone(s);
        // subscribing after close: onSubscribe, then onComplete
        Recorder<Event> late = new Recorder<>(1);
        s.events().subscribe(late);
        assertTrue(late.subscribed.await(S, TimeUnit.SECONDS));
        late.assertCompleted();
        assertTrue(late.items.isEmpty());
    }

    @Test
    void anIdleSubscriberIsCompletedAtClose() throws Exception {
        Communicator s = Communicator.server(Support.at(0).events());
        Recorder<Event> idle = new Recorder<>(0);
        s.events().subscribe(idle);
        try (Communicator c = Communicator.client(Support.at(s.port()))) {
            c.put(b("x")).get(S, TimeUnit.SECONDS);
        }
        s.close(T);
        idle.assertCompleted();
        assertTrue(idle.items.isEmpty(), "nothing was requested");
    }

    @Test
    void cancelStopsDeliveryAndLosesNoEvent() throws Exception {
        try (Communicator s = Communicator.server(Support.at(0).events(EventKind.CONNECTED))) {
            Recorder<Event> r = new Recorder<>(Long.MAX_VALUE);
            s.events().subscribe(r);
            try (Communicator c1 = Communicator.client(Support.at(s.port()))) {
                c1.put(b("1")).get(S, TimeUnit.SECONDS);
                assertEquals(c1.id(), r.next().peer());
                r.subscription.cancel();
                try (Communicator c2 = Communicator.client(Support.at(s.port()))) {
                    c2.put(b("2")).get(S, TimeUnit.SECONDS);
                    r.assertQuiet();
                    assertEquals(1, r.completed.getCount(), "no onComplete after cancel");
                    // c2's CONNECTED was kept (in the library, or held by the
                    // binding if the cancel came too late): the next subscriber gets it
                    Recorder<Event> next = new Recorder<>(1);
                    s.events().subscribe(next);
                    Event e = next.next();
                    assertEquals(EventKind.CONNECTED, e.kind());
                    assertEquals(c2.id(), e.peer());
                    next.subscription.cancel();
                }
            }
            r.assertQuiet();
        }
    }

    @Test
    void subscribersCancellingWhileEventsArriveLoseAndDuplicateNone() throws Exception {
        final int n = 40;
        try (Communicator s = Communicator.server(Support.at(0).events(EventKind.CONNECTED))) {
            List<Communicator> clients = Collections.synchronizedList(new ArrayList<>());
            Thread maker = new Thread(() -> {
                for (int i = 0; i < n; i++) {
                    Communicator c = Communicator.client(Support.at(s.port()));
                    clients.add(c);
                    c.put(b("x"));
                    java.util.concurrent.locks.LockSupport.parkNanos(500_000);
                }
            });
            maker.start();
            // short-lived subscribers, each cancelled while its receive may be
            // getting an event: what one did not get, a later one does
            List<Recorder<Event>> subs = new ArrayList<>();
            java.util.Random rnd = new java.util.Random(7);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(S);
            java.util.function.IntSupplier got = () -> subs.stream().mapToInt(r -> r.items.size()).sum();
            while (got.getAsInt() < n) {
                assertTrue(System.nanoTime() < deadline, "only " + got.getAsInt() + " of " + n + " events came");
                Recorder<Event> r = new Recorder<>(1 + rnd.nextInt(3));
                subs.add(r);
                s.events().subscribe(r);
                java.util.concurrent.locks.LockSupport.parkNanos(rnd.nextInt(1_000_000));
                r.subscription.cancel();
            }
            maker.join();
            Thread.sleep(QUIET_MS); // an onNext racing the last cancel has landed
            List<UUID> peers = new ArrayList<>();
            for (Recorder<Event> r : subs) for (Event e : r.items) peers.add(e.peer());
            assertEquals(n, peers.size(), "an event came twice");
            java.util.Set<UUID> ids = new java.util.HashSet<>();
            for (Communicator c : clients) ids.add(c.id());
            assertEquals(ids, new java.util.HashSet<>(peers));
            for (Communicator c : clients) c.close(T);
        }
    }

    @Test
    void theListenerAndSubscribersSeeTheSameEvents() throws Exception {
        BlockingQueue<Event> heard = new LinkedBlockingQueue<>();
        try (Communicator s = Communicator.server(Support.at(0).events(heard::add))) {
            Recorder<Event> r = new Recorder<>(Long.MAX_VALUE);
            s.events().subscribe(r);
            Communicator c = Communicator.client(Support.at(s.port()));
            c.put(b("x")).get(S, TimeUnit.SECONDS);
            c.close(T);
            assertEquals(next(heard), r.next());
            assertEquals(next(heard), r.next());
            assertEquals("x", s.get(T).text());
        }
    }

    @Test
    void aNonPositiveRequestIsAnError() throws Exception {
        try (Communicator s = Communicator.server(Support.at(0).events())) {
            Recorder<Event> r = new Recorder<>(0);
            s.events().subscribe(r);
            r.subscription.request(0);
            Throwable t = r.error.get(S, TimeUnit.SECONDS);
            assertInstanceOf(IllegalArgumentException.class, t);
            // and it holds nobody back: a second subscriber gets events
            Recorder<Event> ok = new Recorder<>(1);
            s.events().subscribe(ok);
            try (Communicator c = Communicator.client(Support.at(s.port()))) {
                c.put(b("x")).get(S, TimeUnit.SECONDS);
                assertEquals(c.id(), ok.next().peer());
            }
        }
    }

    // ----- messages(): data as a Flow.Publisher ------------------------------

    @Test
    void messagesFollowDemandAndCompleteAtClose() throws Exception {
        Communicator s = Communicator.server(Support.at(0).events(EventKind.CONNECTED, EventKind.FINISHED));
        Recorder<Message> r = new Recorder<>(1);
        s.messages().subscribe(r);
        Communicator c = Communicator.client(Support.at(s.port()));
        for (int i = 0; i < 5; i++) c.put(b("m" + i));
        c.close(T);
        assertEquals("m0", r.next().text());
        assertTrue(r.threads.get(0).startsWith("netqueue-cq-"), "onNext on " + r.threads.get(0));
        // four messages and two events wait in the library
        await(() -> queued(s) == 6, "the rest queued");
        r.assertQuiet();
        r.subscription.request(2);
        assertEquals("m1", r.next().text());
        assertEquals("m2", r.next().text());
        r.assertQuiet();
        // a get shares the line with the subscriber
        assertEquals("m3", s.get(T).text());
        r.subscription.request(Long.MAX_VALUE);
        assertEquals("m4", r.next().text());
        s.close(T);
        r.assertCompleted();
        assertDrainThreadGone(s);
    }

    @Test
    void cancellingMessagesHandsTheNextMessageToGet() throws Exception {
        try (Communicator s = Communicator.server(Support.at(0));
             Communicator c = Communicator.client(Support.at(s.port()))) {
            Recorder<Message> r = new Recorder<>(Long.MAX_VALUE);
            s.messages(c.id()).subscribe(r);
            c.put(b("a")).get(S, TimeUnit.SECONDS);
            assertEquals("a", r.next().text());
            r.subscription.cancel();
            c.put(b("b")).get(S, TimeUnit.SECONDS);
            assertEquals("b", s.get(T).text());
            r.assertQuiet();
        }
    }
}
