package org.netqueue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicInteger;
import org.netqueue.swig.Comm;
import org.netqueue.swig.CompletionQueue;
import org.netqueue.swig.Options;
import org.netqueue.swig.nqswig;

/**
 * A net-queue client or server over libnetqueue. Thread-safe; close it (it is
 * AutoCloseable). Puts and asynchronous receives (getAsync) complete
 * through an nq_cq drained by a thread of this class ("netqueue-cq-..."):
 * no library thread ever calls into the JVM, and C holds only integer
 * tags, never Java objects. The futures, and what is
 * chained on them without an executor, complete on that thread.
 *
 * Data and peer events are received apart (ABI 1.3, nq_comm_get_kinds*):
 * get and getAsync take data only; events go to the listener of the
 * options and to the subscribers of {@link #events()} through one
 * events-only receive of their own, kept pending into the same queue.
 *
 * The put path is kept short (its cost is what the binding benchmark
 * measures): the tag is a slot of an array of pending futures, the guard
 * against a concurrent free is an atomic counter, and the drain thread takes
 * completions in batches (one JNI call and one lock for many).
 */
public final class Communicator implements AutoCloseable {
    static { NativeLoader.load(); }

    /**
     * How long {@link #close()} (so try-with-resources) waits for the peers
     * before it cuts the connections and throws ETIMEDOUT: 10 s, as in every
     * binding. {@code close(null)} waits without a bound.
     */
    public static final Duration DEFAULT_CLOSE_TIMEOUT = Duration.ofSeconds(10);

    private final UUID id;
    private final Purpose purpose;
    private final Comm comm;
    private final CompletionQueue cq;
    private final Pending pending = new Pending();
    private final Thread drain;
    // Calls in flight into comm: it is freed only when none is (nq_comm_free
    // must not race other calls). A call counts itself, then checks freed;
    // release sets freed, then waits for the count to drop to 0 (volatile
    // and atomic accesses are sequentially consistent, so one of the two
    // sees the other).
    private final AtomicInteger calls = new AtomicInteger();
    private volatile boolean freed;
    private final EventPump events;
    // Subscriptions of messages(): ended (onComplete) when the drain thread stops.
    private final java.util.Set<MessageSub> messageSubs = new java.util.HashSet<>(); // guarded by itself
    private boolean messageSubsEnded; // guarded by messageSubs
    // Messages a receive got after its future had been completed otherwise
    // (complete()/obtrude by the application): the next receive takes them
    // first, so that none is lost.
    private final java.util.ArrayDeque<Message> putBack = new java.util.ArrayDeque<>();

    /** Futures of puts and receives in flight, by tag: a slot array with a free list. */
    private static final class Pending {
        private CompletableFuture<?>[] slots = new CompletableFuture<?>[1024];
        private int[] free = new int[1024];
        private int nfree, used;

        synchronized long add(CompletableFuture<?> f) {
            int i;
            if (nfree > 0) {
                i = free[--nfree];
            } else {
                if (used == slots.length) slots = java.util.Arrays.copyOf(slots, used * 2);
                i = used++;
            }
            slots[i] = f;
            return i;
        }

        /** Take the futures of tags[0, 4, 8...) (quads as drained) into out. */
        synchronized void take(long[] quads, int n, CompletableFuture<?>[] out) {
            for (int k = 0; k < n; k++) {
                long tag = quads[4 * k];
                out[k] = tag >= 0 && tag < used ? slots[(int) tag] : null;
                if (out[k] == null) continue;
                slots[(int) tag] = null;
                if (nfree == free.length) free = java.util.Arrays.copyOf(free, nfree * 2);
                free[nfree++] = (int) tag;
            }
        }

        synchronized void drop(long tag) {
            long[] quad = { tag, 0, 0, 0 };
            take(quad, 1, new CompletableFuture<?>[1]);
        }
    }

    /**
     * A communicator. IllegalArgumentException for a null argument, or for
     * options the library refuses together (EINVAL from nq_comm_new, e.g. a
     * TLS server without its key: the library's detail, the
     * NetqueueException as cause); NetqueueException for the other failures
     * (EUNSUPPORTED for a transport this build of the library lacks, EADDR
     * for a port in use...).
     */
    public Communicator(Protocol protocol, Purpose purpose, CommunicatorOptions options) {
        if (protocol == null) throw new IllegalArgumentException("comm: protocol is null");
        if (purpose == null) throw new IllegalArgumentException("comm: purpose is null");
        if (options == null) throw new IllegalArgumentException("comm: options is null");
        this.id = options.id();
        this.purpose = purpose;
        this.events = new EventPump(options.eventMask(), options.eventListener());
        Options o = options.toNative();
        try {
            int proto = switch (protocol) {
                case TCP -> nqswig.TCP;
                case MQTT -> nqswig.MQTT;
                case GRPC -> nqswig.GRPC;
            };
            comm = new Comm(proto, purpose == Purpose.SERVER ? nqswig.SERVER : nqswig.CLIENT, o);
        } catch (NetqueueException e) {
            throw CommunicatorOptions.invalid(e);
        } finally {
            o.delete();
        }
        cq = new CompletionQueue();
        drain = new Thread(this::drainLoop, "netqueue-cq-" + id.toString().substring(0, 8));
        drain.setDaemon(true);
        drain.start();
        events.reconcile(); // with a listener: the events receive, pending from now on
    }

    public static Communicator server(CommunicatorOptions options) {
        return new Communicator(Protocol.TCP, Purpose.SERVER, options);
    }

    public static Communicator client(CommunicatorOptions options) {
        return new Communicator(Protocol.TCP, Purpose.CLIENT, options);
    }

    private static final int DRAIN_BATCH = 1024;

    /*
     * The one drain thread: puts' and receives' completions, in batches
     * (drain_msgs: nq_cq_next_msg, which hands a receive's message over).
     * A quad is (tag, status, message pointer or 0, kind).
     */
    @SuppressWarnings("unchecked")
    private void drainLoop() {
        long[] quads = new long[4 * DRAIN_BATCH];
        CompletableFuture<?>[] futures = new CompletableFuture<?>[DRAIN_BATCH];
        while (true) {
            int n = nqswig.cq_drain_msgs(cq, quads, -1);
            if (n < 0) { // shut down and drained
                endFlows();
                return;
            }
            pending.take(quads, n, futures);
            for (int k = 0; k < n; k++) {
                CompletableFuture<?> f = futures[k];
                futures[k] = null;
                int status = (int) quads[4 * k + 1];
                long msg = quads[4 * k + 2];
                if (f instanceof GetFuture g) {
                    try {
                        completeGet(g, status, msg);
                    } catch (Throwable t) { // OutOfMemoryError copying a message out: the drain thread goes on
                        g.completeExceptionally(t);
                    }
                    continue;
                }
                if (f instanceof EventReceive r) {
                    try {
                        events.completed(r, status, msg, (int) quads[4 * k + 3]);
                    } catch (Throwable t) { // OutOfMemoryError: the subscribers hear it, the drain thread goes on
                        events.end(t);
                    }
                    continue;
                }
                if (msg != 0) nqswig.msg_discard(msg); // never: puts carry none
                if (f == null) continue;
                CompletableFuture<Void> p = (CompletableFuture<Void>) f;
                if (status == 0) {
                    p.complete(null);
                } else {
                    p.completeExceptionally(new NetqueueException(status, putFailure(status)));
                }
            }
        }
    }

    /** A data receive's completion, on the drain thread. */
    private void completeGet(GetFuture g, int status, long msg) {
        if (status == 0) {
            byte[] raw = nqswig.msg_take(msg); // kind is data: the receive accepts nothing else
            UUID peer = CommunicatorOptions.uuid(raw, 0);
            Message m = new Message(peer, java.util.Arrays.copyOfRange(raw, 16, raw.length));
            if (!g.complete(m)) {
                synchronized (putBack) { putBack.addLast(m); }
            }
            return;
        }
        switch (Status.of(status)) {
            case ECANCELED -> g.cancelled();
            case ETIMEDOUT -> g.completeExceptionally(new NetqueueException(status, "get: no message within the timeout"));
            case ECLOSED -> g.completeExceptionally(new NetqueueException(status, "get: the communicator is closed and drained"));
            default -> g.completeExceptionally(new NetqueueException(status, "get: " + nqswig.strerror_(status)));
        }
    }

    /**
     * The future of {@link #getAsync}. cancel() asks the library first
     * (nq_comm_get_cancel): it returns true only when the receive had no
     * message yet; when it is too late it returns false and the future
     * completes with the message, so a cancel never loses one.
     */
    private final class GetFuture extends CompletableFuture<Message> {
        final byte[] peers;
        final long deadline; // System.nanoTime() deadline; Long.MAX_VALUE: none
        volatile long op;

        GetFuture(byte[] peers, long deadline) {
            this.peers = peers;
            this.deadline = deadline;
        }

        long remainingMillis() {
            if (deadline == Long.MAX_VALUE) return -1;
            long ns = deadline - System.nanoTime();
            return ns <= 0 ? 0 : (ns + 999_999) / 1_000_000;
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            if (isDone()) return isCancelled();
            int r;
            calls.incrementAndGet();
            try {
                // freed: nq_comm_free completed every receive into the cq
                // (a message still queued, or ECLOSED); the drain delivers it
                if (freed) return false;
                r = comm.get_cancel(op);
            } finally {
                exit();
            }
            // 1: the ECANCELED completion is queued (it may be drained already)
            if (r == 1) return super.cancel(mayInterruptIfRunning) || isCancelled();
            return false; // 0: too late, the completion brings the message
        }

        void cancelled() { super.cancel(false); }
    }

    /**
     * Issue the native receive of g, data only (KINDS_DATA); the refusal
     * (nothing will complete g then), or null. The completion may come
     * before this returns, on the drain thread.
     */
    private RuntimeException issue(GetFuture g) {
        long tag = pending.add(g);
        try {
            enter();
        } catch (RuntimeException e) {
            pending.drop(tag);
            return e;
        }
        try {
            g.op = comm.get_kinds_cq(nqswig.KINDS_DATA, g.peers, g.remainingMillis(), cq, tag);
            return null;
        } catch (RuntimeException e) {
            pending.drop(tag);
            return e;
        } finally {
            exit();
        }
    }

    /** A message put back (see putBack) that peers accepts, or null. */
    private Message takePutBack(UUID[] peers) {
        synchronized (putBack) {
            if (putBack.isEmpty()) return null;
            for (java.util.Iterator<Message> it = putBack.iterator(); it.hasNext(); ) {
                Message m = it.next();
                boolean ok = peers == null || peers.length == 0;
                for (int i = 0; !ok && i < peers.length; i++) ok = m.peer().equals(peers[i]);
                if (ok) {
                    it.remove();
                    return m;
                }
            }
            return null;
        }
    }

    /**
     * Receive the next message from any peer (or one of peers) as a future,
     * without blocking: it completes on this communicator's drain thread
     * with the message, or exceptionally with a NetqueueException ETIMEDOUT
     * when timeout (null: forever; zero: only a message already queued)
     * passed, ECLOSED once closed and drained. Pending receives and
     * blocking gets are served first come, first served. cancel(true)
     * cancels the native receive when it has no message yet (true; the
     * future is cancelled); when it is too late it returns false and the
     * future completes with the message. A message that comes to a future
     * the application completed itself goes to the next receive.
     * Throws NetqueueException ECLOSED when closed.
     */
    public CompletableFuture<Message> getAsync(Duration timeout, UUID... peers) {
        long ms = millis(timeout);
        GetFuture g = new GetFuture(peerBytes(peers), deadline(ms));
        Message back = takePutBack(peers);
        if (back != null) {
            g.complete(back);
            return g;
        }
        RuntimeException refused = issue(g);
        if (refused != null) throw refused; // ECLOSED, EINVAL: thrown, as a put's are
        return g;
    }

    /** {@link #getAsync(Duration, UUID...)} from any peer, without a timeout. */
    public CompletableFuture<Message> getAsync() { return getAsync(null); }

    // ----- events apart from data (ABI 1.3) and Flow publishers -------------

    /**
     * The peer events enabled in the options
     * ({@link CommunicatorOptions#events(EventKind...)} or the listener form),
     * as a {@link Flow.Publisher}. Each subscriber gets the events taken from
     * the library after it subscribed, in the order they happened (among
     * themselves: not in order with the data, which get and getAsync take
     * apart), on this communicator's drain thread, within its demand.
     * The binding keeps one events-only receive pending in the library while
     * every subscriber has demand left (and while the options' listener, if
     * any, waits for events): a subscriber that requests nothing leaves the
     * events queued in the library's bounded receive queue, and holds back
     * the listener and the other subscribers. Every subscriber gets
     * onComplete when the communicator is closed (events it did not request
     * by then are dropped with the library's queue), onError if the events
     * receive failed. cancel() stops its deliveries.
     * Throws IllegalStateException when the options enabled no events.
     */
    public Flow.Publisher<Event> events() {
        if (!events.enabled()) {
            throw new IllegalStateException("events: none enabled (CommunicatorOptions.events)");
        }
        return events;
    }

    /**
     * Data messages from any peer (or one of peers) as a
     * {@link Flow.Publisher}: each subscriber keeps one data receive
     * pending (as getAsync, no timeout) while it has demand, and none
     * otherwise, so unrequested messages stay in the library's bounded
     * receive queue. Subscribers, get and getAsync share one first come,
     * first served line: each message goes to one of them. onNext runs on
     * the drain thread; onComplete once the communicator is closed and
     * drained (messages not requested by then are dropped with the
     * library's queue); cancel() hands a message its receive got too late
     * to the next get.
     */
    public Flow.Publisher<Message> messages(UUID... peers) {
        UUID[] ps = peers == null ? new UUID[0] : peers.clone();
        for (UUID p : ps) {
            if (p == null) throw new IllegalArgumentException("messages: a peer is null");
        }
        return subscriber -> {
            java.util.Objects.requireNonNull(subscriber, "subscriber"); // rule 1.9
            MessageSub s = new MessageSub(subscriber, ps);
            boolean late;
            synchronized (messageSubs) {
                late = messageSubsEnded;
                if (!late) messageSubs.add(s);
            }
            s.start();
            if (late) s.terminate(null);
        };
    }

    /** The drain thread stops: every subscriber completes. */
    private void endFlows() {
        events.end(null);
        List<MessageSub> left;
        synchronized (messageSubs) {
            messageSubsEnded = true;
            left = new ArrayList<>(messageSubs);
            messageSubs.clear();
        }
        for (MessageSub s : left) s.terminate(null);
    }

    /** A subscription of {@link #messages}: one getAsync at a time, while it has demand. */
    private final class MessageSub extends FlowSubscription<Message> {
        private final UUID[] peers;
        private CompletableFuture<Message> inflight; // guarded by this
        private boolean issuing;                      // guarded by this

        MessageSub(Flow.Subscriber<? super Message> subscriber, UUID[] peers) {
            super(subscriber);
            this.peers = peers;
        }

        @Override
        void more() {
            synchronized (this) {
                if (issuing || inflight != null || !wants()) return;
                issuing = true;
            }
            CompletableFuture<Message> g;
            try {
                g = getAsync(null, peers);
            } catch (RuntimeException e) { // ECLOSED: freed
                synchronized (this) { issuing = false; }
                finish(e);
                return;
            }
            synchronized (this) {
                issuing = false;
                if (!g.isDone()) inflight = g;
            }
            g.whenComplete((m, e) -> arrived(g, m, e)); // may run now (a put-back message)
            if (isFinished()) g.cancel(true); // cancelled while it was being issued
        }

        @Override
        void cancelled(List<Message> undelivered) {
            CompletableFuture<Message> g;
            synchronized (messageSubs) { messageSubs.remove(this); }
            if (!undelivered.isEmpty()) { // for the next receive, first
                synchronized (putBack) {
                    for (int i = undelivered.size() - 1; i >= 0; i--) putBack.addFirst(undelivered.get(i));
                }
            }
            synchronized (this) { g = inflight; }
            if (g != null) g.cancel(true); // too late: arrived() puts its message back
        }

        private void arrived(CompletableFuture<Message> g, Message m, Throwable e) {
            synchronized (this) {
                if (inflight == g) inflight = null;
            }
            if (e == null) {
                if (!enqueue(m)) { // cancelled meanwhile: for the next receive
                    synchronized (putBack) { putBack.addLast(m); }
                    return;
                }
                drain();
                more();
                return;
            }
            if (e instanceof CancellationException) { // by cancelled()
                more();
                return;
            }
            finish(e instanceof CompletionException && e.getCause() != null ? e.getCause() : e);
        }

        /** ECLOSED (closed and drained): onComplete; another failure: onError. */
        private void finish(Throwable e) {
            synchronized (messageSubs) { messageSubs.remove(this); }
            boolean closed = e instanceof NetqueueException ne && ne.status() == Status.ECLOSED;
            terminate(closed ? null : e);
        }
    }

    /** The events receive's entry in pending: one per arming, so a late completion is told apart. */
    private static final class EventReceive extends CompletableFuture<Void> {
        long op;            // guarded by the pump, valid once opKnown
        boolean opKnown;    // guarded by the pump
        boolean cancelling; // guarded by the pump
    }

    /**
     * Events apart from data: one events-only receive (get_kinds_cq with
     * KINDS_EVENTS into the communicator's cq, no timeout) pending while
     * the listener and every subscriber want events; each event goes to the
     * listener, then to the subscribers, on the drain thread, and the
     * receive is armed again. When the wish goes (a subscriber without
     * demand) the pending receive is cancelled, and an event its cancel
     * came too late for is queued for the subscribers (or held for the next
     * one when there is none), never dropped.
     */
    private final class EventPump implements Flow.Publisher<Event> {
        private final int mask;
        private final java.util.function.Consumer<Event> listener;
        private final List<EventSub> subs = new ArrayList<>(); // guarded by this
        private EventReceive armed; // guarded by this: pending in the library, or null
        // guarded by this: events taken when nobody was left to take them (a
        // cancel came too late, or the last subscriber left before it got
        // them), for the next subscriber
        private final java.util.ArrayDeque<Event> held = new java.util.ArrayDeque<>();
        private boolean ended;      // guarded by this
        private Throwable failure;  // guarded by this: why it ended, null for close

        EventPump(int mask, java.util.function.Consumer<Event> listener) {
            this.mask = mask;
            this.listener = mask != 0 ? listener : null;
        }

        boolean enabled() { return mask != 0; }

        /** Someone waits and every subscriber has demand left. Under this. */
        private boolean wanted() {
            if (ended || mask == 0 || (listener == null && subs.isEmpty())) return false;
            for (EventSub s : subs) {
                if (!s.wants()) return false;
            }
            return true;
        }

        @Override
        public void subscribe(Flow.Subscriber<? super Event> subscriber) {
            java.util.Objects.requireNonNull(subscriber, "subscriber"); // rule 1.9
            EventSub s = new EventSub(subscriber);
            s.start(); // registered after onSubscribe: a request in it arms below
            boolean late;
            Throwable why;
            synchronized (this) {
                late = ended;
                why = failure;
                if (!late && !s.isFinished()) subs.add(s);
            }
            if (late) s.terminate(why);
            else reconcile();
        }

        /**
         * Bring the library's receive in line with the wish: hand a held
         * event on, arm, or cancel. Any thread, no lock held.
         */
        void reconcile() {
            while (true) {
                List<EventSub> deliver = null;
                EventReceive arm = null, cancel = null;
                synchronized (this) {
                    boolean want = wanted();
                    if (want && !held.isEmpty()) {
                        while (!held.isEmpty() && enqueueAll(held.peekFirst())) held.pollFirst();
                        deliver = new ArrayList<>(subs);
                    } else if (want && armed == null) {
                        arm = armed = new EventReceive();
                    } else if (!want && armed != null && armed.opKnown && !armed.cancelling) {
                        armed.cancelling = true;
                        cancel = armed;
                    } else {
                        return;
                    }
                }
                if (deliver != null) {
                    for (EventSub s : deliver) s.drain();
                } else if (arm != null) {
                    if (!arm(arm)) return;
                } else {
                    cancelNative(cancel);
                    return;
                }
            }
        }

        /** Issue r in the library; false when refused (it is no longer armed). */
        private boolean arm(EventReceive r) {
            long tag = pending.add(r);
            try {
                enter();
            } catch (RuntimeException e) { // freed: the drain thread's end completes the subscribers
                pending.drop(tag);
                synchronized (this) { if (armed == r) armed = null; }
                return false;
            }
            try {
                long op = comm.get_kinds_cq(nqswig.KINDS_EVENTS, null, -1, cq, tag);
                synchronized (this) {
                    r.op = op;
                    r.opKnown = true;
                }
                return true;
            } catch (RuntimeException e) { // ENOMEM
                pending.drop(tag);
                synchronized (this) { if (armed == r) armed = null; }
                end(e);
                return false;
            } finally {
                exit();
            }
        }

        /** Cancel r; its completion (ECANCELED, or the event it got first) comes to completed(). */
        private void cancelNative(EventReceive r) {
            try {
                enter();
            } catch (RuntimeException e) {
                return; // freed: the free completed it
            }
            try {
                comm.get_cancel(r.op);
            } catch (RuntimeException e) {
                // cannot happen (EINVAL): the receive stays pending, its event comes
            } finally {
                exit();
            }
        }

        /** The events receive r completed (drain thread). */
        void completed(EventReceive r, int status, long msg, int kind) {
            synchronized (this) {
                if (armed == r) armed = null;
            }
            if (status == 0) {
                byte[] raw = nqswig.msg_take(msg);
                EventKind k = EventKind.of(kind);
                if (k != null) { // else a kind of a later release: skipped
                    UUID peer = CommunicatorOptions.uuid(raw, 0);
                    String detail = new String(raw, 16, raw.length - 16, java.nio.charset.StandardCharsets.UTF_8);
                    dispatch(new Event(k, peer, detail));
                }
                reconcile();
                return;
            }
            switch (Status.of(status)) {
                case ECANCELED -> reconcile(); // by cancelNative: armed again once wanted
                case ECLOSED -> end(null);     // closed, and no event left
                default -> end(new NetqueueException(status, "events: " + nqswig.strerror_(status)));
            }
        }

        /** One event to the listener, then to every subscriber (drain thread). */
        private void dispatch(Event ev) {
            if (listener != null) {
                try {
                    listener.accept(ev);
                } catch (RuntimeException e) { // the events (and the drain thread) go on
                    FlowSubscription.uncaught(e);
                }
            }
            List<EventSub> snapshot;
            synchronized (this) {
                if (ended) return;
                if (!enqueueAll(ev) && listener == null) {
                    held.addLast(ev); // a cancel came too late and nobody is left: for the next subscriber
                    return;
                }
                snapshot = new ArrayList<>(subs);
            }
            for (EventSub s : snapshot) s.drain();
        }

        /** Queue ev for every subscriber; false if none took it (none left, or all cancelling). Under this. */
        private boolean enqueueAll(Event ev) {
            boolean taken = false;
            for (EventSub s : subs) taken |= s.enqueue(ev);
            return taken;
        }

        /** No more events: onComplete (err null) or onError to every subscriber. */
        void end(Throwable err) {
            List<EventSub> snapshot;
            synchronized (this) {
                if (ended) return;
                ended = true;
                failure = err;
                held.clear();
                snapshot = new ArrayList<>(subs);
                subs.clear();
            }
            for (EventSub s : snapshot) s.terminate(err);
            if (err != null && listener != null) FlowSubscription.uncaught(err);
        }

        private final class EventSub extends FlowSubscription<Event> {
            EventSub(Flow.Subscriber<? super Event> subscriber) { super(subscriber); }

            @Override
            void more() { reconcile(); }

            @Override
            void cancelled(List<Event> undelivered) {
                synchronized (EventPump.this) {
                    subs.remove(this);
                    // the last one out keeps what it was not given, for the next
                    if (!ended && listener == null && subs.isEmpty()) {
                        for (int i = undelivered.size() - 1; i >= 0; i--) held.addFirst(undelivered.get(i));
                    }
                }
                reconcile();
            }
        }
    }

    /**
     * This communicator's statistics, one consistent snapshot
     * (nq_comm_stats): key to value, in the library's order (keys and
     * units: docs/abi.md, "Statistics"). Works after close until freed
     * (then ECLOSED).
     */
    public java.util.Map<String, Long> stats() {
        byte[] text;
        enter();
        try { text = nqswig.comm_stats_text(comm); } finally { exit(); }
        return parseStats(text);
    }

    /** One peer's statistics (nq_comm_peer_stats); NetqueueException ENOPEER for a peer without a session. */
    public java.util.Map<String, Long> peerStats(UUID peer) {
        if (peer == null) throw new IllegalArgumentException("stats: peer is null");
        byte[] text;
        enter();
        try { text = nqswig.comm_peer_stats_text(comm, CommunicatorOptions.idBytes(peer)); } finally { exit(); }
        return parseStats(text);
    }

    private static java.util.Map<String, Long> parseStats(byte[] text) {
        java.util.Map<String, Long> out = new java.util.LinkedHashMap<>();
        for (String line : new String(text, java.nio.charset.StandardCharsets.US_ASCII).split("\n")) {
            int sp = line.indexOf(' ');
            if (sp > 0) out.put(line.substring(0, sp), Long.parseUnsignedLong(line.substring(sp + 1)));
        }
        return java.util.Collections.unmodifiableMap(out);
    }

    /**
     * Why a put failed, by completion status: the library gives a completion
     * no detail (nq_last_error belongs to the thread of a failed call). The
     * same words in every binding.
     */
    static String putFailure(int status) {
        return "put: " + switch (Status.of(status)) {
            case ECANCELED -> "the communicator was closed before the message was written";
            case ERESET -> "the connection to the peer was lost before the message was written";
            case EADDR -> "the server was not reached within the connect timeout (the library's log says why)";
            default -> nqswig.strerror_(status);
        };
    }

    private void enter() {
        calls.incrementAndGet();
        if (freed) {
            exit();
            throw new NetqueueException(Status.ECLOSED.code(), "communicator is closed");
        }
    }

    private void exit() {
        if (calls.decrementAndGet() == 0 && freed) {
            synchronized (this) {
                notifyAll();
            }
        }
    }

    public UUID id() { return id; }

    public Purpose purpose() { return purpose; }

    /** The port a server listens on (useful with port 0). */
    public int port() {
        enter();
        try { return comm.port(); } finally { exit(); }
    }

    /** Peers with a live connection. */
    public List<UUID> peers() {
        byte[] raw;
        enter();
        try { raw = comm.peers(); } finally { exit(); }
        List<UUID> out = new ArrayList<>();
        for (int i = 0; i + 16 <= raw.length; i += 16) out.add(CommunicatorOptions.uuid(raw, i));
        return out;
    }

    private static byte[] peerBytes(UUID... peers) {
        if (peers == null || peers.length == 0) return null;
        byte[] b = new byte[16 * peers.length];
        for (int i = 0; i < peers.length; i++) System.arraycopy(CommunicatorOptions.idBytes(peers[i]), 0, b, 16 * i, 16);
        return b;
    }

    /**
     * Send data as one message to peers (none: the server, or every client).
     * The bytes are copied before this returns. The future completes when the
     * data was written, or exceptionally with a NetqueueException (ECANCELED
     * if closed first, ERESET, ENOPEER...). Throws NetqueueException for a
     * put refused at once (ECLOSED, ENOPEER, ETOOBIG, EINVAL).
     */
    public CompletableFuture<Void> put(byte[] data, UUID... peers) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        enter();
        long tag = pending.add(f); // before the put: the completion may come at once
        try {
            comm.put(data, peerBytes(peers), cq, tag);
        } catch (RuntimeException e) {
            pending.drop(tag);
            throw e;
        } finally {
            exit();
        }
        return f;
    }

    /** Put a string pickled as a Python str (what a default Python peer expects). */
    public CompletableFuture<Void> putPickled(String s, UUID... peers) {
        return put(Pickle.dumps(s), peers);
    }

    /** Next message, waiting forever. */
    public Message get() { return get(null, new UUID[0]); }

    /**
     * Next message from any peer (or one of peers), waiting up to timeout
     * (null: forever). NetqueueException ETIMEDOUT if none came, ECLOSED once
     * closed and drained.
     */
    public Message get(Duration timeout, UUID... peers) {
        Message back = takePutBack(peers);
        if (back != null) return back;
        long ms = millis(timeout);
        byte[] filter = peerBytes(peers);
        org.netqueue.swig.Message m;
        enter();
        try {
            m = comm.get_kinds(nqswig.KINDS_DATA, filter, ms); // events go to their own receive
        } finally {
            exit();
        }
        try {
            return new Message(CommunicatorOptions.uuid(m.peer(), 0), m.data());
        } finally {
            m.delete();
        }
    }

    /**
     * Close, waiting up to timeout (null: forever) for the session to end (a
     * client sends its queued puts and its fin and waits for the server's; a
     * server waits for its clients); then free. Puts still pending complete
     * with ECANCELED. Twice is fine. Throws NetqueueException ETIMEDOUT when
     * the time ran out (the connections were cut), ERESET when the peer was
     * lost; the communicator is closed and freed all the same.
     */
    public void close(Duration timeout) {
        synchronized (this) {
            if (freed) return;
        }
        RuntimeException err = null;
        enter();
        try {
            comm.close(millis(timeout));
        } catch (NetqueueException e) {
            if (e.status() != Status.ECLOSED) err = e;
        } catch (RuntimeException e) {
            err = e;
        } finally {
            exit();
        }
        release();
        if (err != null) throw err;
    }

    /**
     * Close, waiting up to {@link #DEFAULT_CLOSE_TIMEOUT} (10 s) for the
     * session to end; see {@link #close(Duration)}.
     */
    @Override
    public void close() { close(DEFAULT_CLOSE_TIMEOUT); }

    /** A System.nanoTime() deadline ms from now; Long.MAX_VALUE for none
     * (forever, or so far that nanoseconds would overflow). */
    static long deadline(long ms) {
        if (ms < 0 || ms > Long.MAX_VALUE / 4_000_000) return Long.MAX_VALUE;
        return System.nanoTime() + ms * 1_000_000;
    }

    /** A timeout in the library's milliseconds: null is forever (-1), a
     * negative one 0, a huge one saturates. */
    static long millis(Duration timeout) {
        if (timeout == null) return -1;
        if (timeout.isNegative()) return 0;
        try {
            return timeout.toMillis();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /** Free in the order the ABI needs: communicator, then the drained cq. */
    private void release() {
        synchronized (this) {
            if (freed) return;
            freed = true;
            while (calls.get() > 0) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        comm.delete(); // nq_comm_free: pending puts complete into cq
        cq.shutdown();
        if (Thread.currentThread() != drain) {
            boolean interrupted = false;
            while (drain.isAlive()) {
                try {
                    drain.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            cq.delete();
            if (interrupted) Thread.currentThread().interrupt();
        }
        // else: closed from a future's callback on the drain thread; it ends
        // right after, and the cq is left to the process (freeing it under
        // the thread still using it would be a use after free).
    }
}
