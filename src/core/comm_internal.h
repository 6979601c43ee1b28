/* Internal to the core: the communicator and its sessions. Transports do
 * not include this: their contract with the core is core/transport.h.
 * Everything marked "I/O thread" runs only on the communicator's loop
 * thread. */
#ifndef NQ_CORE_COMM_INTERNAL_H
#define NQ_CORE_COMM_INTERNAL_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/idmap.h"
#include "core/idset.h"
#include "core/recvq.h"
#include "core/transport.h"

struct nq_session {
    uint8_t peer[NQ_ID_SIZE];
    int identified;
    struct nq_send_item *head, *tail;
    uint64_t head_off; /* bytes of the head frame already written */
    /* written on a link whose peer has not sent its ini yet: completed
     * when it does, sent again on the next link if this one dies first */
    struct nq_send_item *sent_head, *sent_tail;
    int fin_queued, fin_sent, fin_received;
    uint64_t queued;      /* bytes of frames held for the peer (unsent or unacknowledged) */
    int over_limit;       /* a put found it over the per-peer limit: to be cut */
    struct nq_link *link; /* live connection, or NULL */
    int64_t lost_ms;      /* when the link went without fin (server) */
    uint64_t lost_seq;    /* and in which order (lost_ms ties within a ms) */
    int lingering;        /* server: lost without fin, kept for the peer's return */
    struct nq_session *ling_next, *ling_prev; /* the lingering list, oldest first */
    /* statistics (nq_comm_peer_stats): kept like the fields above */
    uint64_t msgs_in, bytes_in, msgs_out, bytes_out;
    uint64_t conn_lost;   /* links lost without fin */
    uint64_t reconnects;  /* new links that carried the session on */
    int64_t opened_ms;    /* when the peer's first ini arrived */
    struct nq_session *next, *prev; /* all sessions of a server */
    struct nq_session *dirty_next;
    int dirty;
};

/* A client's attempts to reach its server (client_policy.c). */
struct nq_retry {
    double backoff;          /* the last delay (s); 0 once a session is established */
    int64_t first_fail_ms;   /* first failure since then (the connect timeout runs from it) */
    unsigned long attempts;  /* failed attempts since then */
    int after_session;       /* the next retry follows a lost session, not a
                                failed attempt (the connect_failures count) */
    char why[160];           /* the last failure's cause, for the error that ends a wait */
    uint64_t rng;            /* jitter */
    struct nq_ratelimit rl;
};

/* One slot per nq_status value a put can complete with (and some room). */
#define NQ_STATUS_SLOTS 32

/* The communicator's counters (nq_comm_stats, stats.c). Whoever acts as the
 * I/O thread keeps them — the loop thread or a direct put, both under
 * io_mu, or the closing thread once the loop has ended (also under io_mu)
 * — so they are plain fields, and a snapshot reads them under io_mu: the
 * message path pays an add, never an atomic or a lock. */
struct nq_counters {
    uint64_t msgs_in, bytes_in;       /* data messages received (payload bytes) */
    uint64_t msgs_out, bytes_out;     /* data messages written, one per target */
    uint64_t frame_bytes_in, frame_bytes_out; /* net-queue frame bytes, headers included */
    uint64_t puts_done[NQ_STATUS_SLOTS]; /* puts completed, by status */
    uint64_t recv_dropped;            /* messages dropped by a drop queue policy */
    uint64_t connections;             /* links made (accepted or connected) */
    uint64_t sessions_opened;         /* first ini of a peer (client: each ini) */
    uint64_t reconnects;              /* sessions carried on by a new link */
    uint64_t sessions_expired;        /* lingering sessions dropped (linger over, cap) */
    uint64_t connect_failures;        /* client: failed attempts */
    uint64_t conn_lost;               /* links lost without fin after the handshake */
    uint64_t handshake_failures;      /* server: links that ended before the peer's ini */
    uint64_t frames_too_big, frames_over_partial, frames_truncated;
    uint64_t peers_cut;               /* server: peers cut over the per-peer limit */
};

/* A multi-loop server (nq_options_set_workers, shard.c) is a root
 * communicator (the public one, shard 0) and nshards - 1 internal ones, each
 * a whole nq_comm with its own I/O thread, loop, io_mu, cmdq, sessions and
 * transport state: a "shard". A peer's session lives on one shard, chosen
 * by its id (nq_shard_of). What all shards share lives in the root only and
 * is reached through nq_root(c): the receive queue, the send budget, the
 * peer sets (peers_mu), closing/putters and the close hand-shake (close_mu,
 * close_cv; close_done, close_why and close_result are per shard, under the
 * root's close_mu). Shards copy the root's options (a shallow copy: the
 * root owns their strings). Everything else is per shard. */
struct nq_comm {
    struct nq_comm *root;        /* the public communicator; itself for the root */
    struct nq_comm **shards;     /* root: nshards of them, shards[0] the root */
    int nshards;                 /* root: 1 but for a multi-loop server */
    int shard_ix;                /* its index in root->shards */
    uint64_t shard_key;          /* root: keys nq_shard_of */
    _Atomic uint64_t big_all;    /* root: big frames in progress, all shards (framer.h) */
    struct nq_recvq_src *rxsrc;  /* its side of the root's receive queue */
    struct nq_recvq_src rxsrc_own; /* (shards but the root: rxsrc points here) */
    nq_protocol protocol;
    nq_purpose purpose;
    struct nq_options o;
    const struct nq_transport_ops *ops;
    void *transport;

    /* loop thread; io_mu is held by it except while it waits in poll, so an
     * application thread that takes io_mu may act as the I/O thread (the
     * direct put path; libev's documented release/acquire pattern) */
    pthread_mutex_t io_mu;
    int io_changed;       /* io_mu: a direct put changed something the loop must see */
    int in_direct;        /* io_mu: an application thread is acting as the I/O thread */
    /* io_mu: callbacks the I/O thread must run, in put order */
    struct nq_put_req *deferred, *deferred_tail;
    /* of the last put that found the loop polling; INT64_MAX after a put
     * that found it busy */
    _Atomic int64_t last_put_ns;
    atomic_int polling;   /* the I/O thread waits in poll (io_mu released) */
    struct ev_loop *loop;
    ev_async wake;
    pthread_t thread;
    int thread_started;

    /* application threads -> I/O thread */
    struct nq_mpsc cmdq;
    /* a put's wake-up is on its way: set by the putter whose exchange
     * found it clear (that one calls ev_async_send), cleared by the I/O
     * thread's exchange before it drains cmdq, so a burst of puts while
     * the I/O thread is busy costs one exchange each, not an ev_async_send
     * (a full fence plus the loop's own cache lines) */
    atomic_int cmd_wake;
    atomic_int closing;  /* close has begun: puts are refused */
    atomic_int putters;  /* puts between their closing check and their push */
    atomic_int resume_asked;

    struct nq_recvq rq;
    struct nq_budget send_budget;
    struct nq_framer_pool rx_pool; /* I/O thread: frames being received, all links */

    /* I/O thread */
    struct nq_session *sessions; /* a client has exactly one */
    size_t live_links;           /* sessions with a link (nq_core_live_links) */
    struct nq_idmap session_by_id; /* server: identified sessions by peer id */
    struct nq_session *dirty;
    int close_phase;             /* 1 once close_begin ran */
    struct nq_retry retry;       /* client */
    struct nq_ratelimit lost_log; /* "connection lost without fin" */
    struct nq_ratelimit slow_log; /* peers cut over the per-peer limit */
    struct nq_ratelimit pool_log; /* links cut over the partial limit */
    struct nq_ratelimit peer_log; /* protocol errors of peers */
    struct nq_ratelimit drop_log; /* messages dropped by a full receive queue */
    struct nq_ratelimit evict_log; /* lingering sessions dropped over the cap */
    size_t lingering;             /* server: sessions kept for their peers' return */
    /* those sessions in the order they were lost (lost_seq, hence lost_ms):
     * the oldest to evict and the expired to sweep are at the head */
    struct nq_session *ling_head, *ling_tail;
    uint64_t lost_count;          /* server: links lost so far (lost_seq) */
    int port;
    struct nq_counters ctr;      /* see struct nq_counters */
    int64_t created_ms;

    /* peers with a live link (nq_comm_peers) and peers with a session,
     * live or waiting for a reconnection (the put-time peer check) */
    pthread_mutex_t peers_mu;
    struct nq_idset live, known;
    atomic_size_t live_n; /* live.n, for a broadcast's estimate without the lock */
    ev_timer sweep;          /* once a second: server sweep, client tick */
    ev_timer get_timer;      /* the next deadline of an asynchronous receive */

    /* close hand-shake between the closing thread and the I/O thread */
    pthread_mutex_t close_mu;
    pthread_cond_t close_cv;
    int close_done;
    int close_begun;       /* begin_close ran on this shard (close_mu) */
    int closed;            /* nq_comm_close finished */
    nq_status close_result;
    char close_why[512];   /* why close did not end cleanly (close_mu) */
};

/* ---- core only ---- */

/* What every shard shares lives in the root (see struct nq_comm). */
static inline struct nq_comm *nq_root(const struct nq_comm *c)
{
    return c->root;
}

/* What one extra target of a put holds: its send item (and the allocator's
 * header). The send limit counts it: a broadcast's fan-out is memory too. */
#define NQ_TARGET_COST (sizeof(struct nq_send_item) + 16)

/* A frame arrived on l. Returns 0 to go on, -1 when the link must be
 * closed (protocol error already logged). Owns m. */
int nq_core_frame(struct nq_comm *c, struct nq_link *l, struct nq_msg *m);
void nq_session_push(struct nq_session *s, struct nq_send_item *it);
void nq_session_push_front(struct nq_session *s, struct nq_send_item *it);
/* The peer's ini arrived: what was written before it is now delivered. */
void nq_session_ack(struct nq_comm *c, struct nq_session *s);
/* The link died: frames not acknowledged go back in front, to resend. */
void nq_session_requeue(struct nq_session *s);
/* it, already unlinked from s's lists, completes with st. */
void nq_session_fail_item(struct nq_comm *c, struct nq_session *s, struct nq_send_item *it,
                          nq_status st);
/* I/O thread, once a second: expire sessions past their linger (a lost
 * peer's session is kept o.linger_ms, 60 s, for its reconnection). */
void nq_core_sweep(struct nq_comm *c);

/* Client, once a second (loop.c): puts waiting for a session that does
 * not come (a server that accepts but never answers, an MQTT topic nobody
 * serves) fail after the connect timeout too, not only failed attempts. */
void nq_core_client_tick(struct nq_comm *c);
/* Why close is being cut at its deadline: who did not finish, or why the
 * server was never reached. */
void nq_core_close_why(struct nq_comm *c, char *out, size_t cap);
/* Is the calling thread c's I/O thread? */
int nq_core_on_io_thread(const struct nq_comm *c);
/* ... or the I/O thread of any shard of c's communicator? */
int nq_core_on_any_io_thread(const struct nq_comm *c);
/* io_mu held, in a direct put: the put's callback will run on the I/O
 * thread (callbacks are documented to run there). */
void nq_core_defer(struct nq_comm *c, struct nq_put_req *r);
/* I/O thread: run the deferred callbacks. */
void nq_core_run_deferred(struct nq_comm *c);
/* r's last target is done: count it and run its callback (deferred to the
 * I/O thread in a direct put). */
void nq_core_put_complete(struct nq_comm *c, struct nq_put_req *r);
/* The same, now: on the I/O thread or the thread acting as it. */
void nq_core_put_finish(struct nq_comm *c, struct nq_put_req *r);
/* A link handed over from another shard (shard.c): run its peer's ini,
 * then the frames read after it. -1: close the link. */
int nq_core_adopted(struct nq_comm *c, struct nq_link *l, const uint8_t *id,
                    struct nq_msg *frames);
/* Application thread, io_mu held, closing not begun: dispatch r and write it
 * out now. Returns 1 if the I/O thread must be woken to finish. */
int nq_core_put_direct(struct nq_comm *c, struct nq_put_req *r);


/* A put's completion is counted (stats): call once per put, with its final
 * status, wherever it completes. */
static inline void nq_count_put_done(struct nq_comm *c, nq_status st)
{
    c->ctr.puts_done[(unsigned)st < NQ_STATUS_SLOTS ? (unsigned)st : NQ_STATUS_SLOTS - 1]++;
}

/* After the loop ended: free what one loop owns (its sessions, the libev
 * loop, the id map, io_mu) — the root's and each shard's alike. */
void nq_comm_free_loop_state(struct nq_comm *c);

/* ---- loop thread (src/loop) ---- */
nq_status nq_loop_start(struct nq_comm *c);
void nq_loop_wake(struct nq_comm *c);
/* After a push on cmdq: wake the I/O thread unless a wake-up is already on
 * its way (cmd_wake). */
void nq_loop_wake_for_cmd(struct nq_comm *c);
void nq_loop_join(struct nq_comm *c);
/* The closing thread acts as the I/O thread (on 1) once the loop has ended,
 * or stops (0): nq_core_on_io_thread answers accordingly. */
void nq_loop_adopt(struct nq_comm *c, int on);
/* I/O thread: process everything application threads handed over. */
void nq_core_drain(struct nq_comm *c);
/* I/O thread: time out asynchronous receives due, and set get_timer for
 * the next deadline. */
void nq_loop_receive_deadlines(struct nq_comm *c);
/* A peer event for the receivers, if the options asked for its kind
 * (peer NULL: none known yet). I/O thread. */
void nq_core_event(struct nq_comm *c, nq_msg_kind kind, const uint8_t *peer, const char *detail);

extern const struct nq_transport_ops nq_tcp_server_ops;
extern const struct nq_transport_ops nq_tcp_client_ops;
extern const struct nq_transport_ops nq_inproc_server_ops;
extern const struct nq_transport_ops nq_inproc_client_ops;
#ifdef NQ_HAVE_MQTT
extern const struct nq_transport_ops nq_mqtt_server_ops;
extern const struct nq_transport_ops nq_mqtt_client_ops;
#endif
#ifdef NQ_HAVE_GRPC
extern const struct nq_transport_ops nq_grpc_server_ops;
extern const struct nq_transport_ops nq_grpc_client_ops;
#endif

#endif
