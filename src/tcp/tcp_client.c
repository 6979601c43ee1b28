/* TCP client: the constructor returns at once; the I/O thread connects,
 * and reconnects with backoff, while puts queue in the session. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/status.h"
#include "core/timeutil.h"
#include "tcp/tcp_internal.h"
#include "tls/tls.h"

static void schedule(struct tcp_state *t, double delay)
{
    ev_timer_stop(t->c->loop, &t->retry);
    ev_timer_set(&t->retry, delay, 0.);
    ev_timer_start(t->c->loop, &t->retry);
}

static void connect_once(struct tcp_state *t)
{
    struct nq_comm *c = t->c;
    char port[8];
    snprintf(port, sizeof port, "%d", c->o.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res;
    int e = getaddrinfo(c->o.host, port, &hints, &res);
    if (e) {
        char why[320];
        snprintf(why, sizeof why, "cannot resolve %s: %s", c->o.host, gai_strerror(e));
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
    if (!t->conns && !t->c->close_done)
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
    struct nq_comm *c = t->c;
    if (c->close_done)
        return;
    struct nq_session *s = c->sessions;
    if (c->close_phase && s->fin_sent) {
        /* the server went away during our close: nothing more can be said */
        nq_session_fail_all(c, s, NQ_ERESET);
        nq_core_close_done(c, NQ_ERESET);
        return;
    }
    if (s->fin_sent && s->fin_received) {
        /* the server ended the session (both fins): there is nothing to
         * reconnect to; a later close returns at once */
        nq_log(c, NQ_LOG_INFO, "%s:%d ended the session", c->o.host, c->o.port);
        return;
    }
    schedule(t, nq_core_client_retry(c, why));
}

static nq_status client_start(struct nq_comm *c)
{
    struct tcp_state *t = nq_tcp_state_new(c);
    if (!t)
        return nq_fail(NQ_ENOMEM, "tcp: out of memory");
    if (c->o.tls) {
        nq_status st = nq_tls_context(&t->ssl_ctx, &c->o, 0);
        if (st != NQ_OK) {
            nq_tcp_state_free(t);
            return st;
        }
    }
    ev_timer_init(&t->retry, on_retry, 0., 0.);
    t->retry.data = t;
    ev_timer_start(c->loop, &t->retry);
    c->transport = t;
    return NQ_OK;
}

static void client_kick(struct nq_comm *c, struct nq_session *s)
{
    nq_tcp_conn_kick((struct tcp_conn *)s->link);
}

static void client_close_begin(struct nq_comm *c)
{
    nq_core_client_close_begin(c, c->sessions->link != NULL);
}

static void client_abort(struct nq_comm *c)
{
    struct tcp_state *t = c->transport;
    ev_timer_stop(c->loop, &t->retry);
    nq_tcp_close_all(t, "close timed out");
}

static void client_resume(struct nq_comm *c)
{
    nq_tcp_resume_all(c->transport);
}

static void client_drop_link(struct nq_comm *c, struct nq_link *l)
{
    nq_tcp_conn_close((struct tcp_conn *)l, "dropped");
}

static void client_destroy(struct nq_comm *c)
{
    struct tcp_state *t = c->transport;
    if (!t)
        return;
    ev_timer_stop(c->loop, &t->retry);
    pthread_mutex_lock(&c->close_mu);
    c->close_done = 1; /* no reconnection from here on */
    pthread_mutex_unlock(&c->close_mu);
    nq_tcp_close_all(t, "communicator closed");
    nq_tcp_state_free(t);
    c->transport = NULL;
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
