/* The contract between the core and a transport: the only core header a
 * transport includes (tests/unit/transport_boundary.sh checks it). A
 * transport sees the communicator and its sessions as opaque: it reads
 * what it needs through the calls below and changes the core's state only
 * by calling it. How to add a transport: docs/design.md.
 *
 * Threads: every call here is for the communicator's I/O thread unless it
 * says otherwise (start and destroy run on the caller's thread, before the
 * I/O thread starts and after it ended). */
#ifndef NQ_CORE_TRANSPORT_H
#define NQ_CORE_TRANSPORT_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/framer.h"
#include "core/msg.h"
#include "core/options_internal.h"
#include "core/payload.h"
#include "core/status.h"
#include "core/timeutil.h"

struct nq_comm;
struct nq_session;
struct nq_handover;

/* The part of a transport connection the core looks at. Transports embed
 * it as the first member of their connection struct. */
struct nq_link {
    struct nq_session *s; /* NULL until the peer's ini arrived (server) */
    struct nq_framer fr;
    int peer_ini;         /* the peer's ini arrived on this link */
    char name[64];        /* "127.0.0.1:5555" for log lines */
    struct nq_handover *ho; /* core: being handed to another I/O thread (shard.c) */
};

/* A warning that a peer can trigger at will (garbage, failed attempts) is
 * logged at most once per NQ_LOG_INTERVAL_MS per limiter; the next line that
 * passes says how many were suppressed meanwhile. A limiter is owned by one
 * thread (usually the I/O thread); zero-initialise it. */
#define NQ_LOG_INTERVAL_MS 1000
struct nq_ratelimit {
    int64_t next_ms;
    unsigned long suppressed;
};

struct nq_transport_ops {
    /* caller's thread, before the I/O thread starts: bind, load keys... */
    nq_status (*start)(struct nq_comm *c);
    /* I/O thread: s has new output */
    void (*kick)(struct nq_comm *c, struct nq_session *s);
    /* I/O thread: close was asked for (client: fin already queued) */
    void (*close_begin)(struct nq_comm *c);
    /* I/O thread: cut every connection now */
    void (*abort)(struct nq_comm *c);
    /* I/O thread: the receive queue drained below its limit: read again */
    void (*resume)(struct nq_comm *c);
    /* I/O thread: forget this link (its session is being replaced) */
    void (*drop_link)(struct nq_comm *c, struct nq_link *l);
    /* caller's thread, after the I/O thread ended */
    void (*destroy)(struct nq_comm *c);
    /* A multi-loop server (nq_options_set_workers) moves a link to the
     * I/O thread that owns its peer, once the peer's ini names it. Both
     * NULL: the transport runs one I/O thread whatever workers says.
     * detach, on c's I/O thread: stop every watcher of l on c's loop and
     * forget l (nothing of l may run on c's thread afterwards). attach, on
     * the new owner c's I/O thread (or its closing thread): take l over,
     * start its watchers on nq_core_loop(c); it must read what is already
     * buffered for l (TLS records) as well as the socket. */
    void (*detach)(struct nq_comm *c, struct nq_link *l);
    void (*attach)(struct nq_comm *c, struct nq_link *l);
    /* kick may run on an application thread that holds io_mu (the direct
     * put path): the transport's state is touched only under io_mu and every
     * libev change it makes there is flagged with nq_core_note_change */
    int direct;
};

/* ---- what a transport may read ---- */

const struct nq_options *nq_core_opts(const struct nq_comm *c);
struct ev_loop *nq_core_loop(const struct nq_comm *c);
nq_purpose nq_core_purpose(const struct nq_comm *c);
/* Which I/O thread of a multi-loop server c is: 0 accepts (it owns the
 * listening socket and the port); the others only take links over. */
int nq_core_shard(const struct nq_comm *c);
/* close has begun (close_begin ran) */
int nq_core_closing(const struct nq_comm *c);
/* close is complete: no reconnection, nothing more to do */
int nq_core_closed(struct nq_comm *c);
/* The transport's own state, set by its start (and cleared by destroy). */
void *nq_core_transport(const struct nq_comm *c);
void nq_core_set_transport(struct nq_comm *c, void *state);
/* start: the port the server bound (nq_comm_port reports it). */
void nq_core_set_port(struct nq_comm *c, int port);
/* A client's one session. */
struct nq_session *nq_core_client_session(struct nq_comm *c);
/* s's live link, or NULL */
struct nq_link *nq_session_link(const struct nq_session *s);

/* ---- receive-queue backpressure ---- */

/* Reading must stop: the receive queue is full (and close has not begun:
 * a closing server reads on to its clients' fin). */
int nq_core_reading_paused(struct nq_comm *c);
/* After delivering frames: pause reading if the queue is now full (race
 * free with the getters, see recvq.c). 1 if reading must stop now. The
 * core calls ops->resume when a get drains the queue. */
int nq_core_pause_if_full(struct nq_comm *c);

/* ---- core services ---- */

/* A new link: its framer takes the communicator's message limit (never
 * below a handshake frame) and counts its frames in progress against the
 * communicator's pool (the partial limit). Call before feeding it. */
void nq_core_link_init(struct nq_comm *c, struct nq_link *l);
/* ---- core services for transports (I/O thread) ---- */

void nq_log(struct nq_comm *c, nq_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void nq_log_limited(struct nq_comm *c, struct nq_ratelimit *rl, nq_log_level level,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Feed received bytes through l's framer into nq_core_frame. -1: close l.
 * 1: l was handed to another I/O thread (ops.detach ran): stop, and touch
 * l no more. */
int nq_core_feed(struct nq_comm *c, struct nq_link *l, const uint8_t *buf, size_t len);
/* n bytes were received at the pointer nq_framer_direct gave. -1: close l;
 * 1: handed over, as for nq_core_feed. */
int nq_core_direct_commit(struct nq_comm *c, struct nq_link *l, size_t n);
/* n bytes were received into the iov nq_framer_scatter_prepare laid out
 * for l's framer (sc's guesses are freed). -1: close l; 1: handed over, as
 * for nq_core_feed. */
int nq_core_scatter_commit(struct nq_comm *c, struct nq_link *l, struct nq_scatter *sc, size_t n);

/* Write out every session that got output since the last flush. Call it
 * last in an I/O callback: it may close connections (finished sessions). */
void nq_core_flush(struct nq_comm *c);

/* A new connection of a client: attach the client's session and queue ini
 * in front of whatever is pending. */
void nq_core_client_attach(struct nq_comm *c, struct nq_link *l);
/* The link is gone (closed by us or the peer). */
void nq_core_link_lost(struct nq_comm *c, struct nq_link *l, const char *why);
/* The link failed its handshake before a peer id was known (TLS; a bad
 * first frame is the core's own): a refused event for the receivers, if
 * they asked for it. Call before closing the link. */
void nq_core_refused(struct nq_comm *c, struct nq_link *l, const char *why);

/* Output of a session: up to max iovecs / max_bytes from the unsent part;
 * with merge 0, from the first unsent frame only (one frame per write). */
int nq_session_gather(struct nq_session *s, struct iovec *iov, int max, uint64_t max_bytes,
                      int merge);
/* The same, starting `after` bytes past the unsent part's start (bytes a
 * transport has sent but not yet consumed, e.g. within a gRPC round). */
int nq_session_gather_at(struct nq_session *s, uint64_t after, struct iovec *iov, int max,
                         uint64_t max_bytes, int merge);
/* Complete every queued frame with st (puts' callbacks run). */
void nq_session_fail_all(struct nq_comm *c, struct nq_session *s, nq_status st);
/* n bytes went out: complete what was fully written. */
void nq_session_consume(struct nq_comm *c, struct nq_session *s, uint64_t n);
int nq_session_has_output(const struct nq_session *s);
/* fin sent and received and nothing left to send: the link can go. */
int nq_session_finished(const struct nq_session *s);

/* The I/O thread decided close is complete (or aborted). */
void nq_core_close_done(struct nq_comm *c, nq_status result);
/* Client transports: an attempt to reach the server failed or an
 * established link was lost (why: the cause, e.g. "connect to 127.0.0.1:5
 * failed: Connection refused"). Logs it (rate-limited), fails pending puts
 * once the connect timeout has passed without a session, and returns the
 * delay in seconds before the next attempt: exponential backoff with
 * jitter, which starts over only when a session is established. */
double nq_core_client_retry(struct nq_comm *c, const char *why);
/* Client transports' close_begin: when the server already ended the
 * session (both fins passed) and no link is left, close is done now. */
void nq_core_client_close_begin(struct nq_comm *c, int linked);
/* Server: number of sessions with a live link (a count, not a scan). */
size_t nq_core_live_links(struct nq_comm *c);

/* io_mu held: a direct put made a change the I/O thread must look at
 * (watchers, timers, callbacks to run, a link lost). */
void nq_core_note_change(struct nq_comm *c);
/* Client transports whose connection attempts are not discrete (gRPC's
 * channel connects on its own): the server is still not reachable (why).
 * Records the cause, logs it (rate-limited) and applies the connect
 * timeout, like a failed attempt, but leaves the backoff alone. */
void nq_core_client_unreachable(struct nq_comm *c, const char *why);
/* The same for a state that is normal while a connection is made (gRPC's
 * channel idle or connecting): records the cause and applies the connect
 * timeout, but logs nothing unless the timeout fails the pending puts. */
void nq_core_client_waiting(struct nq_comm *c, const char *why);
/* The client is making progress with its server (a gRPC round moved data
 * or ended OK): the retry policy starts over, as when a session is
 * established. */
void nq_core_client_established(struct nq_comm *c);
/* Client transports: the link to the server failed or was lost (why: the
 * cause). Settles close and a session the server ended, or else applies
 * the retry policy (nq_core_client_retry). Returns the delay in seconds
 * before the next attempt, or -1 when there is nothing to reconnect for. */
double nq_core_client_lost(struct nq_comm *c, const char *why);

/* ---- transports ---- */

/* One row of the transport table (transports.c). */
struct nq_transport {
    nq_protocol protocol;
    const char *name;
    const struct nq_transport_ops *server, *client; /* NULL: not built in */
};
const struct nq_transport *nq_transport_find(nq_protocol protocol);

#endif
