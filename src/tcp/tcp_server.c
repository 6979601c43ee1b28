/* TCP server: bind and listen in the constructor (so errors are reported
 * there), accept on the I/O thread. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp/tcp_internal.h"
#include "tls/tls.h"

/* The accept queue: as long as the kernel allows (net.core.somaxconn caps
 * it, 4096 by default since Linux 5.4). Thousands of clients connecting at
 * once (a restart, a reconnection storm) overflowed 1024: each SYN dropped
 * costs its client a 1 s retransmission (issue 16, docs/scaling.md). */
#define NQ_TCP_BACKLOG 65535

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct tcp_state *t = w->data;
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof sa;
        int fd = accept4(t->listen_fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                nq_log(t->c, NQ_LOG_ERROR, "accept: %s (raise the open-file limit)", strerror(errno));
            return;
        }
        char name[64];
        nq_tcp_format_addr((struct sockaddr *)&sa, name, sizeof name);
        struct tcp_conn *k = nq_tcp_conn_new(t, fd, 0, name);
        if (k) {
            k->accepted_ms = nq_now_ms();
            nq_tcp_hs_add(t, k);
            nq_log(t->c, NQ_LOG_DEBUG, "%s: accepted", name);
        }
    }
}

/* A connection that has not finished its handshake (TLS, then the peer's
 * ini) within the keepalive timeout is closed: a peer that connects and
 * says nothing must not hold a descriptor until the server closes. Only
 * the handshake list is walked, oldest first, up to the first connection
 * still in time (the rest are younger): identified ones found on the way
 * leave it, so each connection is looked at about once, and a server with
 * idle sessions spends nothing here (it scanned every connection each
 * second: 91 % of the CPU of a server idle with 19,000 sessions). */
static void on_handshake_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct tcp_state *t = w->data;
    struct nq_comm *c = t->c;
    int64_t limit = nq_core_opts(c)->keepalive_ms;
    int64_t now = nq_now_ms();
    for (struct tcp_conn *k = t->hs_head, *next; k; k = next) {
        next = k->hs_next;
        if (k->link.peer_ini) {
            nq_tcp_hs_remove(t, k);
            continue;
        }
        if (now - k->accepted_ms < limit)
            break;
        nq_log_limited(c, &t->refused_log, NQ_LOG_WARN,
                       "%s: no handshake within %lld ms (%s): closing", k->link.name,
                       (long long)limit, k->ssl && !k->tls_ready ? "TLS unfinished" : "no ini");
        nq_tcp_conn_close(k, "handshake timed out");
    }
    nq_core_flush(c);
}

static nq_status server_listen(struct tcp_state *t)
{
    struct nq_comm *c = t->c;
    char port[8];
    snprintf(port, sizeof port, "%d", nq_core_opts(c)->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    int e = getaddrinfo(nq_core_opts(c)->host, port, &hints, &res);
    if (e)
        return nq_fail(NQ_EADDR, "tcp: cannot resolve %s: %s", nq_core_opts(c)->host, gai_strerror(e));
    int err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, NQ_TCP_BACKLOG) == 0) {
            struct sockaddr_storage sa;
            socklen_t len = sizeof sa;
            getsockname(fd, (struct sockaddr *)&sa, &len);
            nq_core_set_port(c, sa.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
                                               : ntohs(((struct sockaddr_in *)&sa)->sin_port));
            t->listen_fd = fd;
            break;
        }
        err = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (t->listen_fd < 0)
        return nq_fail(NQ_EADDR, "tcp: cannot listen on %s:%d: %s", nq_core_opts(c)->host, nq_core_opts(c)->port,
                       strerror(err));
    return NQ_OK;
}

static nq_status server_start(struct nq_comm *c)
{
    struct tcp_state *t = nq_tcp_state_new(c);
    if (!t)
        return nq_fail(NQ_ENOMEM, "tcp: out of memory");
    if (nq_core_shard(c) > 0) {
        /* another I/O thread of a multi-loop server: it only takes over
         * links whose peers it owns (their TLS is set up already) */
        nq_core_set_transport(c, t);
        return NQ_OK;
    }
    nq_status st = NQ_OK;
    if (nq_core_opts(c)->tls && (st = nq_tls_context(&t->ssl_ctx, nq_core_opts(c), 1)) != NQ_OK) {
        nq_tcp_state_free(t);
        return st;
    }
    if ((st = server_listen(t)) != NQ_OK) {
        nq_tcp_state_free(t);
        return st;
    }
    ev_io_init(&t->accept_io, on_accept, t->listen_fd, EV_READ);
    t->accept_io.data = t;
    ev_io_start(nq_core_loop(c), &t->accept_io);
    if (nq_core_opts(c)->keepalive_ms > 0) {
        ev_timer_init(&t->handshake_sweep, on_handshake_sweep, 1., 1.);
        t->handshake_sweep.data = t;
        ev_timer_start(nq_core_loop(c), &t->handshake_sweep);
        ev_unref(nq_core_loop(c)); /* housekeeping alone does not keep the loop alive */
    }
    nq_core_set_transport(c, t);
    return NQ_OK;
}

static void server_kick(struct nq_comm *c, struct nq_session *s)
{
    nq_tcp_conn_kick((struct tcp_conn *)nq_session_link(s));
}

static void stop_listening(struct tcp_state *t)
{
    if (t->listen_fd < 0)
        return;
    ev_io_stop(nq_core_loop(t->c), &t->accept_io);
    close(t->listen_fd);
    t->listen_fd = -1;
}

static void server_close_begin(struct nq_comm *c)
{
    struct tcp_state *t = nq_core_transport(c);
    stop_listening(t);
    /* connections that never said who they are are not clients to wait for */
    for (struct tcp_conn *k = t->conns, *next; k; k = next) {
        next = k->next;
        if (!k->link.s)
            nq_tcp_conn_close(k, "server closing");
    }
    nq_tcp_resume_all(t); /* read to the clients' fin even if the queue is full */
    if (nq_core_live_links(c) == 0)
        nq_core_close_done(c, NQ_OK);
}

static void server_abort(struct nq_comm *c)
{
    struct tcp_state *t = nq_core_transport(c);
    stop_listening(t);
    nq_tcp_close_all(t, "server close timed out");
}

static void server_resume(struct nq_comm *c)
{
    nq_tcp_resume_all(nq_core_transport(c));
}

static void server_drop_link(struct nq_comm *c, struct nq_link *l)
{
    nq_tcp_conn_close((struct tcp_conn *)l, "replaced by a reconnection");
}

/* A multi-loop server moves a link to its peer's I/O thread. */
static void server_detach(struct nq_comm *c, struct nq_link *l)
{
    nq_tcp_conn_detach((struct tcp_conn *)l);
}

static void server_attach(struct nq_comm *c, struct nq_link *l)
{
    nq_tcp_conn_attach(nq_core_transport(c), (struct tcp_conn *)l);
}

static void server_destroy(struct nq_comm *c)
{
    struct tcp_state *t = nq_core_transport(c);
    if (!t)
        return;
    if (ev_is_active(&t->handshake_sweep)) {
        ev_ref(nq_core_loop(c)); /* undo the start's unref, as libev asks */
        ev_timer_stop(nq_core_loop(c), &t->handshake_sweep);
    }
    stop_listening(t);
    nq_tcp_close_all(t, "communicator freed");
    nq_tcp_state_free(t);
    nq_core_set_transport(c, NULL);
}

const struct nq_transport_ops nq_tcp_server_ops = {
    .start = server_start,
    .kick = server_kick,
    .close_begin = server_close_begin,
    .abort = server_abort,
    .resume = server_resume,
    .drop_link = server_drop_link,
    .destroy = server_destroy,
    .detach = server_detach,
    .attach = server_attach,
    .direct = 1,
};
