/* Internal: the gRPC transport (gRPC core C API). One completion queue per
 * communicator, drained by its own thread, which only forwards completed
 * operations to the loop thread (lock-free queue + ev_async): every gRPC
 * call and all core state are driven from the loop thread. */
#ifndef NQ_GRPC_INTERNAL_H
#define NQ_GRPC_INTERNAL_H

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/support/alloc.h>
#include <pthread.h>

#include "core/comm_internal.h"
#include "core/mpsc.h"

#define NQ_GRPC_METHOD "/grpc/comm"

/* Server: pings from a client closer together than this while the server
 * sent nothing count as abuse (gRPC's default is 5 min). Half the smallest
 * keepalive a client can set (1000 ms). */
#define NQ_GQ_MIN_PING_MS 500

/* The client identity that survives an L7 proxy (grpc_ident.c): every call
 * of a netqueue client carries its id and a token of its current link as
 * metadata; the server keys a client by them instead of by the call's peer
 * address, which behind a proxy is the proxy's and shared by its clients. */
#define NQ_GQ_HDR_ID "nq-client-id"
#define NQ_GQ_HDR_LINK "nq-link"
#define NQ_GQ_LINK_HEX 16 /* hex digits of a link token */
/* "<32 hex id>/<16 hex token>", or a peer address */
#define NQ_GQ_KEY_MAX 128

enum gq_kind {
    GQ_NEW_CALL,  /* server: grpc_server_request_call completed */
    GQ_START,     /* initial metadata sent */
    GQ_SEND,      /* a message, the half-close or the server's status went out */
    GQ_RECV,      /* a message (or the end of the peer's stream) arrived */
    GQ_STATUS,    /* client: final status; server: the call closed */
    GQ_SHUTDOWN,  /* server: grpc_server_shutdown_and_notify completed */
    GQ_CONN,      /* client: the channel's connectivity changed (or the watch timed out) */
};

struct gq_call;

/* One outstanding gRPC operation batch; its address is the cq tag. */
struct gq_op {
    struct nq_mpsc_node node; /* first: queued to the loop thread */
    enum gq_kind kind;
    int success;
    struct gq_call *call;
};

struct gq_peer;

/* One gRPC call: a round (client or server), a rejected call, or a pending
 * server request. */
struct gq_call {
    struct gq_state *g;
    grpc_call *call;
    struct gq_peer *peer;      /* the link the round carries (NULL: none) */
    struct gq_op op_start, op_send, op_recv, op_status, op_new;
    int pending;               /* operations outstanding */
    int sending;               /* a send operation is outstanding */
    int send_done;             /* client: half-closed; server: done streaming */
    int recv_done;             /* the peer's stream ended */
    int recv_stalled;          /* receive queue full: read again on resume */
    int status_sent;           /* server: status is on its way */
    int ending;                /* server: the round is over, only its status is left */
    int failed;
    int data;                  /* bytes moved this round (client backoff) */
    uint64_t inflight;         /* client: bytes carried this round (consumed at its OK end);
                                * server: bytes of the outstanding send (consumed when it
                                * completes) */
    int reject;                /* server: wrong method, answered with an error */
    char why[200];
    grpc_byte_buffer *send_buf, *recv_buf;
    grpc_metadata_array md_init, md_trail, md_req;
    grpc_metadata md_send[2];  /* client: the identity headers of this call */
    size_t md_send_n;
    grpc_call_details details;
    grpc_status_code status;
    grpc_slice status_details;
    const char *error_string;
    int cancelled;
    struct gq_call *next_wait; /* server: calls of a busy peer, in order */
    struct gq_call *all_next, *all_prev;
};

/* A link: the byte streams with one peer, carried by successive calls. */
struct gq_peer {
    struct nq_link link;       /* first: the core sees this */
    char addr[128];            /* server: the peer address of its latest call */
    char key[NQ_GQ_KEY_MAX];   /* server: what its calls are matched by (addr, or the headers) */
    int by_header;             /* keyed by nq-client-id / nq-link */
    uint8_t hid[NQ_ID_SIZE];   /* by_header: the id the headers claim */
    uint8_t ini[8 + NQ_ID_SIZE]; /* by_header: the stream's first bytes, until checked */
    int ini_n;
    int ini_checked;
    int conns;                 /* by_header: connections its calls came on (changes counted) */
    int64_t quiet_ms;          /* by_header: when its latest round ended (liveness) */
    struct gq_call *round;     /* the call in progress */
    struct gq_call *wait_head, *wait_tail;
    int dropped;               /* the core let go of it: free after the round */
    int ending;                /* calls whose status is on its way (after their round) */
    struct gq_peer *next;
};

struct gq_state {
    struct nq_comm *c;
    grpc_completion_queue *cq;
    pthread_t cq_thread;
    int cq_thread_started;
    struct nq_mpsc events;     /* cq thread -> loop thread */
    void (*on_event)(struct gq_state *, struct gq_op *);
    ev_async wake;
    grpc_channel_args args;
    grpc_arg arg_items[16];
    struct gq_call *calls;     /* every live call struct */
    /* server */
    grpc_server *server;
    intptr_t cz_server;        /* its channelz id (0: unknown, no liveness check) */
    ev_timer live;             /* the liveness check (grpc_live.c) */
    struct gq_peer *peers;
    struct gq_op op_shutdown;
    pthread_mutex_t shut_mu;
    pthread_cond_t shut_cv;
    int shut_done;
    /* client */
    grpc_channel *channel;
    struct gq_peer link;       /* the one link to the server */
    char id_hex[2 * NQ_ID_SIZE + 1];  /* our id, for the nq-client-id header */
    char link_hex[NQ_GQ_LINK_HEX + 1]; /* the current link's token (nq-link) */
    int linked;
    struct gq_call *round;
    ev_timer poll;
    double poll_backoff;       /* next idle poll delay */
    int retrying;              /* a round failed: the retry timer decides the next */
    struct gq_op op_conn;      /* connectivity watch (call NULL) */
    int watching;
};

/* ---- common (grpc_common.c) ---- */
struct gq_state *nq_gq_new(struct nq_comm *c, void (*on_event)(struct gq_state *, struct gq_op *));
/* Loop thread: start a batch; counts it pending. GRPC_CALL_OK or an error. */
grpc_call_error nq_gq_batch(struct gq_call *k, struct gq_op *op, const grpc_op *ops, size_t n);
struct gq_call *nq_gq_call_new(struct gq_state *g);
/* pending reached 0: unref the gRPC call and free. */
void nq_gq_call_free(struct gq_call *k);
/* Caller's thread after the loop ended: stop the cq thread, then finish
 * every operation still queued (finish is called for each). */
void nq_gq_stop(struct gq_state *g, void (*finish)(struct gq_state *, struct gq_op *));
void nq_gq_free(struct gq_state *g);
/* A message of at most 1 MiB (or transport_size) from s's output after the skip
 * bytes already in flight: long runs are slices that reference the queued
 * payloads, short frames are copied. NULL when there is nothing more. The
 * bytes stay queued: the server consumes them when the send completes
 * (nq_gq_sent), the client when the round ends with OK, so that a round
 * that fails (a restarted server answers it with an error) goes again on
 * the next link. */
grpc_byte_buffer *nq_gq_take(struct nq_comm *c, struct nq_session *s, uint64_t skip, size_t *len);
/* Loop thread, server: the round's outstanding send of k->inflight bytes
 * to s completed: gRPC took them, as a socket write does for TCP, so they
 * leave the queue and their puts complete (and refund the send limit) now
 * rather than at the round's end. */
void nq_gq_sent(struct nq_comm *c, struct nq_session *s, struct gq_call *k);
/* Feed a received message through l. -1: protocol error (logged). */
int nq_gq_feed(struct nq_comm *c, struct nq_link *l, grpc_byte_buffer *b, size_t *len);
void nq_gq_link_init(struct nq_comm *c, struct gq_peer *p, const char *name);
/* Read a PEM file into a NUL-terminated string. */
nq_status nq_gq_read_file(const char *what, const char *path, char **out);
const char *nq_gq_status_name(grpc_status_code st);

/* ---- credentials (grpc_creds.c) ---- */
nq_status nq_gq_server_creds(struct nq_comm *c, grpc_server_credentials **out);
nq_status nq_gq_channel_creds(struct nq_comm *c, grpc_channel_credentials **out);

/* ---- client identity headers (grpc_ident.c) ---- */
/* Client: a new link begins: a fresh random token. */
void nq_gq_ident_new_link(struct gq_state *g);
/* Client: the headers for k's initial metadata (into k->md_send). */
void nq_gq_ident_metadata(struct gq_state *g, struct gq_call *k);
/* Server: the key of k's client from its headers into key, its id into
 * id: 1 keyed by the headers, 0 no headers (key by address), -1 bad
 * headers (why says what). */
int nq_gq_ident_key(struct gq_call *k, char *key, uint8_t *id, char *why, size_t whyn);
/* Server: check the ini of a header-keyed link against the header's id
 * before b is fed: 0 fine or not decided yet, -1 it claims another id
 * (why says both), -2 the link does not begin with an ini (the middle of
 * a link another server had, or one this server lost). */
int nq_gq_ident_check(struct gq_peer *p, grpc_byte_buffer *b, char *why, size_t whyn);

/* ---- server rounds (grpc_peers.c) ---- */
void nq_gq_server_new_call(struct gq_state *g, struct gq_call *k);
void nq_gq_server_event(struct gq_state *g, struct gq_op *op);
void nq_gq_server_kick(struct gq_state *g, struct gq_peer *p);
void nq_gq_peer_drop(struct gq_state *g, struct gq_peer *p, const char *why);
void nq_gq_server_resume(struct gq_state *g);

/* ---- server liveness (grpc_live.c) ---- */
/* grpc_server_create, noting the server's channelz id. */
grpc_server *nq_gq_server_create(struct gq_state *g);
/* Drop the links of peers between rounds whose connection is gone. */
void nq_gq_server_check_links(struct gq_state *g);
void nq_gq_server_live_start(struct gq_state *g);
/* close began: check now, then more often */
void nq_gq_server_live_closing(struct gq_state *g);
void nq_gq_server_live_stop(struct gq_state *g);

/* ---- client rounds (grpc_round.c) and polling (grpc_client.c) ---- */
void nq_gq_client_round(struct gq_state *g);
void nq_gq_client_event(struct gq_state *g, struct gq_op *op);
void nq_gq_client_send_next(struct gq_state *g, struct gq_call *k);
void nq_gq_client_round_done(struct gq_state *g, struct gq_call *k);
void nq_gq_client_resume(struct gq_state *g);
/* The channel is not ready: wait for it (grpc_client.c). */
void nq_gq_client_wait_ready(struct gq_state *g, grpc_connectivity_state st);
void nq_gq_client_conn_event(struct gq_state *g);

#endif
