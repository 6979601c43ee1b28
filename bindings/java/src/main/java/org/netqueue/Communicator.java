package org.netqueue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
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
    private final java.util.function.Consumer<Event> eventListener;
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
        this.eventListener = options.eventListener();
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
            if (n < 0) return; // shut down and drained
            pending.take(quads, n, futures);
            for (int k = 0; k < n; k++) {
                CompletableFuture<?> f = futures[k];
                futures[k] = null;
                int status = (int) quads[4 * k + 1];
                long msg = quads[4 * k + 2];
                if (f instanceof GetFuture g) {
                    try {
                        completeGet(g, status, msg, (int) quads[4 * k + 3]);
                    } catch (Throwable t) { // OutOfMemoryError copying a message out: the drain thread goes on
                        g.completeExceptionally(t);
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

    /** A receive's completion, on the drain thread. */
    private void completeGet(GetFuture g, int status, long msg, int kind) {
        if (status == 0) {
            byte[] raw = nqswig.msg_take(msg);
            UUID peer = CommunicatorOptions.uuid(raw, 0);
            if (kind != 0) {
                event(kind, peer, raw);
                if (!g.isDone()) { // the receive goes on waiting for data
                    RuntimeException e = issue(g);
                    if (e != null) g.completeExceptionally(e);
                }
                return;
            }
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

    /** Hand an event (message bytes: id, then detail) to the listener. */
    private void event(int kind, UUID peer, byte[] raw) {
        EventKind k = EventKind.of(kind);
        if (k == null || eventListener == null) return; // a kind of a later release
        String detail = new String(raw, 16, raw.length - 16, java.nio.charset.StandardCharsets.UTF_8);
        try {
            eventListener.accept(new Event(k, peer, detail));
        } catch (RuntimeException e) {
            // the receive (and the drain thread) go on: report it as uncaught
            Thread t = Thread.currentThread();
            t.getUncaughtExceptionHandler().uncaughtException(t, e);
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
            while (!isDone()) {
                long id = op;
                int r;
                calls.incrementAndGet();
                try {
                    // freed: nq_comm_free completed every receive into the cq
                    // (a message still queued, or ECLOSED); the drain delivers it
                    if (freed) return false;
                    r = comm.get_cancel(id);
                } finally {
                    exit();
                }
                // 1: the ECANCELED completion is queued (it may be drained already)
                if (r == 1) return super.cancel(mayInterruptIfRunning) || isCancelled();
                // 0: too late for this receive; it was re-issued after an event: again
                if (op == id) return false;
            }
            return isCancelled();
        }

        void cancelled() { super.cancel(false); }
    }

    /**
     * Issue (or, after an event, re-issue) the native receive of g; the
     * refusal (nothing will complete g then), or null. The completion may
     * come before this returns, on the drain thread.
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
            g.op = comm.get_cq(g.peers, g.remainingMillis(), cq, tag);
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
        long deadline = deadline(ms);
        byte[] filter = peerBytes(peers);
        while (true) {
            org.netqueue.swig.Message m;
            enter();
            try {
                m = comm.get(filter, ms);
            } finally {
                exit();
            }
            try {
                int kind = m.kind();
                if (kind == 0) return new Message(CommunicatorOptions.uuid(m.peer(), 0), m.data());
                byte[] d = m.detail();
                byte[] raw = new byte[16 + d.length];
                System.arraycopy(d, 0, raw, 16, d.length);
                event(kind, CommunicatorOptions.uuid(m.peer(), 0), raw);
            } finally {
                m.delete();
            }
            // an event: go on waiting for data, for what is left of the timeout
            if (deadline != Long.MAX_VALUE) {
                long ns = deadline - System.nanoTime();
                ms = ns <= 0 ? 0 : (ns + 999_999) / 1_000_000;
            }
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
