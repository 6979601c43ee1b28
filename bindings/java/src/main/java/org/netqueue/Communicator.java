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
 * AutoCloseable). Puts complete through an nq_cq drained by a thread of this
 * class ("netqueue-cq-..."): no library thread ever calls into the JVM, and C
 * holds only integer tags, never Java objects. The futures, and what is
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

    /** Futures of puts in flight, by tag: a slot array with a free list. */
    private static final class Pending {
        @SuppressWarnings("unchecked")
        private CompletableFuture<Void>[] slots = new CompletableFuture[1024];
        private int[] free = new int[1024];
        private int nfree, used;

        synchronized long add(CompletableFuture<Void> f) {
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

        /** Take the futures of tags[0, 2, 4...) (pairs as drained) into out. */
        synchronized void take(long[] pairs, int n, CompletableFuture<Void>[] out) {
            for (int k = 0; k < n; k++) {
                long tag = pairs[2 * k];
                out[k] = tag >= 0 && tag < used ? slots[(int) tag] : null;
                if (out[k] == null) continue;
                slots[(int) tag] = null;
                if (nfree == free.length) free = java.util.Arrays.copyOf(free, nfree * 2);
                free[nfree++] = (int) tag;
            }
        }

        synchronized void drop(long tag) {
            long[] pair = { tag, 0 };
            take(pair, 1, new CompletableFuture[1]);
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

    private void drainLoop() {
        long[] pairs = new long[2 * DRAIN_BATCH];
        @SuppressWarnings("unchecked")
        CompletableFuture<Void>[] futures = new CompletableFuture[DRAIN_BATCH];
        while (true) {
            int n = cq.drain(pairs, -1);
            if (n < 0) return; // shut down and drained
            pending.take(pairs, n, futures);
            for (int k = 0; k < n; k++) {
                CompletableFuture<Void> f = futures[k];
                if (f == null) continue;
                futures[k] = null;
                int status = (int) pairs[2 * k + 1];
                if (status == 0) {
                    f.complete(null);
                } else {
                    f.completeExceptionally(new NetqueueException(status, putFailure(status)));
                }
            }
        }
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
        long ms = millis(timeout);
        org.netqueue.swig.Message m;
        enter();
        try {
            m = comm.get(peerBytes(peers), ms);
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
