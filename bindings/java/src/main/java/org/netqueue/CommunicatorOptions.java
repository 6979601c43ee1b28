package org.netqueue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.UUID;
import org.netqueue.swig.Options;

/**
 * Options of a communicator (a builder; defaults as the library's and the
 * Python reference's: random id, 127.0.0.1:51966). Values are checked by the
 * library when the communicator is made: a bad one throws
 * NetqueueException(EINVAL) with the library's message.
 */
public final class CommunicatorOptions {
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

    public CommunicatorOptions id(UUID v) { id = v; return this; }
    public CommunicatorOptions host(String v) { host = v; return this; }
    public CommunicatorOptions port(int v) { port = v; return this; }
    public CommunicatorOptions workers(int v) { workers = v; return this; }
    public CommunicatorOptions transportSize(long v) { transportSize = v; return this; }
    public CommunicatorOptions merge(boolean v) { merge = v; return this; }
    public CommunicatorOptions messageLimit(long v) { messageLimit = v; return this; }
    public CommunicatorOptions queueLimit(long v) { queueLimit = v; return this; }
    public CommunicatorOptions queuePolicy(QueuePolicy v) { queuePolicy = v; return this; }
    public CommunicatorOptions legacyDialect(boolean v) { legacyDialect = v; return this; }
    /**
     * Client: puts still pending after this long without reaching the server
     * fail with EADDR (default 30 s, the library's); null keeps them waiting
     * until close. A negative duration is refused (EINVAL).
     */
    public CommunicatorOptions connectTimeout(Duration v) { connectTimeout = v; connectTimeoutSet = true; return this; }
    /**
     * Dead-peer detection: a connection whose peer stays unreachable this
     * long is cut (default 30 s, the library's; 1 s .. 24 h); null or
     * {@link Duration#ZERO} turns it off. Out of range: EINVAL.
     */
    public CommunicatorOptions keepalive(Duration v) { keepalive = v; keepaliveSet = true; return this; }
    /** TLS: a server's key and certificate chain (PEM files). */
    public CommunicatorOptions tlsServer(String keyPath, String certPath) {
        tls = true; tlsKey = keyPath; tlsCert = certPath; return this;
    }
    /** TLS: a client's trust chain (null: the system's). */
    public CommunicatorOptions tlsClient(String caPath) { tls = true; tlsCa = caPath; return this; }
    public CommunicatorOptions tlsServerName(String v) { tlsServerName = v; return this; }
    public CommunicatorOptions tlsVerify(boolean v) { tlsVerify = v; return this; }

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
            throw new NetqueueException(Status.EINVAL.code(), "options: " + name + " " + d + " is negative");
        }
        try {
            long ms = d.toMillis();
            return d.minusMillis(ms).isZero() ? ms : ms + 1;
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /** The native options; the caller deletes them. Throws on a bad value. */
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
            throw e;
        }
    }
}
