/* The public communicator calls: they run on application threads and talk
 * to the I/O thread only through the command queue and the receive queue. */
#include <sched.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/blockpool.h"
#include "core/comm_internal.h"
#include "core/future_internal.h"
#include "core/shard.h"
#include "core/status.h"
#include "core/stream_internal.h"
#include "core/timeutil.h"

static void resume_reading(void *arg)
{
    struct nq_comm *c = arg;
    for (int i = 0; i < c->nshards; i++) { /* every I/O thread paused on the shared queue */
        atomic_store(&c->shards[i]->resume_asked, 1);
        nq_loop_wake(c->shards[i]);
    }
}

/* The receive queue's hooks (recvq.h): receive callbacks run on the I/O
 * thread, which the queue wakes for those other threads decided and for
 * an earlier deadline. */
static int on_io_thread(void *arg)
{
    return nq_core_on_any_io_thread(arg);
}

static void wake_for_receives(void *arg)
{
    /* harmless once the loop has stopped: close then runs what is left
     * (nq_recvq_finish) and the loop is freed only by nq_comm_free */
    nq_loop_wake(arg);
}

static void push_cmd(nq_comm *c, enum nq_cmd_kind kind);

/* nq_comm_new failed after some loops ran: stop them and free what every
 * shard's transport made. */
static void stop_loops(nq_comm *c)
{
    for (int i = 0; i < c->nshards; i++) {
        if (!c->shards[i]->thread_started)
            continue;
        push_cmd(c->shards[i], NQ_CMD_ABORT);
        nq_loop_wake(c->shards[i]);
    }
    for (int i = 0; i < c->nshards; i++) {
        struct nq_comm *s = c->shards[i];
        nq_loop_join(s);
        s->close_done = 1; /* no loop runs: nothing to reconnect for */
        nq_shard_orphans(s);
        c->ops->destroy(s);
        struct nq_mpsc_node *node;
        while ((node = nq_mpsc_pop(&s->cmdq)))
            free(node); /* commands only: no put was made yet */
    }
}

nq_status nq_comm_new(nq_comm **out, nq_protocol protocol, nq_purpose purpose,
                      const nq_options *opts)
{
    if (!out)
        return nq_fail(NQ_EINVAL, "comm: out is NULL");
    *out = NULL;
    if (purpose != NQ_CLIENT && purpose != NQ_SERVER)
        return nq_fail(NQ_EINVAL, "comm: unknown purpose %d", (int)purpose);
    const struct nq_transport *tr = nq_transport_find(protocol);
    if (!tr)
        return nq_fail(NQ_EINVAL, "comm: unknown protocol %d", (int)protocol);
    const struct nq_transport_ops *ops = purpose == NQ_SERVER ? tr->server : tr->client;
    if (!ops)
        return nq_fail(NQ_EUNSUPPORTED, "comm: %s is not built into this library", tr->name);
    if (opts && opts->tls_client_ca) { /* mutual TLS: a server option, TCP and gRPC */
        if (protocol == NQ_MQTT)
            return nq_fail(NQ_EUNSUPPORTED, "comm: a TLS client CA (mutual TLS) is not an MQTT "
                                            "option: the broker authenticates its clients");
        if (protocol != NQ_TCP && protocol != NQ_GRPC)
            return nq_fail(NQ_EUNSUPPORTED, "comm: a TLS client CA (mutual TLS) is not an option of %s",
                           tr->name);
        if (purpose != NQ_SERVER)
            return nq_fail(NQ_EINVAL, "comm: a TLS client CA (mutual TLS) is a server option; "
                                      "a client verifies its server with the TLS CA option");
        if (!opts->tls)
            return nq_fail(NQ_EINVAL, "comm: a TLS client CA (mutual TLS) needs TLS on");
    }

    struct nq_comm *c = calloc(1, sizeof *c);
    if (!c)
        return nq_fail(NQ_ENOMEM, "comm: out of memory");
    nq_status st = opts ? nq_options_clone_into(&c->o, opts) : nq_options_defaults(&c->o);
    if (st != NQ_OK) {
        free(c);
        return st;
    }
    c->root = c;
    c->rxsrc = &c->rq.own;
    c->protocol = protocol;
    c->purpose = purpose;
    c->created_ms = nq_now_ms();
    c->ops = ops;
    nq_mpsc_init(&c->cmdq);
    nq_recvq_init(&c->rq, c->o.queue_limit, c->o.queue_policy);
    nq_budget_init(&c->send_budget, c->o.send_limit);
    c->rx_pool.limit = c->o.partial_limit;
    c->rq.resume = resume_reading;
    c->rq.resume_arg = c;
    c->rq.on_io = on_io_thread;
    c->rq.notify = wake_for_receives;
    pthread_mutex_init(&c->peers_mu, NULL);
    pthread_mutex_init(&c->io_mu, NULL);
    pthread_mutex_init(&c->close_mu, NULL);
    nq_cond_init_monotonic(&c->close_cv);
    /* a multi-loop server's root gives sockets away: poll keeps no kernel
     * state for them (shard.h) */
    c->loop = ev_loop_new((nq_shards_wanted(c) > 1 ? EVBACKEND_POLL : EVFLAG_AUTO) |
                          EVFLAG_NOSIGMASK);
    if (!c->loop) {
        st = nq_fail(NQ_EIO, "comm: cannot create the event loop");
        goto fail;
    }
    if (purpose == NQ_CLIENT) {
        c->sessions = calloc(1, sizeof *c->sessions);
        if (!c->sessions) {
            st = nq_fail(NQ_ENOMEM, "comm: out of memory");
            goto fail;
        }
    }
    if ((st = nq_shards_new(c)) != NQ_OK)
        goto fail;
    int started = 0; /* transports started, then loops */
    for (; started < c->nshards; started++)
        if ((st = c->ops->start(c->shards[started])) != NQ_OK)
            break;
    if (st != NQ_OK) {
        for (int i = 0; i < started; i++) {
            c->shards[i]->close_done = 1;
            c->ops->destroy(c->shards[i]);
        }
        goto fail;
    }
    /* the root last: it hands links to the others, whose loops must be
     * ready (their wake-ups made) before its thread runs */
    for (int i = c->nshards - 1; i >= 0 && st == NQ_OK; i--)
        st = nq_loop_start(c->shards[i]);
    if (st != NQ_OK) {
        stop_loops(c);
        goto fail;
    }
    *out = c;
    return NQ_OK;
fail:
    nq_shards_free(c);
    if (c->loop)
        ev_loop_destroy(c->loop);
    free(c->sessions);
    nq_recvq_destroy(&c->rq);
    nq_options_clear(&c->o);
    free(c);
    return st;
}

nq_status nq_comm_id(const nq_comm *c, uint8_t *out)
{
    if (!c || !out)
        return nq_fail(NQ_EINVAL, "comm: NULL argument");
    memcpy(out, c->o.id, NQ_ID_SIZE);
    return NQ_OK;
}

nq_status nq_comm_port(const nq_comm *c, int *port)
{
    if (!c || !port)
        return nq_fail(NQ_EINVAL, "comm: NULL argument");
    *port = c->port;
    return NQ_OK;
}

nq_status nq_comm_peers(nq_comm *c, uint8_t *out, size_t cap, size_t *count)
{
    if (!c || !count || (cap && !out))
        return nq_fail(NQ_EINVAL, "comm: NULL argument");
    pthread_mutex_lock(&c->peers_mu);
    size_t n = nq_idset_list(&c->live, out, cap);
    pthread_mutex_unlock(&c->peers_mu);
    *count = n;
    return NQ_OK;
}

static nq_status check_peers(nq_comm *c, const uint8_t *peers, size_t npeers)
{
    if (npeers == 0)
        return NQ_OK;
    if (!peers)
        return nq_fail(NQ_EINVAL, "put: peers is NULL with npeers %zu", npeers);
    if (c->purpose == NQ_CLIENT)
        return nq_fail(NQ_EINVAL, "put: only a server can name peers");
    nq_status st = NQ_OK;
    pthread_mutex_lock(&c->peers_mu);
    for (size_t i = 0; i < npeers && st == NQ_OK; i++) {
        if (nq_idset_find(&c->known, peers + i * NQ_ID_SIZE) < 0) {
            char hex[33];
            nq_id_format(peers + i * NQ_ID_SIZE, hex);
            st = nq_fail(NQ_ENOPEER, "put: peer %s has no session", hex);
        }
    }
    pthread_mutex_unlock(&c->peers_mu);
    return st;
}

/* Puts further apart than this gain nothing from being batched by the I/O
 * thread (it would have written the previous one and gone back to poll), so
 * such a put is written by the calling thread: one thread wake-up less per
 * message, which is most of a small round trip. Closer puts are queued and
 * merged into few writes. */
#define NQ_DIRECT_GAP_NS 4000

/* The direct put path: take the I/O thread's place if it is idle in poll
 * and nothing is queued before r (FIFO per thread). 1 if r was taken. */
static int try_direct(nq_comm *c, struct nq_put_req *r)
{
    if (!c->ops->direct)
        return 0;
    /* a busy I/O thread (a burst) would refuse the lock anyway: spare the
     * clock read, which is a few percent of a small put, but remember that
     * a put came, so that the next put is not taken for a lone one (a
     * sender just slower than the I/O thread must not turn every put into
     * its own write) */
    if (!atomic_load_explicit(&c->polling, memory_order_relaxed)) {
        if (atomic_load_explicit(&c->last_put_ns, memory_order_relaxed) != INT64_MAX)
            atomic_store_explicit(&c->last_put_ns, INT64_MAX, memory_order_relaxed);
        return 0;
    }
    int64_t now = nq_now_ns();
    int64_t prev = atomic_exchange_explicit(&c->last_put_ns, now, memory_order_relaxed);
    if (now - prev < NQ_DIRECT_GAP_NS) /* also after a busy put: prev INT64_MAX */
        return 0;
    if (pthread_mutex_trylock(&c->io_mu) != 0)
        return 0;
    if (!nq_mpsc_empty(&c->cmdq)) {
        pthread_mutex_unlock(&c->io_mu);
        return 0;
    }
    int wake = nq_core_put_direct(c, r);
    /* the gap counts from this put's end: a direct put that took long (a
     * broadcast to many peers writes to each) must not make the next one
     * look lone, or a sender's every put becomes its own writes and
     * nothing is ever merged */
    atomic_store_explicit(&c->last_put_ns, nq_now_ns(), memory_order_relaxed);
    pthread_mutex_unlock(&c->io_mu);
    if (wake)
        nq_loop_wake(c);
    return 1;
}

/* A copying put's request and payload are one allocation: the putting
 * thread allocates and the I/O thread frees, and each of those takes
 * glibc's arena lock, which the two threads then fight over (most futex
 * waits of a 64 B put loop from the bindings were on it). */
struct copy_arg {
    const void *data;
    size_t size;
};

static size_t peers_end(size_t npeers)
{
    size_t end = sizeof(struct nq_put_req) + npeers * NQ_ID_SIZE;
    return (end + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
}

/* Validate, then hand the payload to the I/O thread: a copy of `copy`,
 * made inside the request's allocation, or else `stream` without copying.
 * On error the stream is not taken (the caller frees it) and fn never
 * runs. */
static nq_status submit(nq_comm *c, const struct copy_arg *copy, nq_stream *stream,
                        uint64_t size, const uint8_t *peers, size_t npeers, nq_done_fn fn,
                        void *user)
{
    if (!c)
        return nq_fail(NQ_EINVAL, "put: comm is NULL");
    if (size > c->o.message_limit)
        return nq_fail(NQ_ETOOBIG, "put: %llu bytes exceed the message limit of %llu",
                       (unsigned long long)size, (unsigned long long)c->o.message_limit);
    nq_status st = check_peers(c, peers, npeers);
    if (st != NQ_OK)
        return st;
    size_t inline_at = peers_end(npeers);
    size_t cap = 0;
    struct nq_put_req *r = copy ? nq_pool_alloc(inline_at + nq_payload_copy_size(copy->size), &cap)
                                : nq_pool_alloc(sizeof *r + npeers * NQ_ID_SIZE, &cap);
    if (!r)
        return nq_fail(NQ_ENOMEM, "put: out of memory");
    memset(r, 0, sizeof *r);
    if (!copy)
        r->alloc_cap = cap; /* a copying put's block goes with its payload */
    r->kind = NQ_CMD_PUT;
    r->fn = fn;
    r->user = user;
    r->npeers = npeers;
    if (npeers)
        memcpy(r->peers, peers, npeers * NQ_ID_SIZE);

    /* the closing check and the push form one step that close waits out */
    atomic_fetch_add(&c->putters, 1);
    if (atomic_load(&c->closing)) {
        atomic_fetch_sub(&c->putters, 1);
        nq_pool_free(r, cap);
        return nq_fail(NQ_ECLOSED, "put: communicator is closing");
    }
    /* charged before the copy is made, so waiting bounds the memory too;
     * what the put really holds: a copying put its whole block (copy,
     * header, request, rounded up to the pool's class: ~380 B for a 64 B
     * message, which counting 72 B let a 16 MiB limit turn into 80 MiB),
     * a stream put its bytes and its request. A server's put is charged
     * for each target's send item as well (a broadcast: as many as the
     * peers live now; dispatch settles it) */
    uint64_t held = copy ? (uint64_t)cap : size + 8 + inline_at;
    uint64_t fan = c->purpose == NQ_CLIENT ? 1
                   : npeers ? npeers
                            : atomic_load_explicit(&c->live_n, memory_order_relaxed);
    uint64_t extra = fan > 1 ? (fan - 1) * NQ_TARGET_COST : 0;
    int on_io_thread = nq_core_on_any_io_thread(c);
    if (nq_budget_charge(&c->send_budget, held + extra, !on_io_thread) < 0) {
        atomic_fetch_sub(&c->putters, 1);
        nq_pool_free(r, cap);
        return nq_fail(NQ_ECLOSED, "put: communicator closed while waiting for send budget");
    }
    r->budget = &c->send_budget;
    r->charged = held + extra;
    r->charged_extra = extra;
    r->p = copy ? nq_payload_copy_into((uint8_t *)r + inline_at, r, copy->data, copy->size)
                : nq_payload_stream(stream);
    if (copy && r->p)
        r->p->block_cap = cap;
    if (!r->p) {
        atomic_fetch_sub(&c->putters, 1);
        nq_put_req_free(r);
        return nq_fail(NQ_ENOMEM, "put: out of memory");
    }
    /* a multi-loop server: the I/O thread of the peer, or one part per
     * I/O thread (shard.c) */
    nq_comm *to = c;
    if (c->nshards > 1) {
        int k = nq_shard_route(c, r);
        if (k < 0) {
            atomic_fetch_sub(&c->putters, 1);
            if (k == -1)
                return NQ_OK;
            nq_put_req_free(r);
            return nq_fail(NQ_ENOMEM, "put: out of memory");
        }
        to = c->shards[k];
    }
    if (try_direct(to, r)) {
        atomic_fetch_sub(&c->putters, 1);
        return NQ_OK;
    }
    nq_mpsc_push(&to->cmdq, &r->node);
    atomic_fetch_sub(&c->putters, 1);
    nq_loop_wake_for_cmd(to);
    return NQ_OK;
}

/* In the current dialect the sender's own id is its fin on the wire: such a
 * message would end the session and be lost, so it is refused up front. */
static int is_own_fin(const nq_comm *c, const uint8_t *bytes, uint64_t size)
{
    return c && c->o.dialect == NQ_DIALECT_CURRENT && size == NQ_ID_SIZE &&
           memcmp(bytes, c->o.id, NQ_ID_SIZE) == 0;
}

static nq_status own_fin_error(void)
{
    return nq_fail(NQ_EINVAL, "put: a 16-byte message equal to this communicator's id "
                              "is its fin on the wire; send it another way");
}

nq_status nq_comm_put(nq_comm *c, const void *data, size_t size, const uint8_t *peers,
                      size_t npeers, nq_done_fn fn, void *user)
{
    if (!data && size)
        return nq_fail(NQ_EINVAL, "put: data is NULL");
    if (is_own_fin(c, data, size))
        return own_fin_error();
    struct copy_arg a = {data, size};
    return submit(c, &a, NULL, size, peers, npeers, fn, user);
}

nq_status nq_comm_put_stream(nq_comm *c, nq_stream *stream, const uint8_t *peers,
                             size_t npeers, nq_done_fn fn, void *user)
{
    if (!stream)
        return nq_fail(NQ_EINVAL, "put: stream is NULL");
    if (stream->nbytes == NQ_ID_SIZE) {
        uint8_t first[NQ_ID_SIZE];
        size_t n = 0;
        for (struct nq_chunk *k = stream->head; k && n < NQ_ID_SIZE; k = k->next) {
            size_t take = k->size < NQ_ID_SIZE - n ? k->size : NQ_ID_SIZE - n;
            memcpy(first + n, k->data, take);
            n += take;
        }
        if (is_own_fin(c, first, n))
            return own_fin_error();
    }
    return submit(c, NULL, stream, stream->nbytes, peers, npeers, fn, user);
}

nq_status nq_comm_put_future(nq_comm *c, const void *data, size_t size, const uint8_t *peers,
                             size_t npeers, nq_future **out)
{
    if (!out)
        return nq_fail(NQ_EINVAL, "put: out is NULL");
    nq_future *f;
    nq_status st = nq_future_create(&f);
    if (st != NQ_OK)
        return st;
    st = nq_comm_put(c, data, size, peers, npeers, nq_future_complete, f);
    if (st != NQ_OK) {
        nq_future_abandon(f);
        return st;
    }
    *out = f;
    return NQ_OK;
}

nq_status nq_comm_put_cq(nq_comm *c, const void *data, size_t size, const uint8_t *peers,
                         size_t npeers, nq_cq *cq, uint64_t tag)
{
    if (!cq)
        return nq_fail(NQ_EINVAL, "put: cq is NULL");
    struct nq_cq_token *t;
    nq_status st = nq_cq_token_new(&t, cq, tag);
    if (st != NQ_OK)
        return st;
    st = nq_comm_put(c, data, size, peers, npeers, nq_cq_complete, t);
    if (st != NQ_OK)
        nq_cq_token_free(t);
    return st;
}

nq_status nq_comm_put_value(nq_comm *c, const nq_value *v, const uint8_t *peers,
                            size_t npeers, nq_done_fn fn, void *user)
{
    if (!c || !v)
        return nq_fail(NQ_EINVAL, "put: NULL argument");
    if (c->o.codec == NQ_CODEC_RAW) {
        const void *data;
        size_t size;
        nq_value_type t = nq_value_type_of(v);
        if (t != NQ_VALUE_BYTES && t != NQ_VALUE_BYTEARRAY && t != NQ_VALUE_STR)
            return nq_fail(NQ_ECODEC, "put: the raw codec sends only bytes, bytearray or str");
        nq_status st = nq_value_get_bytes(v, &data, &size);
        if (st != NQ_OK)
            return st;
        return nq_comm_put(c, data, size, peers, npeers, fn, user);
    }
    void *buf;
    size_t size;
    nq_status st = nq_pickle_dump(v, &buf, &size);
    if (st != NQ_OK)
        return st;
    st = nq_comm_put(c, buf, size, peers, npeers, fn, user);
    nq_buffer_free(buf);
    return st;
}

nq_status nq_comm_get(nq_comm *c, const uint8_t *peers, size_t npeers, int64_t timeout_ms,
                      nq_msg **out)
{
    if (!c || !out || (npeers && !peers))
        return nq_fail(NQ_EINVAL, "get: NULL argument");
    return nq_recvq_get(&c->rq, NQ_KINDS_ALL, peers, npeers, timeout_ms, out);
}

/* close_mu held: every shard's close is done. */
static int all_done(nq_comm *c)
{
    for (int i = 0; i < c->nshards; i++)
        if (!c->shards[i]->close_done)
            return 0;
    return 1;
}

static nq_status wait_close_done(nq_comm *c, int64_t timeout_ms)
{
    struct timespec deadline;
    nq_deadline(&deadline, timeout_ms);
    pthread_mutex_lock(&c->close_mu);
    int timed_out = 0;
    while (!all_done(c) && !timed_out) {
        if (timeout_ms < 0)
            pthread_cond_wait(&c->close_cv, &c->close_mu);
        else
            timed_out = pthread_cond_timedwait(&c->close_cv, &c->close_mu, &deadline) != 0 &&
                        !all_done(c);
    }
    pthread_mutex_unlock(&c->close_mu);
    return timed_out ? NQ_ETIMEDOUT : NQ_OK;
}

static void push_cmd(nq_comm *c, enum nq_cmd_kind kind)
{
    struct nq_put_req *r = calloc(1, sizeof *r);
    if (!r)
        return; /* the abort path below copes: the thread is still woken */
    r->kind = kind;
    nq_mpsc_push(&c->cmdq, &r->node);
}

/* After the I/O thread ended: whatever is still queued is cancelled. */
static void cancel_leftovers(nq_comm *c)
{
    struct nq_mpsc_node *node;
    while ((node = nq_mpsc_pop(&c->cmdq))) {
        struct nq_put_req *r = (struct nq_put_req *)node;
        if (r->kind == NQ_CMD_PUT) {
            r->result = NQ_ECANCELED;
            nq_core_put_finish(c, r);
        } else {
            free(r); /* no ADOPT is left: nq_shard_orphans took them */
        }
    }
    for (struct nq_session *s = c->sessions; s; s = s->next)
        nq_session_fail_all(c, s, NQ_ECANCELED);
}

/* close_mu held: the root's close_why says what every shard's says. */
static void join_close_why(nq_comm *c)
{
    size_t len = strlen(c->close_why);
    for (int i = 1; i < c->nshards; i++) {
        const char *why = c->shards[i]->close_why;
        if (!why[0] || len + 3 >= sizeof c->close_why)
            continue;
        int n = snprintf(c->close_why + len, sizeof c->close_why - len, "%s%s",
                         len ? "; " : "", why);
        if (n > 0)
            len += (size_t)n < sizeof c->close_why - len ? (size_t)n : sizeof c->close_why - len - 1;
    }
}

nq_status nq_comm_close(nq_comm *c, int64_t timeout_ms)
{
    if (!c)
        return nq_fail(NQ_EINVAL, "close: comm is NULL");
    if (atomic_exchange(&c->closing, 1)) {
        /* someone else is closing: wait for them */
        pthread_mutex_lock(&c->close_mu);
        while (!c->closed)
            pthread_cond_wait(&c->close_cv, &c->close_mu);
        pthread_mutex_unlock(&c->close_mu);
        return NQ_OK;
    }
    nq_budget_close(&c->send_budget); /* puts waiting for budget give up */
    while (atomic_load(&c->putters))
        sched_yield();
    /* shard 0 first: its begin_close closes the others (shard.c) */
    push_cmd(c, NQ_CMD_CLOSE);
    nq_loop_wake(c);
    nq_status st = wait_close_done(c, timeout_ms);
    if (st == NQ_ETIMEDOUT) {
        for (int i = 0; i < c->nshards; i++) {
            push_cmd(c->shards[i], NQ_CMD_ABORT);
            nq_loop_wake(c->shards[i]);
        }
        wait_close_done(c, NQ_FOREVER);
    }
    for (int i = 0; i < c->nshards; i++)
        nq_loop_join(c->shards[i]);
    /* this thread now acts as each I/O thread in turn: under its io_mu, so
     * that a statistics snapshot from another thread never reads half a
     * change. Every loop has ended first: no hand-over comes any more. */
    for (int i = 0; i < c->nshards; i++) {
        struct nq_comm *s = c->shards[i];
        pthread_mutex_lock(&s->io_mu);
        nq_loop_adopt(s, 1);
        nq_shard_orphans(s);
        c->ops->destroy(s);
        cancel_leftovers(s);
        nq_loop_adopt(s, 0);
        pthread_mutex_unlock(&s->io_mu);
    }
    nq_recvq_close(&c->rq);
    nq_recvq_finish(&c->rq); /* pending receives: what is queued, else NQ_ECLOSED */
    pthread_mutex_lock(&c->close_mu);
    for (int i = 0; i < c->nshards && st == NQ_OK; i++)
        st = c->shards[i]->close_result;
    join_close_why(c);
    pthread_mutex_unlock(&c->close_mu);
    pthread_mutex_lock(&c->close_mu);
    c->closed = 1;
    pthread_cond_broadcast(&c->close_cv);
    pthread_mutex_unlock(&c->close_mu);
    if (st == NQ_OK)
        return NQ_OK;
    if (c->close_why[0])
        return nq_fail(st, "close: %s", c->close_why);
    if (st == NQ_ERESET)
        return nq_fail(st, "close: the server went away before finishing the session");
    return nq_fail(st, "close: peers did not finish in time; connections cut");
}

void nq_comm_free(nq_comm *c)
{
    if (!c)
        return;
    nq_comm_close(c, 0);
    nq_shards_free(c);
    nq_comm_free_loop_state(c);
    nq_recvq_destroy(&c->rq);
    nq_budget_destroy(&c->send_budget);
    nq_idset_free(&c->live);
    nq_idset_free(&c->known);
    pthread_cond_destroy(&c->close_cv);
    pthread_mutex_destroy(&c->close_mu);
    pthread_mutex_destroy(&c->peers_mu);
    nq_options_clear(&c->o);
    free(c);
}

void nq_comm_free_loop_state(struct nq_comm *c)
{
    while (c->sessions) {
        struct nq_session *s = c->sessions;
        c->sessions = s->next;
        free(s);
    }
    ev_loop_destroy(c->loop);
    nq_idmap_free(&c->session_by_id);
    pthread_mutex_destroy(&c->io_mu);
}
