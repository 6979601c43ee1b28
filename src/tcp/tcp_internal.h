/* Internal: TCP (and TLS over TCP) connections. */
#ifndef NQ_TCP_INTERNAL_H
#define NQ_TCP_INTERNAL_H

#include <openssl/ssl.h>
#include <sys/socket.h>

#include "core/transport.h"

struct tcp_conn {
    struct nq_link link; /* first: the core sees this */
    struct nq_comm *c;
    int fd;
    ev_io io;
    int events;          /* what io currently watches */
    int connecting;      /* client: non-blocking connect in progress */
    SSL *ssl;
    int tls_ready;
    int tls_refused;     /* the peer's TLS alert refused our certificate (mutual TLS) */
    int eof;             /* the peer half-closed: write what we owe, then close */
    int64_t accepted_ms; /* server: when accepted (the handshake must finish in time) */
    /* plaintext staged for SSL_write: NULL between writes; while one
     * runs, the I/O thread's stage (tcp_state.tls_stage); after a write
     * that wants to be retried with the same bytes, a buffer of its own
     * holding just those */
    uint8_t *tls_out;
    size_t tls_out_off, tls_out_len;
    struct tcp_conn *next, *prev;
    /* server: on the handshake list (accepted, not yet seen identified) */
    struct tcp_conn *hs_next, *hs_prev;
    int in_hs;
};

struct tcp_state {
    struct nq_comm *c;
    SSL_CTX *ssl_ctx;
    uint8_t *rbuf;       /* receive buffer shared by the loop's connections */
    uint8_t *tls_stage;  /* TLS: NQ_TLS_STAGE bytes of staging shared likewise (made on first use) */
    struct tcp_conn *conns;
    /* server: connections still in their handshake, in accept order (the
     * sweep looks at these only: idle sessions cost it nothing) */
    struct tcp_conn *hs_head, *hs_tail;
    struct nq_ratelimit refused_log; /* server: failed TLS handshakes */
    /* server */
    int listen_fd;
    ev_io accept_io;
    ev_timer handshake_sweep; /* closes connections that never said who they are */
    /* client */
    ev_timer retry;
};

#define NQ_TCP_RBUF (256u * 1024u)
/* The rest of a frame at least this big is read straight into its
 * message, not copied out of rbuf. */
#ifndef NQ_TCP_DIRECT_MIN
#define NQ_TCP_DIRECT_MIN (64u * 1024u)
#endif
#define NQ_TLS_STAGE (64u * 1024u)
/* A piece this big (a full TLS record) is encrypted where it lies. */
#define NQ_TLS_IN_PLACE (16u * 1024u)

/* Adopt a connected (or connecting) socket. NULL on failure (fd closed). */
struct tcp_conn *nq_tcp_conn_new(struct tcp_state *t, int fd, int connecting, const char *name);
/* Move k to another I/O thread: detach on its own (watchers stopped, off
 * the list), attach on the new one's (k->c set, watchers started there). */
void nq_tcp_conn_detach(struct tcp_conn *k);
void nq_tcp_conn_attach(struct tcp_state *t, struct tcp_conn *k);
/* Server: k was just accepted; it waits on the handshake list. */
void nq_tcp_hs_add(struct tcp_state *t, struct tcp_conn *k);
/* Off the handshake list (identified, closed or handed over); no-op if not on it. */
void nq_tcp_hs_remove(struct tcp_state *t, struct tcp_conn *k);
/* Close and free; tells the core the link is gone. */
void nq_tcp_conn_close(struct tcp_conn *k, const char *why);
/* Recompute what the watcher waits for. */
void nq_tcp_conn_update(struct tcp_conn *k);
/* Try to write now (after new output was queued). */
void nq_tcp_conn_kick(struct tcp_conn *k);
/* Connection is up (TCP connected, TLS handshaken): hook for the client. */
void nq_tcp_client_ready(struct tcp_state *t, struct tcp_conn *k);
/* Client: connection failed or was lost: try again later. */
void nq_tcp_client_lost(struct tcp_state *t, const char *why);

struct tcp_state *nq_tcp_state_new(struct nq_comm *c);
void nq_tcp_state_free(struct tcp_state *t);
void nq_tcp_close_all(struct tcp_state *t, const char *why);
void nq_tcp_resume_all(struct tcp_state *t);
void nq_tcp_format_addr(const struct sockaddr *sa, char *out, size_t n);

#endif
