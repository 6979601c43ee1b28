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
    private Duration connectTimeout;
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
    /** Client: pending puts fail with EADDR after this long without a connection. */
    public CommunicatorOptions connectTimeout(Duration v) { connectTimeout = v; return this; }
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
            if (connectTimeout != null) o.set_connect_timeout(connectTimeout.toMillis());
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
