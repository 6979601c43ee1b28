package org.netqueue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.netqueue.swig.Comm;
import org.netqueue.swig.Completion;
import org.netqueue.swig.CompletionQueue;
import org.netqueue.swig.Options;
import org.netqueue.swig.nqswig;

/**
 * A net-queue client or server over libnetqueue. Thread-safe; close it (it is
 * AutoCloseable). Puts complete through an nq_cq drained by a thread of this
 * class ("netqueue-cq-..."): no library thread ever calls into the JVM, and C
 * holds only integer tags, never Java objects. The futures, and what is
 * chained on them without an executor, complete on that thread.
 */
public final class Communicator implements AutoCloseable {
    static { NativeLoader.load(); }

    private final UUID id;
    private final Purpose purpose;
    private final Comm comm;
    private final CompletionQueue cq;
    private final Map<Long, CompletableFuture<Void>> pending = new ConcurrentHashMap<>();
    private final AtomicLong tags = new AtomicLong();
    private final Thread drain;
    // Calls in flight into comm: it is freed only when none is (nq_comm_free
    // must not race other calls). Guarded by this.
    private int calls;
    private boolean freed;

    public Communicator(Protocol protocol, Purpose purpose, CommunicatorOptions options) {
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

    private void drainLoop() {
        while (true) {
            Completion c = cq.next(-1);
            int status = c.getStatus();
            long tag = c.getTag();
            c.delete();
            if (status < 0) return; // shut down and drained
            CompletableFuture<Void> f = pending.remove(tag);
            if (f == null) continue;
            if (status == 0) {
                f.complete(null);
            } else {
                f.completeExceptionally(new NetqueueException(status, "put completed with " + nqswig.strerror_(status)));
            }
        }
    }

    private synchronized void enter() {
        if (freed) throw new NetqueueException(Status.ECLOSED.code(), "communicator is closed");
        calls++;
    }

    private synchronized void exit() {
        if (--calls == 0) notifyAll();
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
        long tag = tags.incrementAndGet();
        pending.put(tag, f); // before the put: the completion may come at once
        enter();
        try {
            comm.put(data, peerBytes(peers), cq, tag);
        } catch (RuntimeException e) {
            pending.remove(tag);
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
        long ms = timeout == null ? -1 : Math.max(0, timeout.toMillis());
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
     * Close, waiting up to timeout (null: forever) for the session to end; then
     * free. Puts still pending complete with ECANCELED. Twice is fine.
     * Throws NetqueueException ETIMEDOUT / ERESET when the session did not end
     * cleanly (the communicator is closed and freed all the same).
     */
    public void close(Duration timeout) {
        synchronized (this) {
            if (freed) return;
        }
        RuntimeException err = null;
        enter();
        try {
            comm.close(timeout == null ? -1 : timeout.toMillis());
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

    /** Close, waiting for the session to end. */
    @Override
    public void close() { close(null); }

    /** Free in the order the ABI needs: communicator, then the drained cq. */
    private void release() {
        synchronized (this) {
            if (freed) return;
            freed = true;
            while (calls > 0) {
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
