/* One TCP or TLS connection on the I/O thread: reads feed the framer (big
 * payloads are read straight into their message), writes gather a
 * session's frames with sendmsg. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp/tcp_internal.h"
#include "tls/tls.h"

/* pieces per sendmsg: 512 frames of 64 B are ~37 KB, where 64 capped a write at 4.6 KB */
#define IOV_BATCH 512
/* bytes read per event before other connections get a turn */
#define READ_BUDGET (4u * 1024u * 1024u)

static void on_io(struct ev_loop *loop, ev_io *w, int revents);

/* Backpressure stops reading while the receive queue is full, except during
 * close: a closing server must read its clients' data up to their fin (and
 * notice clients that vanished); what it reads stays gettable after close. */
static int reading_paused(struct nq_comm *c)
{
    return nq_core_reading_paused(c);
}

void nq_tcp_format_addr(const struct sockaddr *sa, char *out, size_t n)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(out, n, "%s:%d", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(out, n, "[%s]:%d", host, port);
    } else {
        snprintf(out, n, "?");
    }
}

/* Dead-peer detection: probes after a third of the timeout of silence, the
 * connection cut when probes or sent bytes go unanswered for the timeout
 * (TCP_USER_TIMEOUT covers a peer that vanished while we were writing,
 * which keepalive alone never notices). */
static void set_keepalive(int fd, int64_t timeout_ms)
{
    if (timeout_ms <= 0)
        return;
    int on = 1;
    int idle = (int)(timeout_ms / 3000) > 0 ? (int)(timeout_ms / 3000) : 1;
    int intvl = idle;
    int cnt = 3;
    unsigned user_timeout = (unsigned)timeout_ms;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
}

static void list_add(struct tcp_state *t, struct tcp_conn *k)
{
    k->prev = NULL;
    k->next = t->conns;
    if (t->conns)
        t->conns->prev = k;
    t->conns = k;
}

static void list_remove(struct tcp_state *t, struct tcp_conn *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        t->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    k->next = k->prev = NULL;
}

void nq_tcp_hs_add(struct tcp_state *t, struct tcp_conn *k)
{
    k->hs_next = NULL;
    k->hs_prev = t->hs_tail;
    if (t->hs_tail)
        t->hs_tail->hs_next = k;
    else
        t->hs_head = k;
    t->hs_tail = k;
    k->in_hs = 1;
}

void nq_tcp_hs_remove(struct tcp_state *t, struct tcp_conn *k)
{
    if (!k->in_hs)
        return;
    if (k->hs_prev)
        k->hs_prev->hs_next = k->hs_next;
    else
        t->hs_head = k->hs_next;
    if (k->hs_next)
        k->hs_next->hs_prev = k->hs_prev;
    else
        t->hs_tail = k->hs_prev;
    k->hs_next = k->hs_prev = NULL;
    k->in_hs = 0;
}

struct tcp_conn *nq_tcp_conn_new(struct tcp_state *t, int fd, int connecting, const char *name)
{
    struct nq_comm *c = t->c;
    struct tcp_conn *k = calloc(1, sizeof *k);
    if (!k) {
        close(fd);
        nq_log(c, NQ_LOG_ERROR, "%s: out of memory for a connection", name);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_keepalive(fd, nq_core_opts(c)->keepalive_ms);
    k->c = c;
    k->fd = fd;
    k->connecting = connecting;
    snprintf(k->link.name, sizeof k->link.name, "%s", name);
    /* handshake frames pass whatever the limit */
    nq_core_link_init(c, &k->link);
    if (t->ssl_ctx) {
        k->ssl = nq_tls_new(t->ssl_ctx, fd, nq_core_opts(c), nq_core_purpose(c) == NQ_SERVER);
        if (!k->ssl) {
            nq_log(c, NQ_LOG_ERROR, "%s: cannot set up TLS", name);
            close(fd);
            free(k);
            return NULL;
        }
    }
    list_add(t, k);
    ev_io_init(&k->io, on_io, fd, connecting ? EV_WRITE : EV_READ);
    k->io.data = k;
    k->events = connecting ? EV_WRITE : EV_READ;
    ev_io_start(nq_core_loop(c), &k->io);
    return k;
}

void nq_tcp_conn_detach(struct tcp_conn *k)
{
    ev_io_stop(nq_core_loop(k->c), &k->io);
    k->events = 0;
    nq_tcp_hs_remove(nq_core_transport(k->c), k);
    list_remove(nq_core_transport(k->c), k);
    k->c = NULL;
}

void nq_tcp_conn_attach(struct tcp_state *t, struct tcp_conn *k)
{
    k->c = t->c;
    list_add(t, k);
    nq_tcp_conn_update(k); /* watchers on this loop; TLS records already read count too */
}

void nq_tcp_conn_close(struct tcp_conn *k, const char *why)
{
    struct nq_comm *c = k->c;
    struct tcp_state *t = nq_core_transport(c);
    ev_io_stop(nq_core_loop(c), &k->io);
    nq_tcp_hs_remove(t, k);
    list_remove(t, k);
    if (k->ssl) {
        if (k->tls_ready)
            SSL_shutdown(k->ssl);
        SSL_free(k->ssl);
    }
    close(k->fd);
    /* (a TLS 1.3 server refusing our certificate answers after our
     * handshake: its alert is the cause, no guess needed) */
    int attempt_failed = !k->link.peer_ini && !k->connecting && !(k->ssl && !k->tls_ready) &&
                         !k->tls_refused;
    nq_core_link_lost(c, &k->link, why);
    free(k->tls_out);
    free(k);
    if (nq_core_purpose(c) == NQ_CLIENT) {
        char cause[400];
        if (attempt_failed) {
            /* connected, then dropped before the server said who it is */
            snprintf(cause, sizeof cause, "%s before the server's ini (not a netqueue server, "
                     "or TLS on one side only?)", why);
            why = cause;
        }
        nq_tcp_client_lost(t, why);
    }
}

/* Bytes for this connection that are not on the wire yet. */
static int has_pending_output(struct tcp_conn *k)
{
    if (k->tls_out_len > k->tls_out_off || (k->ssl && nq_tls_unflushed(k->ssl)))
        return 1;
    return k->link.s && nq_session_link(k->link.s) == &k->link && nq_session_has_output(k->link.s);
}

static int wants_write(struct tcp_conn *k)
{
    if (k->connecting)
        return 1;
    if (k->ssl && !k->tls_ready)
        return SSL_want_write(k->ssl) || nq_tls_unflushed(k->ssl);
    if (k->tls_out_len > k->tls_out_off || (k->ssl && nq_tls_unflushed(k->ssl)))
        return 1;
    return k->link.s && nq_session_has_output(k->link.s) && nq_session_link(k->link.s) == &k->link;
}

void nq_tcp_conn_update(struct tcp_conn *k)
{
    struct nq_comm *c = k->c;
    int ev = 0;
    if (k->connecting) {
        ev = EV_WRITE;
    } else {
        if (!k->eof && (!reading_paused(c) || (k->ssl && !k->tls_ready)))
            ev |= EV_READ;
        if (wants_write(k))
            ev |= EV_WRITE;
    }
    if (ev != k->events) {
        nq_core_note_change(c);
        ev_io_stop(nq_core_loop(c), &k->io);
        ev_io_set(&k->io, k->fd, ev);
        k->events = ev;
        if (ev)
            ev_io_start(nq_core_loop(c), &k->io);
    }
    /* TLS reads ahead: records already taken off the socket raise no
     * readiness, so a read that stopped early (budget, pause) comes back
     * by itself */
    if ((ev & EV_READ) && k->ssl && k->tls_ready && SSL_has_pending(k->ssl))
        ev_feed_event(nq_core_loop(c), &k->io, EV_READ);
}

/* ---- reading ---- */

/* A plain socket's read result as conn_read returns it. */
static ssize_t plain_read_result(ssize_t n)
{
    if (n >= 0)
        return n;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1 : -2;
}

/* >0 bytes, 0 end of stream, -1 would block, -2 error */
static ssize_t conn_read(struct tcp_conn *k, void *buf, size_t len)
{
    if (!k->ssl)
        return plain_read_result(recv(k->fd, buf, len, 0));
    size_t got = 0;
    int r = SSL_read_ex(k->ssl, buf, len, &got);
    if (r == 1)
        return (ssize_t)got;
    int e = SSL_get_error(k->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return -1;
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
        return 0; /* peer closed the socket without close_notify */
    return -2;
}

/* conn_read for a plain socket, scattered */
static ssize_t conn_readv(struct tcp_conn *k, const struct iovec *iov, int iovcnt)
{
    return plain_read_result(readv(k->fd, iov, iovcnt));
}

/* Returns -1 when the connection was closed. */
static int do_read(struct tcp_conn *k)
{
    struct nq_comm *c = k->c;
    struct tcp_state *t = nq_core_transport(c);
    size_t budget = READ_BUDGET;
    while (budget > 0 && !reading_paused(c) && !k->eof) {
        size_t room;
        uint8_t *direct = nq_framer_direct(&k->link.fr, NQ_TCP_DIRECT_MIN, &room);
        /* plain sockets scatter frames as big as the last one straight
         * into their messages (framer.h); TLS reads one buffer */
        struct nq_scatter sc;
        struct iovec iov[NQ_SCATTER_IOV];
        int iovcnt = direct || k->ssl ? 0
                                      : nq_framer_scatter_prepare(&k->link.fr, &sc, iov, t->rbuf,
                                                                  NQ_TCP_RBUF, NQ_TCP_DIRECT_MIN);
        ssize_t n = iovcnt ? conn_readv(k, iov, iovcnt)
                           : conn_read(k, direct ? direct : t->rbuf,
                                       direct ? room
                                              : nq_framer_next_read(&k->link.fr, NQ_TCP_DIRECT_MIN,
                                                                    NQ_TCP_RBUF));
        if (iovcnt && n <= 0)
            nq_framer_scatter_cancel(&sc);
        if (n == -1)
            return 0;
        if (n == 0) {
            /* a half-close: the peer may still read what we owe it (our
             * ini, replies already queued), so that goes out first */
            if (has_pending_output(k)) {
                k->eof = 1;
                return 0;
            }
            nq_tcp_conn_close(k, "peer closed the connection");
            return -1;
        }
        if (n < 0) {
            char why[320];
            snprintf(why, sizeof why, "receive failed: %s",
                     k->ssl ? nq_tls_reason_ex(k->ssl, &k->tls_refused) : strerror(errno));
            nq_tcp_conn_close(k, why);
            return -1;
        }
        int r = iovcnt ? nq_core_scatter_commit(c, &k->link, &sc, (size_t)n)
                : direct ? nq_core_direct_commit(c, &k->link, (size_t)n)
                         : nq_core_feed(c, &k->link, t->rbuf, (size_t)n);
        if (r < 0) {
            nq_tcp_conn_close(k, "protocol error");
            return -1;
        }
        if (r > 0)
            return -1; /* handed to its peer's I/O thread: k is not ours any more */
        budget -= (size_t)n < budget ? (size_t)n : budget;
        nq_core_pause_if_full(c);
    }
    return 0;
}

/* ---- writing ---- */

/* bytes written, 0 would block, -1 error */
static ssize_t plain_write(struct tcp_conn *k)
{
    struct nq_session *s = k->link.s;
    struct iovec iov[IOV_BATCH];
    ssize_t total = 0;
    while (nq_session_has_output(s)) {
        int n = nq_session_gather(s, iov, IOV_BATCH, nq_core_opts(k->c)->transport_size, nq_core_opts(k->c)->merge);
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(k->fd, &mh, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return total;
            return -1;
        }
        nq_session_consume(k->c, s, (uint64_t)w);
        total += w;
    }
    return total;
}

static ssize_t tls_encrypt(struct tcp_conn *k);

/* Encrypt what is queued into the write buffer (which writes itself out
 * whenever full), then flush it. */
static ssize_t tls_write(struct tcp_conn *k)
{
    ssize_t total = tls_encrypt(k);
    if (total < 0 || nq_tls_flush(k->ssl) < 0)
        return -1;
    return total;
}

/* Small pieces (frame headers, small messages) are copied into tls_out
 * and encrypted together; a piece of at least a record is encrypted where
 * it lies. Both are safe to retry after SSL_ERROR_WANT_WRITE, which wants
 * the same bytes again: tls_out keeps staged bytes (the session forgets
 * them), and a piece encrypted in place is consumed only as far as
 * SSL_write_ex reported it written, so the next gather starts at the same
 * byte, in the same buffer, with at least the same length. */
static ssize_t tls_encrypt_staged(struct tcp_conn *k, uint8_t *stage)
{
    struct nq_session *s = k->link.s;
    ssize_t total = 0;
    for (;;) {
        const uint8_t *p;
        size_t len, staged = 0;
        if (k->tls_out_off < k->tls_out_len) {
            p = k->tls_out + k->tls_out_off;
            len = k->tls_out_len - k->tls_out_off;
            staged = 1;
        } else {
            if (!s || !nq_session_has_output(s))
                return total;
            struct iovec iov[IOV_BATCH];
            int n = nq_session_gather(s, iov, IOV_BATCH, NQ_TLS_STAGE, nq_core_opts(k->c)->merge);
            if (n > 0 && iov[0].iov_len >= NQ_TLS_IN_PLACE) {
                p = iov[0].iov_base;
                len = iov[0].iov_len;
            } else {
                if (k->tls_out != stage) { /* a held-over remainder was written: stage anew */
                    free(k->tls_out);
                    k->tls_out = stage;
                }
                size_t have = 0;
                for (int i = 0; i < n && iov[i].iov_len < NQ_TLS_IN_PLACE; i++) {
                    memcpy(k->tls_out + have, iov[i].iov_base, iov[i].iov_len);
                    have += iov[i].iov_len;
                }
                k->tls_out_off = 0;
                k->tls_out_len = have;
                nq_session_consume(k->c, s, have);
                continue;
            }
        }
        size_t w = 0;
        int r = SSL_write_ex(k->ssl, p, len, &w);
        if (r != 1) {
            int e = SSL_get_error(k->ssl, r);
            if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
                return total;
            return -1;
        }
        if (staged)
            k->tls_out_off += w;
        else
            nq_session_consume(k->c, s, w);
        total += (ssize_t)w;
    }
}

/* Staging goes through the I/O thread's one buffer; only bytes that
 * SSL_write wants again (the socket was full) are kept per connection, in
 * a buffer of their size (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows the
 * move). Each connection held 64 KiB of its own before, which with the
 * rest of its TLS state made ~64 KB of RSS per idle TLS session
 * (docs/scaling.md). */
static ssize_t tls_encrypt(struct tcp_conn *k)
{
    struct tcp_state *t = nq_core_transport(k->c);
    if (!t->tls_stage && !(t->tls_stage = malloc(NQ_TLS_STAGE)))
        return -1;
    if (!k->tls_out)
        k->tls_out = t->tls_stage;
    ssize_t r = tls_encrypt_staged(k, t->tls_stage);
    size_t left = k->tls_out_len - k->tls_out_off;
    if (k->tls_out == t->tls_stage) {
        uint8_t *own = NULL;
        if (r >= 0 && left && !(own = malloc(left)))
            r = -1;
        if (own)
            memcpy(own, k->tls_out + k->tls_out_off, left);
        k->tls_out = own;
        k->tls_out_off = 0;
        k->tls_out_len = own ? left : 0;
    } else if (!left) {
        free(k->tls_out);
        k->tls_out = NULL;
        k->tls_out_off = k->tls_out_len = 0;
    }
    return r;
}

/* Returns -1 when the connection was closed. */
static int do_write(struct tcp_conn *k)
{
    if (!k->link.s || nq_session_link(k->link.s) != &k->link) {
        if (k->eof && !has_pending_output(k)) {
            nq_tcp_conn_close(k, "peer closed the connection");
            return -1;
        }
        return 0;
    }
    errno = 0;
    ssize_t w = k->ssl ? tls_write(k) : plain_write(k);
    if (w < 0) {
        int err = errno;
        char why[320];
        snprintf(why, sizeof why, "send failed: %s",
                 k->ssl ? nq_tls_io_reason(k->ssl, err) : strerror(err));
        nq_tcp_conn_close(k, why);
        return -1;
    }
    struct nq_session *s = k->link.s;
    if (s && nq_session_finished(s) && k->tls_out_off == k->tls_out_len &&
        !(k->ssl && nq_tls_unflushed(k->ssl))) {
        nq_tcp_conn_close(k, "session finished");
        return -1;
    }
    if (k->eof && !has_pending_output(k)) {
        nq_tcp_conn_close(k, "peer closed the connection");
        return -1;
    }
    return 0;
}

void nq_tcp_conn_kick(struct tcp_conn *k)
{
    if (k->connecting || (k->ssl && !k->tls_ready))
        return;
    if (do_write(k) == 0)
        nq_tcp_conn_update(k);
}

/* ---- set-up ---- */

static int finish_connect(struct tcp_conn *k)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        char why[320];
        snprintf(why, sizeof why, "connect failed: %s", strerror(err));
        nq_tcp_conn_close(k, why);
        return -1;
    }
    k->connecting = 0;
    return 0;
}

static int do_handshake(struct tcp_conn *k)
{
    ERR_clear_error();
    int r = SSL_do_handshake(k->ssl);
    if (r == 1) {
        k->tls_ready = 1;
        return 1;
    }
    int e = SSL_get_error(k->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    char why[400];
    snprintf(why, sizeof why, "TLS handshake failed: %s",
             e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 ? "peer closed the connection"
                                                            : nq_tls_reason(k->ssl));
    /* a client's failed attempts are logged by the retry policy; a server
     * logs each (any peer can cause them, so not without limit) */
    if (nq_core_purpose(k->c) == NQ_SERVER) {
        struct tcp_state *t = nq_core_transport(k->c);
        nq_log_limited(k->c, &t->refused_log, NQ_LOG_WARN, "%s: %s", k->link.name, why);
    }
    nq_core_refused(k->c, &k->link, why);
    nq_tcp_conn_close(k, why);
    return -1;
}

/* Connection work for one event; -1 when k was closed (k is gone then). */
static int conn_event(struct tcp_conn *k, int revents)
{
    struct nq_comm *c = k->c;
    if (k->connecting) {
        if (finish_connect(k) < 0)
            return -1;
        if (!k->ssl)
            nq_tcp_client_ready(nq_core_transport(c), k);
    }
    if (k->ssl && !k->tls_ready) {
        int r = do_handshake(k);
        if (r < 0)
            return -1;
        if (r == 0) {
            nq_tcp_conn_update(k);
            return 0;
        }
        if (nq_core_purpose(c) == NQ_CLIENT)
            nq_tcp_client_ready(nq_core_transport(c), k);
    }
    if (((revents & EV_READ) || k->ssl) && do_read(k) < 0)
        return -1;
    if (do_write(k) < 0)
        return -1;
    nq_tcp_conn_update(k);
    return 0;
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    struct tcp_conn *k = w->data;
    struct nq_comm *c = k->c;
    conn_event(k, revents);
    /* last: flushing may finish and free sessions' connections, k included */
    nq_core_flush(c);
}
