/* TCP client: the constructor returns at once; the I/O thread connects,
 * and reconnects with backoff, while puts queue in the session. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp/tcp_internal.h"
#include "tls/tls.h"

static void schedule(struct tcp_state *t, double delay)
{
    ev_timer_stop(nq_core_loop(t->c), &t->retry);
    ev_timer_set(&t->retry, delay, 0.);
    ev_timer_start(nq_core_loop(t->c), &t->retry);
}

static void connect_once(struct tcp_state *t)
{
    struct nq_comm *c = t->c;
    char port[8];
    snprintf(port, sizeof port, "%d", nq_core_opts(c)->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res;
    int e = getaddrinfo(nq_core_opts(c)->host, port, &hints, &res);
    if (e) {
        char why[320];
        snprintf(why, sizeof why, "cannot resolve %s: %s", nq_core_opts(c)->host, gai_strerror(e));
        nq_tcp_client_lost(t, why);
        return;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        nq_tcp_client_lost(t, strerror(errno));
        return;
    }
    char name[64];
    nq_tcp_format_addr(res->ai_addr, name, sizeof name);
    int r = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (r < 0 && errno != EINPROGRESS) {
        char why[320];
        snprintf(why, sizeof why, "connect to %s failed: %s", name, strerror(errno));
        close(fd);
        nq_tcp_client_lost(t, why);
        return;
    }
    if (!nq_tcp_conn_new(t, fd, 1, name))
        nq_tcp_client_lost(t, "cannot set up the connection");
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct tcp_state *t = w->data;
    if (!t->conns && !nq_core_closed(t->c))
        connect_once(t);
}

void nq_tcp_client_ready(struct tcp_state *t, struct tcp_conn *k)
{
    /* the retry policy starts over only when the server's ini arrives: a
     * port that accepts and then drops us (TLS on one side only) must not
     * be retried at full speed */
    nq_log(t->c, NQ_LOG_DEBUG, "%s: connected", k->link.name);
    nq_core_client_attach(t->c, &k->link);
}

void nq_tcp_client_lost(struct tcp_state *t, const char *why)
{
    double delay = nq_core_client_lost(t->c, why);
    if (delay >= 0)
        schedule(t, delay);
}

static nq_status client_start(struct nq_comm *c)
{
    struct tcp_state *t = nq_tcp_state_new(c);
    if (!t)
        return nq_fail(NQ_ENOMEM, "tcp: out of memory");
    if (nq_core_opts(c)->tls) {
        nq_status st = nq_tls_context(&t->ssl_ctx, nq_core_opts(c), 0);
        if (st != NQ_OK) {
            nq_tcp_state_free(t);
            return st;
        }
    }
    ev_timer_init(&t->retry, on_retry, 0., 0.);
    t->retry.data = t;
    ev_timer_start(nq_core_loop(c), &t->retry);
    nq_core_set_transport(c, t);
    return NQ_OK;
}

static void client_kick(struct nq_comm *c, struct nq_session *s)
{
    nq_tcp_conn_kick((struct tcp_conn *)nq_session_link(s));
}

static void client_close_begin(struct nq_comm *c)
{
    nq_core_client_close_begin(c, nq_session_link(nq_core_client_session(c)) != NULL);
}

static void client_abort(struct nq_comm *c)
{
    struct tcp_state *t = nq_core_transport(c);
    ev_timer_stop(nq_core_loop(c), &t->retry);
    nq_tcp_close_all(t, "close timed out");
}

static void client_resume(struct nq_comm *c)
{
    nq_tcp_resume_all(nq_core_transport(c));
}

static void client_drop_link(struct nq_comm *c, struct nq_link *l)
{
    nq_tcp_conn_close((struct tcp_conn *)l, "dropped");
}

static void client_destroy(struct nq_comm *c)
{
    struct tcp_state *t = nq_core_transport(c);
    if (!t)
        return;
    ev_timer_stop(nq_core_loop(c), &t->retry);
    /* close is done by now (the core says so before destroy): the
     * connections closed here are not retried */
    nq_tcp_close_all(t, "communicator closed");
    nq_tcp_state_free(t);
    nq_core_set_transport(c, NULL);
}

const struct nq_transport_ops nq_tcp_client_ops = {
    .start = client_start,
    .kick = client_kick,
    .close_begin = client_close_begin,
    .abort = client_abort,
    .resume = client_resume,
    .drop_link = client_drop_link,
    .destroy = client_destroy,
    .direct = 1,
};
