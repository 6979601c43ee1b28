/**
 * @file
 * netqueue — communicators and messages.
 *
 * A communicator (nq_comm) is one end of net-queue: a server or a client on
 * one transport. Its I/O runs on a background thread of its own; the calls
 * below hand work to it and never wait for the network, except get (waits
 * for a message) and close (waits for the session to finish).
 *
 * All nq_comm_* calls are safe from any thread, concurrently, until
 * nq_comm_free(). Messages (nq_msg) belong to the caller that got them.
 */
#ifndef NETQUEUE_COMM_H
#define NETQUEUE_COMM_H

#include "common.h"
#include "options.h"
#include "stream.h"
#include "future.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A communicator: one server or client on one transport (opaque). */
typedef struct nq_comm nq_comm;
/** A received message: payload and sender (opaque; nq_msg_free). */
typedef struct nq_msg nq_msg;

/** The transport of a communicator (nq_comm_new). */
typedef enum nq_protocol {
    NQ_TCP = 0,  /**< TCP, or TLS over TCP when options enable it */
    NQ_MQTT = 1, /**< MQTT 3.1.1 through a broker (when built in, see docs/mqtt.md) */
    NQ_GRPC = 2, /**< gRPC bidirectional stream /grpc/comm (when built in, see docs/grpc.md) */
    /** In-process: a server and its clients in one process, addressed by
     * port number only (host is ignored; port 0 picks a free number), with
     * no sockets: bytes are copied between the communicators' I/O threads.
     * Same sessions, handshake, close and reconnection as the others; no
     * TLS (NQ_EINVAL). Always built. */
    NQ_INPROC = 3
} nq_protocol;

/** Which end of a session a communicator is (nq_comm_new). */
typedef enum nq_purpose {
    NQ_CLIENT = 0, /**< connects to a server */
    NQ_SERVER = 1  /**< listens (or, over MQTT, subscribes) for clients */
} nq_purpose;

/** Severity of a log line; a sink gets the lines at its level or more severe. */
typedef enum nq_log_level {
    NQ_LOG_ERROR = 0, /**< something failed */
    NQ_LOG_WARN = 1,  /**< something went wrong and was dealt with (the default level) */
    NQ_LOG_INFO = 2,  /**< normal events worth noting (a session ended, a resend) */
    NQ_LOG_DEBUG = 3  /**< details for debugging */
} nq_log_level;

/**
 * Log sink: called on the I/O thread, or the calling thread for errors of
 * synchronous calls (and for connection lines of a put that the calling
 * thread wrote itself, see docs/abi.md "Threads"). A server with workers > 1
 * (nq_options_set_workers) has several I/O threads, which may call it at
 * the same time. msg is valid during the call only. Must not block.
 */
typedef void (*nq_log_fn)(void *user, nq_log_level level, const char *msg);

/**
 * Where a communicator's log lines go: fn (NULL restores the default,
 * stderr) for lines at level or more severe (default NQ_LOG_WARN).
 */
NQ_API nq_status nq_options_set_log(nq_options *opts, nq_log_fn fn, void *user,
                                    nq_log_level level);

/**
 * Create a communicator and start its I/O thread.
 * A server binds and listens before returning (NQ_EADDR if it cannot); a
 * client returns at once and connects in the background, retrying until it
 * reaches the server — puts made meanwhile are queued. opts may be NULL for
 * the defaults and is copied.
 * Errors: NQ_EINVAL (bad argument or option combination), NQ_EUNSUPPORTED
 * (protocol not built in), NQ_EADDR, NQ_ETLS (bad key/certificate/CA),
 * NQ_ENOMEM, NQ_EIO. Failures of a later connection (refused, TLS
 * handshake or certificate verification) are logged, not returned: the
 * client retries and its puts wait (see nq_options_set_connect_timeout).
 */
NQ_API nq_status nq_comm_new(nq_comm **out, nq_protocol protocol, nq_purpose purpose,
                             const nq_options *opts);

/** The communicator's own id into out[16]. */
NQ_API nq_status nq_comm_id(const nq_comm *comm, uint8_t *out);

/** The port a server listens on (useful after binding port 0). */
NQ_API nq_status nq_comm_port(const nq_comm *comm, int *port);

/**
 * Ids of the peers with a live connection (for a client: the server, once
 * its ini arrived on the current connection), 16 bytes each, into out
 * (room for cap ids); *count gets how many there are (may exceed cap).
 * A server keeps the session of a peer that vanished without fin for 60 s:
 * it is not listed here, but puts naming it are queued for its return.
 */
NQ_API nq_status nq_comm_peers(nq_comm *comm, uint8_t *out, size_t cap, size_t *count);

/**
 * Send size bytes of data as one message. The bytes are copied before the
 * call returns, so data may be reused at once; fn (may be NULL) runs once
 * when the message has been written to every target's transport, or failed.
 * peers: npeers ids of 16 bytes each, back to back; npeers 0 means the
 * server (for a client) or every connected client (for a server). Only a
 * server may name peers. The message is framed once, whatever the number
 * of peers. Never blocks.
 * In the current dialect a 16-byte message equal to this communicator's id
 * is refused with NQ_EINVAL: on the wire it is the sender's fin.
 * Errors (no callback then): NQ_EINVAL, NQ_ETOOBIG (over message limit),
 * NQ_ENOPEER (a named peer is unknown), NQ_ECLOSED (close has begun),
 * NQ_ENOMEM.
 */
NQ_API nq_status nq_comm_put(nq_comm *comm, const void *data, size_t size,
                             const uint8_t *peers, size_t npeers,
                             nq_done_fn fn, void *user);

/**
 * Zero-copy put: send the bytes of stream as one message. On NQ_OK the
 * library owns the stream (do not touch or free it); each chunk's release
 * function runs once no target needs it. On error the caller keeps it.
 */
NQ_API nq_status nq_comm_put_stream(nq_comm *comm, nq_stream *stream,
                                    const uint8_t *peers, size_t npeers,
                                    nq_done_fn fn, void *user);

/**
 * As nq_comm_put, completing a new waitable future in *out (free it with
 * nq_future_free, before or after it completes). No future on error.
 */
NQ_API nq_status nq_comm_put_future(nq_comm *comm, const void *data, size_t size,
                                    const uint8_t *peers, size_t npeers,
                                    nq_future **out);

/**
 * As nq_comm_put, posting (tag, status) to cq when complete. cq must
 * outlive the communicator. Nothing is posted on error.
 */
NQ_API nq_status nq_comm_put_cq(nq_comm *comm, const void *data, size_t size,
                                const uint8_t *peers, size_t npeers,
                                nq_cq *cq, uint64_t tag);

/**
 * Encode value with the communicator's codec (nq_options_set_codec) and put
 * it. With NQ_CODEC_RAW the value must be bytes, bytearray or str.
 * Errors: those of nq_comm_put, and NQ_ECODEC.
 */
NQ_API nq_status nq_comm_put_value(nq_comm *comm, const nq_value *value,
                                   const uint8_t *peers, size_t npeers,
                                   nq_done_fn fn, void *user);

/**
 * Take the next message, in arrival order, from any peer (npeers 0) or from
 * one of the npeers given. Waits up to timeout_ms (NQ_FOREVER, 0 polls).
 * Messages of one peer always come in the order that peer sent them.
 * After close, queued messages are still returned, then NQ_ECLOSED.
 * Errors: NQ_ETIMEDOUT, NQ_ECLOSED, NQ_EINVAL.
 */
NQ_API nq_status nq_comm_get(nq_comm *comm, const uint8_t *peers, size_t npeers,
                             int64_t timeout_ms, nq_msg **out);

/**
 * Close: a client sends its queued puts, then fin, and waits for the
 * server's fin; a server stops accepting and waits until every client has
 * finished its session. Waits up to timeout_ms (NQ_FOREVER); when it
 * elapses, connections are cut and NQ_ETIMEDOUT is returned. Either way the
 * communicator is closed afterwards: puts not yet complete finish with
 * NQ_ECANCELED, and every callback has returned before close returns.
 * A client whose server disappears after the client's fin was sent gets
 * NQ_ERESET. A second call waits for the first to finish, then returns
 * NQ_OK. Must not be called from a callback of this communicator.
 */
NQ_API nq_status nq_comm_close(nq_comm *comm, int64_t timeout_ms);

/**
 * Close (without waiting for peers, if not closed already), stop the I/O
 * thread and free everything. Messages already got stay valid. NULL ignored.
 */
NQ_API void nq_comm_free(nq_comm *comm);

/** Sender's id into out[16]. */
NQ_API nq_status nq_msg_peer(const nq_msg *msg, uint8_t *out);

/** Payload bytes (contiguous; valid until nq_msg_free). */
NQ_API const void *nq_msg_data(const nq_msg *msg);
/** Number of payload bytes. */
NQ_API size_t nq_msg_size(const nq_msg *msg);

/** Decode the payload with codec into a new value. Errors: NQ_ECODEC, ... */
NQ_API nq_status nq_msg_value(const nq_msg *msg, nq_codec codec, nq_value **out);

/** Free a message. NULL is ignored. */
NQ_API void nq_msg_free(nq_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
