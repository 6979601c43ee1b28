package org.netqueue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.UUID;
import org.netqueue.swig.Options;

/**
 * Options of a communicator (a builder; defaults as the library's and the
 * Python reference's: random id, 127.0.0.1:51966).
 *
 * Each setter checks its value at once and throws IllegalArgumentException
 * for one the library refuses: the value is handed to the library's own
 * setter (nq_options_set_*) on a scratch handle, so the rule and the message
 * are the C layer's ("options: port 70000 is not in 0..65535"), and the
 * cause is the NetqueueException (status EINVAL) it returned. A few checks
 * are the binding's own, where Java has a value C has not: null where the
 * library would take no value (an id, a queue policy, a server's key or
 * certificate) and negative durations (the library reads -1 as forever).
 * A combination the library refuses when the communicator is made (TLS
 * server without a key...) throws IllegalArgumentException from the
 * Communicator constructor, the same way.
 */
public final class CommunicatorOptions {
    static { NativeLoader.load(); }

    private UUID id = UUID.randomUUID();
    private String host = "127.0.0.1";
    private int port = 51966;
    private int workers = 1;
    private Long transportSize, messageLimit, queueLimit;
    private QueuePolicy queuePolicy;
    private Boolean merge;
    private boolean legacyDialect;
    private Duration connectTimeout, keepalive;
    private boolean connectTimeoutSet, keepaliveSet;
    private boolean tls;
    private String tlsKey, tlsCert, tlsCa, tlsServerName;
    private boolean tlsVerify = true;
    private int eventMask;
    private java.util.function.Consumer<Event> eventListener;

    /** The communicator's id (any UUID; not null). */
    public CommunicatorOptions id(UUID v) {
        if (v == null) throw new IllegalArgumentException("options: id is null");
        id = v;
        return this;
    }

    /** Host to bind or connect to: a name or an IP literal, 1..255 bytes. */
    public CommunicatorOptions host(String v) { check(o -> o.set_host(v)); host = v; return this; }

    /** TCP port, 0..65535 (a server given 0 binds any free port). */
    public CommunicatorOptions port(int v) { check(o -> o.set_port(v)); port = v; return this; }

    /** A server's I/O threads, 1..64. */
    public CommunicatorOptions workers(int v) { check(o -> o.set_workers(v)); workers = v; return this; }

    /** Largest single transport write, 4 KiB .. 1 GiB. */
    public CommunicatorOptions transportSize(long v) {
        check(o -> o.set_transport_size(v));
        transportSize = v;
        return this;
    }

    public CommunicatorOptions merge(boolean v) { merge = v; return this; }

    /** Largest message payload, 0 .. 2^62 bytes. */
    public CommunicatorOptions messageLimit(long v) {
        check(o -> o.set_message_limit(v));
        messageLimit = v;
        return this;
    }

    /** Received bytes not yet got above which the queue policy applies, 1 KiB .. 2^62. */
    public CommunicatorOptions queueLimit(long v) { check(o -> o.set_queue_limit(v)); queueLimit = v; return this; }

    public CommunicatorOptions queuePolicy(QueuePolicy v) {
        if (v == null) throw new IllegalArgumentException("options: queue policy is null");
        check(o -> o.set_queue_policy(v.ordinal()));
        queuePolicy = v;
        return this;
    }

    public CommunicatorOptions legacyDialect(boolean v) { legacyDialect = v; return this; }

    /**
     * Client: puts still pending after this long without reaching the server
     * fail with EADDR (default 30 s, the library's); null keeps them waiting
     * until close. A negative duration is refused.
     */
    public CommunicatorOptions connectTimeout(Duration v) {
        if (v != null) {
            long ms = optionMillis("connect timeout", v);
            check(o -> o.set_connect_timeout(ms));
        }
        connectTimeout = v;
        connectTimeoutSet = true;
        return this;
    }

    /**
     * Dead-peer detection: a connection whose peer stays unreachable this
     * long is cut (default 30 s, the library's; 1 s .. 24 h); null or
     * {@link Duration#ZERO} turns it off. Out of range: refused.
     */
    public CommunicatorOptions keepalive(Duration v) {
        if (v != null) {
            long ms = optionMillis("keepalive", v);
            check(o -> o.set_keepalive(ms));
        }
        keepalive = v;
        keepaliveSet = true;
        return this;
    }

    /** TLS: a server's key and certificate chain (PEM files; neither null nor empty). */
    public CommunicatorOptions tlsServer(String keyPath, String certPath) {
        if (keyPath == null) throw new IllegalArgumentException("options: TLS key path is null");
        if (certPath == null) throw new IllegalArgumentException("options: TLS certificate path is null");
        check(o -> o.set_tls_key(keyPath));
        check(o -> o.set_tls_cert(certPath));
        tls = true; tlsKey = keyPath; tlsCert = certPath;
        return this;
    }

    /** TLS: a client's trust chain (null: the system's; not empty). */
    public CommunicatorOptions tlsClient(String caPath) {
        check(o -> o.set_tls_ca(caPath));
        tls = true; tlsCa = caPath;
        return this;
    }

    /** TLS: the name to verify the server against (null: the host; not empty). */
    public CommunicatorOptions tlsServerName(String v) {
        check(o -> o.set_tls_server_name(v));
        tlsServerName = v;
        return this;
    }

    public CommunicatorOptions tlsVerify(boolean v) { tlsVerify = v; return this; }

    /**
     * Peer events (nq_options_set_events) of the kinds given (none: all),
     * handed to listener as they happen. The communicator keeps one
     * events-only receive pending in the library from its creation (ABI
     * 1.3, nq_comm_get_kinds_cq): the listener hears of peers whatever the
     * application's gets are doing, or with none at all, and get/getAsync
     * never return an event. It runs on the communicator's drain thread
     * ("netqueue-cq-..."), one event at a time, in the order the events
     * happened; events are in order among themselves, not with the data
     * (a FINISHED may come while that peer's last messages still wait for
     * a get). It must not block (it holds up the completions of puts and
     * getAsync); an exception it throws goes to the drain thread's uncaught
     * exception handler (printed by default), and the events go on.
     * The events also go to the subscribers of
     * {@link Communicator#events()}, which the listener waits for: the
     * next event is taken only when each subscriber has requested one.
     * A null listener turns events off.
     */
    public CommunicatorOptions events(java.util.function.Consumer<Event> listener, EventKind... kinds) {
        int mask = 0;
        if (listener != null) mask = mask(kinds);
        final int m = mask;
        check(o -> o.set_events(m));
        eventMask = mask;
        eventListener = listener;
        return this;
    }

    /**
     * Peer events of the kinds given (none: all) without a listener, for
     * {@link Communicator#events()}'s subscribers. Until one subscribes and
     * requests, the events wait in the library's receive queue, where they
     * count against its limit ({@link #queueLimit}). A null array turns
     * events off, so {@code events(null)} still does.
     */
    public CommunicatorOptions events(EventKind... kinds) {
        int mask = kinds == null ? 0 : mask(kinds);
        check(o -> o.set_events(mask));
        eventMask = mask;
        eventListener = null;
        return this;
    }

    private static int mask(EventKind... kinds) {
        if (kinds == null || kinds.length == 0) kinds = EventKind.values();
        int mask = 0;
        for (EventKind k : kinds) {
            if (k == null) throw new IllegalArgumentException("options: event kind is null");
            mask |= 1 << k.code();
        }
        return mask;
    }

    java.util.function.Consumer<Event> eventListener() { return eventListener; }

    int eventMask() { return eventMask; }

    /** One C setter, applied to a scratch handle: EINVAL becomes IllegalArgumentException. */
    private static void check(java.util.function.Consumer<Options> setter) {
        Options o = new Options();
        try {
            setter.accept(o);
        } catch (NetqueueException e) {
            throw invalid(e);
        } finally {
            o.delete();
        }
    }

    /** EINVAL as IllegalArgumentException (the library's detail, the exception as cause); others as they are. */
    static RuntimeException invalid(NetqueueException e) {
        if (e.status() != Status.EINVAL) return e;
        return new IllegalArgumentException(e.detail(), e);
    }

    public UUID id() { return id; }

    static byte[] idBytes(UUID u) {
        return ByteBuffer.allocate(16).putLong(u.getMostSignificantBits())
                .putLong(u.getLeastSignificantBits()).array();
    }

    static UUID uuid(byte[] b, int off) {
        ByteBuffer bb = ByteBuffer.wrap(b, off, 16);
        return new UUID(bb.getLong(), bb.getLong());
    }

    /** A duration option in milliseconds, rounded up (so that a positive one
     * never becomes 0); negative ones are refused here, since the library
     * reads -1 as forever. */
    static long optionMillis(String name, Duration d) {
        if (d.isNegative()) {
            throw new IllegalArgumentException("options: " + name + " " + d + " is negative");
        }
        try {
            long ms = d.toMillis();
            return d.minusMillis(ms).isZero() ? ms : ms + 1;
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /** The native options; the caller deletes them. The values were checked by the setters. */
    Options toNative() {
        Options o = new Options();
        try {
            o.set_id(idBytes(id));
            o.set_host(host);
            o.set_port(port);
            o.set_workers(workers);
            if (transportSize != null) o.set_transport_size(transportSize);
            if (merge != null) o.set_merge(merge ? 1 : 0);
            if (messageLimit != null) o.set_message_limit(messageLimit);
            if (queueLimit != null) o.set_queue_limit(queueLimit);
            if (queuePolicy != null) o.set_queue_policy(queuePolicy.ordinal());
            o.set_dialect(legacyDialect ? 1 : 0);
            if (eventMask != 0) o.set_events(eventMask);
            if (connectTimeoutSet) o.set_connect_timeout(connectTimeout == null ? -1 : optionMillis("connect timeout", connectTimeout));
            if (keepaliveSet) o.set_keepalive(keepalive == null ? 0 : optionMillis("keepalive", keepalive));
            if (tls) {
                o.set_tls(1);
                o.set_tls_verify(tlsVerify ? 1 : 0);
                if (tlsKey != null) o.set_tls_key(tlsKey);
                if (tlsCert != null) o.set_tls_cert(tlsCert);
                if (tlsCa != null) o.set_tls_ca(tlsCa);
                if (tlsServerName != null) o.set_tls_server_name(tlsServerName);
            }
            return o;
        } catch (RuntimeException e) {
            o.delete();
            throw e instanceof NetqueueException ne ? invalid(ne) : e;
        }
    }
}
