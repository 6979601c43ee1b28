/* The in-process transport (NQ_INPROC): a server and its clients in one
 * process, addressed by port number, with no sockets. Each connection is a
 * pair of byte pipes between two communicators' I/O threads: a side copies
 * what its session gathers into the other side's pipe and wakes that side's
 * loop, which feeds the bytes through its framer like any transport. It
 * exists so that the core (sessions, handshake, close, reconnection,
 * linger) can be tested without the network, and for applications that
 * want the same API inside one process.
 *
 * Threads: each side's state is touched only by its own I/O thread, except
 * what sits in struct ip_pair (the pipes and who is still attached), which
 * is under the pair's mutex, and a server's list of connections waiting
 * to be adopted (under its state's mutex). A side wakes the other with
 * ev_async_send while holding the pair's mutex, so the other side cannot
 * be torn down in between (a side detaches from its pairs under their
 * mutexes before it frees anything). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inproc/inproc.h"

/* a side stops writing while this much waits unread in the other's pipe */
#define PIPE_CAP (4u << 20)
/* bytes moved per chunk and per turn of one connection */
#define CHUNK_MAX (256u << 10)

struct ip_chunk {
    struct ip_chunk *next;
    size_t len, off;
    uint8_t data[];
};

struct ip_pipe {
    struct ip_chunk *head, *tail;
    size_t bytes;
    int eof; /* the writing side let go: nothing more will come */
};

struct ip_pair {
    pthread_mutex_t mu;
    int refs;
    struct ip_end *ends[2];  /* [0] client side, [1] server side; NULL once let go */
    struct ip_pipe to[2];    /* to[i]: bytes for ends[i] */
    struct ip_state *state[2];
    struct ip_pair *next_pending; /* server: waiting to be adopted */
};

struct ip_end {
    struct nq_link link; /* first: the core sees this */
    struct ip_state *t;
    struct ip_pair *pair;
    int side;
    struct ip_end *next, *prev;
};

struct ip_state {
    struct nq_comm *c;
    ev_async in;          /* bytes, a fin of the pipe, or a connection arrived */
    ev_timer retry;       /* client: next connection attempt */
    struct ip_end *ends;
    int port;
    int registered;
    int destroying;
    atomic_int cut_asked; /* tests: cut every connection */
    atomic_int vanish_asked; /* tests: and never connect again */
    pthread_mutex_t mu;   /* server: pending */
    struct ip_pair *pending;
    struct ip_state *next_registered;
};

/* Listening servers, by port. */
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ip_state *registry;
static int next_port = 1;

static struct ip_state *registry_find(int port)
{
    for (struct ip_state *t = registry; t; t = t->next_registered)
        if (t->port == port)
            return t;
    return NULL;
}

static void unregister(struct ip_state *t)
{
    pthread_mutex_lock(&registry_mu);
    if (t->registered) {
        struct ip_state **pp = &registry;
        while (*pp && *pp != t)
            pp = &(*pp)->next_registered;
        if (*pp)
            *pp = t->next_registered;
        t->registered = 0;
    }
    pthread_mutex_unlock(&registry_mu);
}

/* ---- pairs ---- */

static void pipe_clear(struct ip_pipe *p)
{
    while (p->head) {
        struct ip_chunk *k = p->head;
        p->head = k->next;
        free(k);
    }
    p->tail = NULL;
    p->bytes = 0;
}

/* pair->mu held; frees the pair with its last reference (then unlocks). */
static void pair_unref_locked(struct ip_pair *p)
{
    if (--p->refs > 0) {
        pthread_mutex_unlock(&p->mu);
        return;
    }
    pipe_clear(&p->to[0]);
    pipe_clear(&p->to[1]);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* pair->mu held: wake the other side of e's connection, if it is there. */
static void wake_other_locked(struct ip_pair *p, int side)
{
    struct ip_state *o = p->state[!side];
    if (o)
        ev_async_send(nq_core_loop(o->c), &o->in);
}

/* ---- connections ---- */

static struct ip_end *end_new(struct ip_state *t, struct ip_pair *p, int side)
{
    struct nq_comm *c = t->c;
    struct ip_end *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->t = t;
    e->pair = p;
    e->side = side;
    snprintf(e->link.name, sizeof e->link.name, "inproc:%d/%s", t->port,
             side ? "server" : "client");
    nq_core_link_init(c, &e->link);
    e->next = t->ends;
    if (t->ends)
        t->ends->prev = e;
    t->ends = e;
    return e;
}

static void client_retry(struct ip_state *t, const char *why);

static void end_close(struct ip_end *e, const char *why)
{
    struct ip_state *t = e->t;
    struct nq_comm *c = t->c;
    struct ip_pair *p = e->pair;
    pthread_mutex_lock(&p->mu);
    p->ends[e->side] = NULL;
    p->state[e->side] = NULL;
    p->to[!e->side].eof = 1;
    pipe_clear(&p->to[e->side]);
    wake_other_locked(p, e->side);
    pair_unref_locked(p);
    if (e->prev)
        e->prev->next = e->next;
    else
        t->ends = e->next;
    if (e->next)
        e->next->prev = e->prev;
    int had_ini = e->link.peer_ini;
    nq_core_link_lost(c, &e->link, why);
    nq_framer_reset(&e->link.fr);
    free(e);
    if (nq_core_purpose(c) == NQ_CLIENT && !t->destroying)
        client_retry(t, had_ini ? why : "the server let go before its ini");
}

static void close_all(struct ip_state *t, const char *why)
{
    while (t->ends)
        end_close(t->ends, why);
}

/* Write what e's session has for its peer into the peer's pipe, up to the
 * pipe's cap. Returns -1 when e was closed. */
static int end_write(struct ip_end *e)
{
    struct nq_comm *c = e->t->c;
    struct nq_session *s = e->link.s;
    if (!s || nq_session_link(s) != &e->link)
        return 0;
    struct ip_pair *p = e->pair;
    int peer = !e->side;
    while (nq_session_has_output(s)) {
        pthread_mutex_lock(&p->mu);
        int gone = p->state[peer] == NULL; /* the other side let go */
        size_t room = p->to[peer].bytes < PIPE_CAP ? PIPE_CAP - p->to[peer].bytes : 0;
        pthread_mutex_unlock(&p->mu);
        if (gone) {
            end_close(e, "peer let go");
            return -1;
        }
        if (room == 0)
            break; /* the reader wakes us when it has taken some */
        struct iovec iov[64];
        int n = nq_session_gather(s, iov, 64, room < CHUNK_MAX ? room : CHUNK_MAX, nq_core_opts(c)->merge);
        size_t len = 0;
        for (int i = 0; i < n; i++)
            len += iov[i].iov_len;
        struct ip_chunk *k = malloc(sizeof *k + len);
        if (!k) {
            end_close(e, "out of memory");
            return -1;
        }
        k->next = NULL;
        k->len = len;
        k->off = 0;
        size_t at = 0;
        for (int i = 0; i < n; i++) {
            memcpy(k->data + at, iov[i].iov_base, iov[i].iov_len);
            at += iov[i].iov_len;
        }
        pthread_mutex_lock(&p->mu);
        struct ip_pipe *pp = &p->to[peer];
        if (pp->tail)
            pp->tail->next = k;
        else
            pp->head = k;
        pp->tail = k;
        pp->bytes += len;
        wake_other_locked(p, e->side);
        pthread_mutex_unlock(&p->mu);
        nq_session_consume(c, s, len);
    }
    if (nq_session_finished(s)) {
        end_close(e, "session finished");
        return -1;
    }
    return 0;
}

/* Feed what waits in e's pipe. Returns -1 when e was closed. */
static int end_read(struct ip_end *e)
{
    struct nq_comm *c = e->t->c;
    struct ip_pair *p = e->pair;
    for (;;) {
        if (nq_core_reading_paused(c))
            return 0; /* a get below half the queue limit resumes us */
        pthread_mutex_lock(&p->mu);
        struct ip_pipe *pp = &p->to[e->side];
        struct ip_chunk *k = pp->head;
        int eof = pp->eof;
        if (k) {
            pp->head = k->next;
            if (!pp->head)
                pp->tail = NULL;
            int was_full = pp->bytes >= PIPE_CAP;
            pp->bytes -= k->len;
            if (was_full)
                wake_other_locked(p, e->side); /* the writer may go on */
        }
        pthread_mutex_unlock(&p->mu);
        if (!k) {
            if (eof) {
                end_close(e, "peer closed the connection");
                return -1;
            }
            return 0;
        }
        int r = nq_core_feed(c, &e->link, k->data, k->len);
        free(k);
        if (r < 0) {
            end_close(e, "protocol error");
            return -1;
        }
        nq_core_pause_if_full(c);
    }
}

static void service(struct ip_state *t)
{
    for (struct ip_end *e = t->ends, *next; e; e = next) {
        next = e->next;
        if (end_read(e) < 0)
            continue;
        end_write(e);
    }
}

/* ---- server ---- */

/* A connection the server will not take (closing, freed, out of memory):
 * the client sees its end of the pipe close. */
static void refuse(struct ip_pair *p)
{
    pthread_mutex_lock(&p->mu);
    p->state[1] = NULL;
    p->to[0].eof = 1;
    wake_other_locked(p, 1);
    pair_unref_locked(p);
}

/* The connections clients made since we last looked (the list is theirs
 * to push on, under t->mu). */
static struct ip_pair *take_pending(struct ip_state *t)
{
    pthread_mutex_lock(&t->mu);
    struct ip_pair *p = t->pending;
    t->pending = NULL;
    pthread_mutex_unlock(&t->mu);
    return p;
}

static void adopt_pending(struct ip_state *t)
{
    struct ip_pair *p = take_pending(t);
    while (p) {
        struct ip_pair *next = p->next_pending;
        struct ip_end *e = nq_core_closing(t->c) ? NULL : end_new(t, p, 1);
        if (e) {
            pthread_mutex_lock(&p->mu);
            p->ends[1] = e;
            pthread_mutex_unlock(&p->mu);
        } else {
            refuse(p);
        }
        p = next;
    }
}

static void on_in(struct ev_loop *loop, ev_async *w, int revents)
{
    struct ip_state *t = w->data;
    if (atomic_exchange(&t->vanish_asked, 0)) {
        t->destroying = 1;
        if (nq_core_purpose(t->c) == NQ_CLIENT)
            ev_timer_stop(loop, &t->retry);
        close_all(t, "vanished (test)");
    }
    if (atomic_exchange(&t->cut_asked, 0))
        close_all(t, "cut (test)");
    if (nq_core_purpose(t->c) == NQ_SERVER)
        adopt_pending(t);
    service(t);
    nq_core_flush(t->c);
}

static struct ip_state *state_new(struct nq_comm *c)
{
    struct ip_state *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->c = c;
    pthread_mutex_init(&t->mu, NULL);
    ev_async_init(&t->in, on_in);
    t->in.data = t;
    ev_async_start(nq_core_loop(c), &t->in);
    return t;
}

static void state_free(struct ip_state *t)
{
    /* connections that were never adopted */
    struct ip_pair *p = take_pending(t);
    while (p) {
        struct ip_pair *next = p->next_pending;
        refuse(p);
        p = next;
    }
    ev_async_stop(nq_core_loop(t->c), &t->in);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static nq_status check_options(struct nq_comm *c)
{
    if (nq_core_opts(c)->tls)
        return nq_fail(NQ_EINVAL, "inproc: there is no TLS in process (turn it off)");
    return NQ_OK;
}

static nq_status server_start(struct nq_comm *c)
{
    nq_status st = check_options(c);
    if (st != NQ_OK)
        return st;
    struct ip_state *t = state_new(c);
    if (!t)
        return nq_fail(NQ_ENOMEM, "inproc: out of memory");
    pthread_mutex_lock(&registry_mu);
    int port = nq_core_opts(c)->port;
    if (port == 0) {
        while (registry_find(next_port))
            next_port = next_port % 65535 + 1;
        port = next_port;
        next_port = next_port % 65535 + 1;
    } else if (registry_find(port)) {
        pthread_mutex_unlock(&registry_mu);
        state_free(t);
        return nq_fail(NQ_EADDR, "inproc: port %d is taken by another server", port);
    }
    t->port = port;
    t->registered = 1;
    t->next_registered = registry;
    registry = t;
    pthread_mutex_unlock(&registry_mu);
    nq_core_set_port(c, port);
    nq_core_set_transport(c, t);
    return NQ_OK;
}

static void server_close_begin(struct nq_comm *c)
{
    struct ip_state *t = nq_core_transport(c);
    unregister(t);
    adopt_pending(t); /* refuses them: closing */
    for (struct ip_end *e = t->ends, *next; e; e = next) {
        next = e->next;
        if (!e->link.s)
            end_close(e, "server closing");
    }
    service(t); /* read to the clients' fin even if the queue is full */
    if (nq_core_live_links(c) == 0)
        nq_core_close_done(c, NQ_OK);
}

static void server_abort(struct nq_comm *c)
{
    struct ip_state *t = nq_core_transport(c);
    unregister(t);
    close_all(t, "server close timed out");
}

static void any_resume(struct nq_comm *c)
{
    service(nq_core_transport(c));
}

static void any_drop_link(struct nq_comm *c, struct nq_link *l)
{
    end_close((struct ip_end *)l, "dropped");
}

static void any_kick(struct nq_comm *c, struct nq_session *s)
{
    end_write((struct ip_end *)nq_session_link(s));
}

static void server_destroy(struct nq_comm *c)
{
    struct ip_state *t = nq_core_transport(c);
    if (!t)
        return;
    t->destroying = 1;
    unregister(t);
    close_all(t, "communicator freed");
    state_free(t);
    nq_core_set_transport(c, NULL);
}

/* ---- client ---- */

static void schedule(struct ip_state *t, double delay)
{
    ev_timer_stop(nq_core_loop(t->c), &t->retry);
    ev_timer_set(&t->retry, delay, 0.);
    ev_timer_start(nq_core_loop(t->c), &t->retry);
}

static void client_retry(struct ip_state *t, const char *why)
{
    double delay = nq_core_client_lost(t->c, why);
    if (delay >= 0)
        schedule(t, delay);
}

static void connect_once(struct ip_state *t)
{
    struct nq_comm *c = t->c;
    struct ip_pair *p = calloc(1, sizeof *p);
    if (!p) {
        client_retry(t, "out of memory");
        return;
    }
    pthread_mutex_init(&p->mu, NULL);
    p->refs = 2;
    p->state[0] = t;
    pthread_mutex_lock(&registry_mu);
    struct ip_state *srv = registry_find(nq_core_opts(c)->port);
    if (!srv) {
        pthread_mutex_unlock(&registry_mu);
        pthread_mutex_destroy(&p->mu);
        free(p);
        char why[64];
        snprintf(why, sizeof why, "no inproc server on port %d", nq_core_opts(c)->port);
        client_retry(t, why);
        return;
    }
    p->state[1] = srv;
    struct ip_end *e = end_new(t, p, 0);
    if (!e) {
        pthread_mutex_unlock(&registry_mu);
        pthread_mutex_destroy(&p->mu);
        free(p);
        client_retry(t, "out of memory");
        return;
    }
    p->ends[0] = e;
    pthread_mutex_lock(&srv->mu);
    p->next_pending = srv->pending;
    srv->pending = p;
    pthread_mutex_unlock(&srv->mu);
    ev_async_send(nq_core_loop(srv->c), &srv->in);
    pthread_mutex_unlock(&registry_mu);
    nq_core_client_attach(c, &e->link);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct ip_state *t = w->data;
    if (!t->ends && !nq_core_closed(t->c))
        connect_once(t);
    nq_core_flush(t->c);
}

static nq_status client_start(struct nq_comm *c)
{
    nq_status st = check_options(c);
    if (st != NQ_OK)
        return st;
    struct ip_state *t = state_new(c);
    if (!t)
        return nq_fail(NQ_ENOMEM, "inproc: out of memory");
    t->port = nq_core_opts(c)->port;
    ev_timer_init(&t->retry, on_retry, 0., 0.);
    t->retry.data = t;
    ev_timer_start(nq_core_loop(c), &t->retry);
    nq_core_set_port(c, nq_core_opts(c)->port);
    nq_core_set_transport(c, t);
    return NQ_OK;
}

static void client_close_begin(struct nq_comm *c)
{
    nq_core_client_close_begin(c, nq_session_link(nq_core_client_session(c)) != NULL);
}

static void client_abort(struct nq_comm *c)
{
    struct ip_state *t = nq_core_transport(c);
    t->destroying = 1; /* no reconnection from here on */
    ev_timer_stop(nq_core_loop(c), &t->retry);
    close_all(t, "close timed out");
}

static void client_destroy(struct nq_comm *c)
{
    struct ip_state *t = nq_core_transport(c);
    if (!t)
        return;
    t->destroying = 1;
    ev_timer_stop(nq_core_loop(c), &t->retry);
    close_all(t, "communicator closed");
    state_free(t);
    nq_core_set_transport(c, NULL);
}

void nq_inproc_cut(nq_comm *c)
{
    struct ip_state *t = nq_core_transport(c);
    atomic_store(&t->cut_asked, 1);
    ev_async_send(nq_core_loop(c), &t->in);
}

void nq_inproc_vanish(nq_comm *c)
{
    struct ip_state *t = nq_core_transport(c);
    atomic_store(&t->vanish_asked, 1);
    ev_async_send(nq_core_loop(c), &t->in);
}

const struct nq_transport_ops nq_inproc_server_ops = {
    .start = server_start,
    .kick = any_kick,
    .close_begin = server_close_begin,
    .abort = server_abort,
    .resume = any_resume,
    .drop_link = any_drop_link,
    .destroy = server_destroy,
};

const struct nq_transport_ops nq_inproc_client_ops = {
    .start = client_start,
    .kick = any_kick,
    .close_begin = client_close_begin,
    .abort = client_abort,
    .resume = any_resume,
    .drop_link = any_drop_link,
    .destroy = client_destroy,
};
