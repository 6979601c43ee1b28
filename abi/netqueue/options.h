/**
 * @file
 * netqueue — communicator options.
 *
 * An nq_options handle is a builder: create it, call setters, pass it to
 * nq_comm_new() (which copies it; the handle can be reused or freed at
 * once). Setters validate their argument and return NQ_EINVAL with a
 * message in nq_last_error() on a bad value; the handle is then unchanged.
 * An options handle is not thread-safe: use it from one thread at a time.
 */
#ifndef NETQUEUE_OPTIONS_H
#define NETQUEUE_OPTIONS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Settings for nq_comm_new, built with the setters below (opaque). */
typedef struct nq_options nq_options;

/** Which fin the session uses (see docs/protocol.md). */
typedef enum nq_dialect {
    NQ_DIALECT_CURRENT = 0, /**< net-queue 1.x/2.x: fin = the sender's 16-byte id */
    NQ_DIALECT_LEGACY = 1   /**< net-queue 0.1.x: fin = an empty frame */
} nq_dialect;

/** What a full receive queue does. */
typedef enum nq_queue_policy {
    NQ_QUEUE_BLOCK = 0,       /**< stop reading from peers until get() drains (default) */
    NQ_QUEUE_DROP_OLDEST = 1, /**< drop the oldest queued message, with a warning */
    NQ_QUEUE_DROP_NEWEST = 2  /**< drop the arriving message, with a warning */
} nq_queue_policy;

/** Payload encoding used by nq_comm_put_value() and nq_msg_value(). */
typedef enum nq_codec {
    NQ_CODEC_RAW = 0,   /**< bytes as they are (the reference's BufferSerializer) */
    NQ_CODEC_PICKLE = 1 /**< safe pickle subset (the reference's default) */
} nq_codec;

/**
 * New options with the defaults: random id, host 127.0.0.1, port 51966,
 * 1 worker, transport size 16 MiB, merge on, message limit 1 GiB,
 * queue limit 32 MiB with NQ_QUEUE_BLOCK, no send limit, current dialect, raw codec,
 * no TLS, connect timeout 30 s, keepalive 30 s.
 * Errors: NQ_EINVAL (out is NULL), NQ_ENOMEM.
 */
NQ_API nq_status nq_options_new(nq_options **out);

/** Free an options handle; NULL is ignored. */
NQ_API void nq_options_free(nq_options *opts);

/** Copy all settings into a new handle. Errors: NQ_EINVAL, NQ_ENOMEM. */
NQ_API nq_status nq_options_copy(nq_options **out, const nq_options *opts);

/** Communicator id: id points to 16 bytes. */
NQ_API nq_status nq_options_set_id(nq_options *opts, const uint8_t *id);

/**
 * Host to bind (server) or connect to (client): a name, an IPv4 or an IPv6
 * literal. Copied. Errors: NQ_EINVAL for NULL, empty or > 255 bytes.
 */
NQ_API nq_status nq_options_set_host(nq_options *opts, const char *host);

/**
 * TCP port, 0..65535. A server given port 0 binds an ephemeral port; read
 * it back with nq_comm_port(). Errors: NQ_EINVAL out of range.
 */
NQ_API nq_status nq_options_set_port(nq_options *opts, int port);

/**
 * I/O threads for a server's sessions, 1..64. Default 1: one I/O thread
 * runs everything. With N > 1, a TCP or TLS server runs N I/O threads for
 * its sessions plus one that accepts connections and runs their
 * handshakes (TLS included); once a client's ini names it, its connection
 * moves to the thread that owns that peer id, chosen by a hash of the id,
 * so that its reconnections and same-id takeovers meet its session there.
 * Every guarantee stays as with one thread: per-peer order both ways, the
 * linger, same-id takeover, the limits and budgets, close and its
 * deadline, statistics (sums), events, one callback per put (a broadcast
 * completes once, after every thread wrote its part). Differences: put
 * and receive callbacks and the log function may run on any of the
 * threads, at the same time; messages of different peers reach the
 * receive queue in the order their threads deliver them. MQTT, gRPC, the
 * in-process transport and clients ignore it (one I/O thread).
 * Errors: NQ_EINVAL out of range.
 */
NQ_API nq_status nq_options_set_workers(nq_options *opts, int workers);

/**
 * Largest single transport write (bytes, 4 KiB .. 1 GiB): small frames are
 * merged up to it, big ones split at it. The reference's transport_size
 * (legacy: max_size).
 */
NQ_API nq_status nq_options_set_transport_size(nq_options *opts, uint64_t bytes);

/** Merge small frames into one transport write (1, default) or not (0). */
NQ_API nq_status nq_options_set_merge(nq_options *opts, int enabled);

/**
 * Largest message payload accepted from a peer or by put (bytes,
 * 0 .. 2^62). A peer whose frame header declares more loses its connection
 * with NQ_ETOOBIG; a put of more fails with NQ_ETOOBIG. Handshake frames
 * (16 bytes) are always accepted, whatever the limit.
 */
NQ_API nq_status nq_options_set_message_limit(nq_options *opts, uint64_t bytes);

/**
 * Bytes of received, not yet got messages, summed over all peers, above
 * which the queue policy applies (1 KiB .. 2^62; default 32 MiB).
 */
NQ_API nq_status nq_options_set_queue_limit(nq_options *opts, uint64_t bytes);

/**
 * What a full receive queue does (nq_queue_policy; default NQ_QUEUE_BLOCK).
 * Errors: NQ_EINVAL for a value not in the enum.
 */
NQ_API nq_status nq_options_set_queue_policy(nq_options *opts, nq_queue_policy policy);

/**
 * Opt-in bound on the memory held by puts not yet written (summed over
 * every put of the communicator; 0, the default, means no bound and puts
 * never wait, as the reference). A copying put counts its whole
 * allocation: the copy, its 8-byte header and the put's bookkeeping,
 * rounded up to an allocation class (about 380 bytes for a 64-byte
 * message, at most a quarter more than asked for big ones); a stream put
 * counts its bytes, 8 and its bookkeeping. Over the bound, a put waits
 * until earlier puts complete, or fails with NQ_ECLOSED if the
 * communicator closes meanwhile; puts made from a completion callback
 * never wait. Bounds the memory of copying puts when the peer is slower
 * than the sender. A server's put also counts a send item (~64 B) per
 * target past the first, so broadcasts to many peers are bounded too.
 */
NQ_API nq_status nq_options_set_send_limit(nq_options *opts, uint64_t bytes);

/** Default of nq_options_set_peer_limit: 256 MiB. */
#define NQ_DEFAULT_PEER_LIMIT (UINT64_C(256) << 20)

/**
 * Server: bytes of messages held for one peer (queued, or written but not
 * yet acknowledged by its ini) above which the peer is taken for one that
 * does not read: the put that would pass the limit is not queued for it,
 * the peer's connection is cut and its session ended, and every put still
 * pending for it completes with NQ_ERESET (a warning names it). One
 * message always fits, whatever its size, so the limit never refuses a
 * big message to a peer that has taken everything before it. The peer may
 * connect again, as a new session. 1 KiB .. 2^62, or 0 for no limit.
 * Default NQ_DEFAULT_PEER_LIMIT. Clients ignore it (their backlog is what
 * waits for the server: bound it with set_send_limit).
 */
NQ_API nq_status nq_options_set_peer_limit(nq_options *opts, uint64_t bytes);

/** Default of nq_options_set_partial_limit: 1 GiB. */
#define NQ_DEFAULT_PARTIAL_LIMIT (UINT64_C(1) << 30)

/**
 * Bytes held by frames being received and not yet complete, summed over
 * every connection (a declared length is not trusted: a frame's buffer
 * grows as its bytes arrive, see docs/protocol.md §8.2). A frame whose
 * buffer would take the sum past the limit closes its connection with a
 * warning, unless it is the only frame in progress; frames of up to 64 KiB
 * always pass, so small messages keep flowing. With the queue limit, this
 * bounds what peers can make a communicator hold on the receive side.
 * 1 KiB .. 2^62, or 0 for no limit. Default NQ_DEFAULT_PARTIAL_LIMIT.
 */
NQ_API nq_status nq_options_set_partial_limit(nq_options *opts, uint64_t bytes);

/**
 * Which fin the session uses (nq_dialect; default NQ_DIALECT_CURRENT): the
 * legacy one talks to net-queue 0.1.x peers. Errors: NQ_EINVAL.
 */
NQ_API nq_status nq_options_set_dialect(nq_options *opts, nq_dialect dialect);

/**
 * Codec of nq_comm_put_value (nq_codec; default NQ_CODEC_RAW). Python
 * net-queue peers use pickle by default. Errors: NQ_EINVAL.
 */
NQ_API nq_status nq_options_set_codec(nq_options *opts, nq_codec codec);

/**
 * TLS. nq_options_set_tls(opts, 1) turns it on. A server needs a key and a
 * certificate chain (PEM files). A client verifies the server against the
 * CA file if one is set, else the system store; it checks the host name (or
 * IP address) against set_host, or against set_tls_server_name when set.
 * set_tls_verify(opts, 0) turns verification off (testing only). A client
 * may also present a certificate, to a server that requires one
 * (set_tls_client_ca below): set_tls_cert and set_tls_key, both or neither.
 * Paths are copied and read by nq_comm_new(), which fails with NQ_ETLS if
 * they are unreadable or do not match.
 */
NQ_API nq_status nq_options_set_tls(nq_options *opts, int enabled);

/**
 * Private key (PEM file): a server's, or the key of a client's certificate.
 * The path is copied; the file is read by nq_comm_new.
 */
NQ_API nq_status nq_options_set_tls_key(nq_options *opts, const char *path);

/**
 * Certificate chain (PEM file): a server's, or the certificate a client
 * presents to a server that requires one. Copied; read by nq_comm_new.
 */
NQ_API nq_status nq_options_set_tls_cert(nq_options *opts, const char *path);

/**
 * Client: CA certificate(s) (PEM file) to verify the server against,
 * instead of the system's store. Copied; read by nq_comm_new.
 */
NQ_API nq_status nq_options_set_tls_ca(nq_options *opts, const char *path);

/**
 * Client: the name to check the server's certificate against, instead of
 * the host given with nq_options_set_host. Copied.
 */
NQ_API nq_status nq_options_set_tls_server_name(nq_options *opts, const char *name);

/**
 * Client: verify the server (1, the default) or not (0: testing only, as
 * anybody on the path can then read and change the session).
 */
NQ_API nq_status nq_options_set_tls_verify(nq_options *opts, int enabled);

/**
 * Mutual TLS, server side (TCP with TLS, and gRPC with TLS): require every
 * client to present a certificate that verifies against the CA
 * certificate(s) in the PEM file at path (the chain is checked, as well as
 * the validity dates and, if the certificate has an extended key usage, that
 * it allows client authentication; names in it are not checked). The CA
 * names are also sent to clients as the acceptable issuers. A connection
 * whose client presents no certificate, or one that does not verify, fails
 * its TLS handshake and is closed before it becomes a peer: none of its
 * messages is delivered, and the server goes on serving the others. TCP
 * logs a warning naming the client's address and the reason ("client
 * presented no certificate", "client certificate verification failed:
 * <reason>"; at most one such warning a second); gRPC runs the handshake
 * itself and only prints its own reason on stderr. Clients present a certificate with set_tls_cert and set_tls_key.
 * NULL (the default) turns the requirement off: clients' certificates are
 * then neither requested nor checked.
 * The path is copied and the file read by nq_comm_new(), which fails with
 * NQ_ETLS if it is unreadable or holds no certificate, with NQ_EINVAL if
 * TLS is off or the communicator is a client (a client verifies its server
 * with set_tls_ca), and with NQ_EUNSUPPORTED for NQ_MQTT (MQTT peers are
 * clients of the broker, which does its own client authentication) and
 * NQ_INPROC (no TLS there).
 * Like every setter: one thread at a time per handle.
 * Errors: NQ_EINVAL (opts NULL, or path an empty string), NQ_ENOMEM.
 */
NQ_API nq_status nq_options_set_tls_client_ca(nq_options *opts, const char *path);

/** Default of nq_options_set_connect_timeout: 30 s. */
#define NQ_DEFAULT_CONNECT_TIMEOUT_MS 30000
/** Default of nq_options_set_keepalive: 30 s. */
#define NQ_DEFAULT_KEEPALIVE_MS 30000

/**
 * Client: while the server is unreachable the client retries, waiting
 * 50 ms after the first failure and doubling up to 2 s (each delay with up
 * to 25% random jitter); the backoff starts over only once a session is
 * established (the server's ini arrived), not on a bare TCP connect. Each
 * failed attempt is logged with its cause (refused, unreachable, TLS
 * verification...), at most one warning per second.
 * After timeout_ms without an established session, puts pending then fail
 * with NQ_EADDR and the cause is logged (retries go on for later puts).
 * Default NQ_DEFAULT_CONNECT_TIMEOUT_MS (30 s); -1 keeps puts waiting until
 * close. Errors: NQ_EINVAL below -1.
 */
NQ_API nq_status nq_options_set_connect_timeout(nq_options *opts, int64_t timeout_ms);

/**
 * Dead-peer detection: a connection whose peer stays unreachable (sent
 * bytes unacknowledged, or no answer to keepalive probes) for about
 * timeout_ms is cut, and the session then follows the lost-peer rules
 * (docs/lifecycle.md). TCP/TLS: SO_KEEPALIVE with the first probe after a
 * third of timeout_ms of silence, and TCP_USER_TIMEOUT of timeout_ms; gRPC:
 * keepalive pings; MQTT: the broker keepalive interval. 1000..86400000 ms,
 * or 0 to turn detection off. Default NQ_DEFAULT_KEEPALIVE_MS (30 s).
 * Errors: NQ_EINVAL out of range.
 */
NQ_API nq_status nq_options_set_keepalive(nq_options *opts, int64_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
