/* The receive queue: lock-free delivery, futex wake-ups, and the
 * receivers that wait on it (blocking gets and asynchronous receives).
 *
 * Receivers: a get that finds nothing it wants joins the waiting list
 * (under the getters' lock it holds anyway, so no extra lock round) and
 * sleeps; an asynchronous receive joins it too. Whoever holds the lock and
 * sees waiting receivers runs dispatch(): each queued message goes to the
 * oldest waiting receiver that accepts it. The I/O thread dispatches on
 * delivery only while asynchronous receives wait (async_n > 0); otherwise
 * delivery stays lock-free and woken getters dispatch themselves. With no
 * receiver waiting, a get that finds its message takes it exactly as
 * before: lock, scan, unlink, unlock.
 *
 * A receive with a message bound to it is off the waiting list: cancel
 * can no longer find it (NQ_ESTATE) and its completion delivers the
 * message, so a cancel never loses or duplicates one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/futex.h"
#include "core/msg.h"
#include "core/status.h"
#include "core/timeutil.h"

void nq_recvq_init(struct nq_recvq *q, uint64_t limit, nq_queue_policy policy)
{
    memset(q, 0, sizeof *q);
    nq_mpsc_init(&q->inbox);
    pthread_mutex_init(&q->getters, NULL);
    pthread_mutex_init(&q->fd_mu, NULL);
    nq_mpsc_init(&q->done);
    q->limit = limit;
    q->policy = policy;
    q->efd = -1;
    q->armed_ns = INT64_MAX;
}

/* What a queued message costs: its payload and its bookkeeping (the
 * struct and the allocator's header), so that many small messages cannot
 * hold several times the queue limit. */
static uint64_t cost(const struct nq_msg *m)
{
    return (uint64_t)m->size + sizeof *m + 16;
}

/* Getters' lock held: move arrivals into the ordered list. */
static void take_arrivals(struct nq_recvq *q)
{
    struct nq_mpsc_node *n;
    while ((n = nq_mpsc_pop(&q->inbox))) {
        struct nq_msg *m = (struct nq_msg *)n;
        m->next = NULL;
        m->prev = q->tail;
        if (q->tail)
            q->tail->next = m;
        else
            q->head = m;
        q->tail = m;
    }
}

void nq_recvq_destroy(struct nq_recvq *q)
{
    take_arrivals(q);
    struct nq_msg *m = q->head;
    while (m) {
        struct nq_msg *next = m->next;
        nq_msg_free(m);
        m = next;
    }
    if (q->efd >= 0)
        close(q->efd);
    pthread_mutex_destroy(&q->fd_mu);
    pthread_mutex_destroy(&q->getters);
}

static void unlink_msg(struct nq_recvq *q, struct nq_msg *m)
{
    if (q->checked == m)
        q->checked = m->prev;
    if (m->prev)
        m->prev->next = m->next;
    else
        q->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        q->tail = m->prev;
    m->next = m->prev = NULL;
    q->out_msgs++;
    q->out_bytes += m->size;
    /* sequentially consistent: pairs with nq_recvq_pause_if_full (below) */
    atomic_fetch_sub(&q->bytes, cost(m));
}

/* Sequentially consistent on purpose: the bump must be visible before the
 * sleeper count is read, and a getter raises the count before its futex
 * wait re-reads the word, so one of the two always sees the other. */
static void announce(struct nq_recvq *q)
{
    atomic_fetch_add(&q->seq, 1);
    if (atomic_load(&q->sleepers))
        nq_futex_wake_all(&q->seq);
}

/* The opt-in drop policies need to see what is queued: they take the
 * getters' lock, which the default (blocking) policy never does. */
static size_t make_room(struct nq_recvq *q, struct nq_msg *m)
{
    size_t dropped = 0;
    pthread_mutex_lock(&q->getters);
    take_arrivals(q);
    if (q->policy == NQ_QUEUE_DROP_NEWEST) {
        if (q->head && atomic_load(&q->bytes) + cost(m) > q->limit) {
            pthread_mutex_unlock(&q->getters);
            nq_msg_free(m);
            return SIZE_MAX;
        }
    } else {
        while (q->head && atomic_load(&q->bytes) + cost(m) > q->limit) {
            struct nq_msg *old = q->head;
            unlink_msg(q, old);
            nq_msg_free(old);
            dropped++;
        }
    }
    pthread_mutex_unlock(&q->getters);
    return dropped;
}

static int wanted(const struct nq_msg *m, unsigned kinds, const uint8_t *peers, size_t npeers)
{
    if (!(kinds & NQ_KIND_BIT(m->kind)))
        return 0;
    if (npeers == 0)
        return 1;
    for (size_t i = 0; i < npeers; i++)
        if (memcmp(m->peer, peers + i * NQ_ID_SIZE, NQ_ID_SIZE) == 0)
            return 1;
    return 0;
}

/* ---- readiness descriptor ---- */

/* Make the eventfd readable iff something is queued and unclaimed (or the
 * queue is closed). Every change of `bytes` is followed by a call, which
 * reads `bytes` under fd_mu after the change: the last one leaves the
 * descriptor right, whatever the interleaving. Costs one relaxed load
 * unless nq_comm_fd was called. */
static void fd_sync(struct nq_recvq *q)
{
    if (!atomic_load_explicit(&q->fd_on, memory_order_acquire))
        return;
    pthread_mutex_lock(&q->fd_mu);
    int want = atomic_load(&q->bytes) > 0 || atomic_load(&q->closed);
    if (want && !q->fd_state) {
        uint64_t one = 1;
        if (write(q->efd, &one, sizeof one) == sizeof one)
            q->fd_state = 1;
    } else if (!want && q->fd_state) {
        uint64_t v;
        if (read(q->efd, &v, sizeof v) == sizeof v || errno == EAGAIN)
            q->fd_state = 0;
    }
    pthread_mutex_unlock(&q->fd_mu);
}

int nq_recvq_fd(struct nq_recvq *q)
{
    pthread_mutex_lock(&q->fd_mu);
    if (q->efd < 0)
        q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int fd = q->efd;
    pthread_mutex_unlock(&q->fd_mu);
    if (fd >= 0) {
        atomic_store_explicit(&q->fd_on, 1, memory_order_release);
        fd_sync(q);
    }
    return fd;
}

/* ---- receivers ---- */

struct oplist {
    struct nq_recv_op *head, *tail;
};

static void oplist_add(struct oplist *l, struct nq_recv_op *op)
{
    op->next = NULL;
    if (l->tail)
        l->tail->next = op;
    else
        l->head = op;
    l->tail = op;
}

/* What dispatch decided, for after the lock: completions to run on this
 * thread, blocking getters to wake, the I/O thread to wake. */
struct outcome {
    struct oplist run;
    int wake_getters;
    int notify;
    /* did dispatch bind `watch`? (once bound, a callback receive may be
     * run and freed by the I/O thread at any moment: not to be touched) */
    const struct nq_recv_op *watch;
    int watch_bound;
};

static void op_append(struct nq_recvq *q, struct nq_recv_op *op)
{
    op->next = NULL;
    op->prev = q->wait_tail;
    if (q->wait_tail)
        q->wait_tail->next = op;
    else
        q->wait_head = op;
    q->wait_tail = op;
    if (op->form != NQ_RECV_BLOCKING)
        atomic_fetch_add(&q->async_n, 1); /* sequentially consistent: see push */
}

static void op_unlink(struct nq_recvq *q, struct nq_recv_op *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        q->wait_head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else
        q->wait_tail = op->prev;
    op->next = op->prev = NULL;
    if (op->form != NQ_RECV_BLOCKING)
        atomic_fetch_sub(&q->async_n, 1);
}

/* Getters' lock held, op off the list with its msg/st set: where its
 * completion runs. A callback decided off the I/O thread goes to the done
 * list now, under the lock, so that nq_recvq_finish (which takes the lock)
 * cannot miss it. */
static void route(struct nq_recvq *q, struct nq_recv_op *op, int on_io, struct outcome *o)
{
    if (op->form == NQ_RECV_BLOCKING) {
        op->bound = 1;
        o->wake_getters = 1;
    } else if (op->form == NQ_RECV_CALLBACK && !on_io) {
        nq_mpsc_push(&q->done, &op->node);
        o->notify = 1;
    } else {
        oplist_add(&o->run, op);
    }
}

/* Getters' lock held: op (waiting or not) is bound to m. */
static void bind(struct nq_recvq *q, struct nq_recv_op *op, struct nq_msg *m, int on_io,
                 struct outcome *o)
{
    unlink_msg(q, m);
    op_unlink(q, op);
    op->msg = m;
    op->st = NQ_OK;
    if (op == o->watch)
        o->watch_bound = 1;
    route(q, op, on_io, o);
}

/* Getters' lock held: give queued messages to waiting receivers, each to
 * the oldest one that accepts it. fresh: a receiver just added to the
 * waiting list (or NULL).
 *
 * Messages up to q->checked were refused by every receiver waiting when
 * they were looked at, and receivers only leave the list or join its end;
 * so a message there can only go to a receiver that joined since, and
 * only fresh did. Each message is thus matched against the waiting list
 * once, not on every arrival: a receiver that wants what is not there
 * (an events-only receive, a peer filter) keeps delivery linear however
 * deep the queue of what it refuses. */
static void dispatch(struct nq_recvq *q, int on_io, struct outcome *o, struct nq_recv_op *fresh)
{
    take_arrivals(q);
    if (fresh && q->checked) {
        for (struct nq_msg *m = q->head;; m = m->next) {
            int last = m == q->checked;
            if (wanted(m, fresh->kinds, fresh->peers, fresh->npeers)) {
                bind(q, fresh, m, on_io, o);
                break;
            }
            if (last)
                break;
        }
    }
    struct nq_msg *m = q->checked ? q->checked->next : q->head;
    for (struct nq_msg *next; m && q->wait_head; m = next) {
        next = m->next;
        struct nq_recv_op *op = q->wait_head;
        while (op && !wanted(m, op->kinds, op->peers, op->npeers))
            op = op->next;
        if (op)
            bind(q, op, m, on_io, o);
        else
            q->checked = m;
    }
}

/* Getters' lock held, before a get takes directly: receivers already
 * waiting have what they accept first, so the first message left that
 * the get wants is its own (FIFO among receivers). */
static void serve_waiters_first(struct nq_recvq *q, struct outcome *o)
{
    if (q->wait_head)
        dispatch(q, 0, o, NULL);
    else
        take_arrivals(q);
}

static void complete(struct nq_recv_op *op)
{
    op->fn(op->user, op->st, op->msg);
    free(op);
}

static void resume_check(struct nq_recvq *q)
{
    if (atomic_load(&q->paused) && atomic_load(&q->bytes) <= q->limit / 2 &&
        atomic_exchange(&q->paused, 0) && q->resume)
        q->resume(q->resume_arg);
}

/* Lock released: act on what dispatch decided. */
static void settle(struct nq_recvq *q, struct outcome *o)
{
    if (o->wake_getters)
        announce(q);
    if (o->notify && q->notify)
        q->notify(q->resume_arg);
    for (struct nq_recv_op *op = o->run.head, *next; op; op = next) {
        next = op->next;
        complete(op);
    }
    fd_sync(q); /* what dispatch took no longer counts as queued */
}

static int on_io(struct nq_recvq *q)
{
    return q->on_io && q->on_io(q->resume_arg);
}

/* Delivery while asynchronous receives wait. */
static void serve_async(struct nq_recvq *q)
{
    struct outcome o = {0};
    int io = on_io(q);
    pthread_mutex_lock(&q->getters);
    dispatch(q, io, &o, NULL);
    pthread_mutex_unlock(&q->getters);
    settle(q, &o);
    resume_check(q);
}

nq_status nq_recvq_get_async(struct nq_recvq *q, enum nq_recv_form form, unsigned kinds,
                             const uint8_t *peers, size_t npeers, int64_t timeout_ms,
                             nq_get_fn fn, void *user, uint64_t *id)
{
    struct nq_recv_op *op = malloc(sizeof *op + npeers * NQ_ID_SIZE);
    if (!op)
        return nq_fail(NQ_ENOMEM, "get: out of memory");
    memset(op, 0, sizeof *op);
    if (npeers)
        memcpy(op->peer_buf, peers, npeers * NQ_ID_SIZE);
    op->peers = op->peer_buf;
    op->npeers = npeers;
    op->kinds = kinds;
    op->form = form;
    op->fn = fn;
    op->user = user;
    op->id = atomic_fetch_add(&q->next_op, 1) + 1;
    op->deadline_ns = timeout_ms < 0 ? INT64_MAX
                      : timeout_ms > INT64_MAX / 2000000 ? INT64_MAX
                                                         : nq_now_ns() + timeout_ms * 1000000;
    if (id)
        *id = op->id;
    /* never the caller's own callback inside this call, even on the I/O
     * thread (a callback that asks for the next message): it goes through
     * the done list, which bounds the stack and keeps callers free of
     * re-entrancy */
    struct outcome o = {0};
    const int io = 0;
    pthread_mutex_lock(&q->getters);
    if (q->finished) {
        /* closed: no I/O thread any more; a future or a cq entry completes
         * now, with what is left or NQ_ECLOSED */
        if (form == NQ_RECV_CALLBACK) {
            pthread_mutex_unlock(&q->getters);
            free(op);
            return nq_fail(NQ_ECLOSED, "get: communicator closed; drain it with nq_comm_get");
        }
        take_arrivals(q);
        struct nq_msg *m = q->head;
        while (m && !wanted(m, op->kinds, op->peers, op->npeers))
            m = m->next;
        if (m)
            unlink_msg(q, m);
        op->msg = m;
        op->st = m ? NQ_OK : NQ_ECLOSED;
        oplist_add(&o.run, op);
    } else {
        op_append(q, op);
        o.watch = op;
        dispatch(q, io, &o, op);
        if (o.watch_bound) {
            /* done: op belongs to its completion now */
        } else if (timeout_ms == 0) { /* a poll that found nothing */
            op_unlink(q, op);
            op->st = NQ_ETIMEDOUT;
            route(q, op, io, &o);
        } else if (op->deadline_ns < q->armed_ns) {
            q->armed_ns = op->deadline_ns;
            atomic_store(&q->rearm, 1);
            o.notify = 1;
        }
    }
    pthread_mutex_unlock(&q->getters);
    settle(q, &o);
    resume_check(q);
    fd_sync(q);
    return NQ_OK;
}

nq_status nq_recvq_cancel(struct nq_recvq *q, uint64_t id)
{
    struct outcome o = {0};
    const int io = 0; /* a cancelled callback runs later, on the I/O thread */
    struct nq_recv_op *op;
    pthread_mutex_lock(&q->getters);
    for (op = q->wait_head; op; op = op->next)
        if (op->id == id && op->form != NQ_RECV_BLOCKING)
            break;
    if (op) {
        op_unlink(q, op);
        op->st = NQ_ECANCELED;
        route(q, op, io, &o);
    }
    pthread_mutex_unlock(&q->getters);
    settle(q, &o);
    if (!op)
        return nq_fail(NQ_ESTATE, "get: receive %llu already has its message or completed",
                       (unsigned long long)id);
    return NQ_OK;
}

/* Most callbacks one drain runs: a callback that asks for the next
 * message adds to this list while it is drained, so a deep queue is served
 * in one go, but not without end while the I/O thread has other work. */
#define NQ_RECV_DONE_BATCH 4096

void nq_recvq_run_done(struct nq_recvq *q)
{
    struct nq_mpsc_node *n;
    for (int i = 0; i < NQ_RECV_DONE_BATCH; i++) {
        if (!(n = nq_mpsc_pop(&q->done)))
            return;
        complete((struct nq_recv_op *)n);
    }
    if (!nq_mpsc_empty(&q->done) && q->notify)
        q->notify(q->resume_arg); /* the rest on the next round */
}

int64_t nq_recvq_expire(struct nq_recvq *q)
{
    struct outcome o = {0};
    int64_t now = nq_now_ns(), next = INT64_MAX;
    pthread_mutex_lock(&q->getters);
    for (struct nq_recv_op *op = q->wait_head, *nx; op; op = nx) {
        nx = op->next;
        if (op->form == NQ_RECV_BLOCKING || op->deadline_ns == INT64_MAX)
            continue;
        if (op->deadline_ns <= now) {
            op_unlink(q, op);
            op->st = NQ_ETIMEDOUT;
            route(q, op, 1, &o);
        } else if (op->deadline_ns < next) {
            next = op->deadline_ns;
        }
    }
    q->armed_ns = next;
    pthread_mutex_unlock(&q->getters);
    settle(q, &o);
    return next;
}

void nq_recvq_finish(struct nq_recvq *q)
{
    struct outcome o = {0};
    pthread_mutex_lock(&q->getters);
    q->finished = 1;
    dispatch(q, 1, &o, NULL);
    for (struct nq_recv_op *op = q->wait_head, *nx; op; op = nx) {
        nx = op->next;
        if (op->form == NQ_RECV_BLOCKING)
            continue; /* a sleeping get: it sees `closed` itself */
        op_unlink(q, op);
        op->st = NQ_ECLOSED;
        route(q, op, 1, &o);
    }
    pthread_mutex_unlock(&q->getters);
    while (!nq_mpsc_empty(&q->done)) /* decided before: they come first */
        nq_recvq_run_done(q);
    settle(q, &o);
    resume_check(q);
    fd_sync(q);
}

void nq_recvq_add_src(struct nq_recvq *q, struct nq_recvq_src *src)
{
    src->next = q->own.next;
    q->own.next = src;
}

size_t nq_recvq_push_from(struct nq_recvq *q, struct nq_recvq_src *src, struct nq_msg *m)
{
    size_t dropped = 0;
    if (q->policy != NQ_QUEUE_BLOCK && atomic_load(&q->bytes) + cost(m) > q->limit) {
        dropped = make_room(q, m);
        if (dropped == SIZE_MAX)
            return 1; /* the new message was the one dropped */
    }
    atomic_fetch_add_explicit(&q->bytes, cost(m), memory_order_relaxed);
    src->in_msgs++;
    src->in_bytes += m->size;
    nq_mpsc_push(&q->inbox, &m->node);
    /* Dekker with nq_recvq_get_async, which raises async_n (a sequentially
     * consistent read-modify-write) and then takes arrivals: the bump of
     * seq is this side's full barrier between the push and the look at
     * async_n, so either that receive sees this message or this sees the
     * receive. No fence of its own: this is every message's path. */
    atomic_fetch_add(&q->seq, 1);
    if (atomic_load(&q->async_n))
        serve_async(q);
    if (src->batch) {
        src->batch_pushed = 1; /* getters are woken once, at the batch's end */
        return dropped;
    }
    if (atomic_load(&q->sleepers))
        nq_futex_wake_all(&q->seq);
    fd_sync(q);
    return dropped;
}

void nq_recvq_batch_begin(struct nq_recvq_src *src)
{
    src->batch++;
}

void nq_recvq_batch_end(struct nq_recvq *q, struct nq_recvq_src *src)
{
    if (--src->batch || !src->batch_pushed)
        return;
    src->batch_pushed = 0;
    /* the pushes' seq bumps came before this look (sequentially
     * consistent): a getter that went to sleep on an older seq is seen */
    if (atomic_load(&q->sleepers))
        nq_futex_wake_all(&q->seq);
    fd_sync(q);
}

/* Dekker's pattern with the getter in nq_recvq_get, which lowers bytes and
 * then reads paused, while this raises paused and then reads bytes (all
 * sequentially consistent): a get that drained the queue between the
 * caller's "full" and the pause either sees paused and resumes reading, or
 * this sees the drained queue and takes the pause back. Without the second
 * look reading could stay paused with nothing left to get. */
int nq_recvq_pause(struct nq_recvq *q)
{
    atomic_store(&q->paused, 1);
    if (atomic_load(&q->bytes) <= q->limit / 2 && atomic_exchange(&q->paused, 0))
        return 0;
    return 1;
}

int nq_recvq_pause_if_full(struct nq_recvq *q)
{
    return nq_recvq_full(q) && nq_recvq_pause(q);
}

int nq_recvq_full(struct nq_recvq *q)
{
    return q->policy == NQ_QUEUE_BLOCK &&
           atomic_load_explicit(&q->bytes, memory_order_relaxed) >= q->limit;
}


nq_status nq_recvq_get(struct nq_recvq *q, unsigned kinds, const uint8_t *peers, size_t npeers,
                       int64_t timeout_ms, struct nq_msg **out)
{
    /* the clock is read only once the get has to sleep: a message already
     * queued costs none (clock_gettime was 10 % of a 64 B one-way
     * receiver's time); the deadline then counts from that first sleep,
     * microseconds after the call */
    struct timespec deadline = {0, 0};
    int have_deadline = 0;
    struct nq_msg *m = NULL;
    struct nq_recv_op w; /* this get, while it waits (the waiting list) */
    int waiting = 0;
    for (int last_look = 0;;) {
        /* read the word first: a push after this read changes it, so the
         * wait below cannot miss that push */
        uint32_t seen = atomic_load_explicit(&q->seq, memory_order_acquire);
        struct outcome o = {0};
        pthread_mutex_lock(&q->getters);
        if (waiting) {
            if (!w.bound)
                dispatch(q, 0, &o, NULL);
            if (w.bound) {
                waiting = 0;
                m = w.msg;
            }
        } else {
            serve_waiters_first(q, &o);
            for (m = q->head; m && !wanted(m, kinds, peers, npeers); m = m->next)
                ;
            if (m)
                unlink_msg(q, m);
        }
        int closed = !m && atomic_load(&q->closed);
        int give_up = !m && (closed || timeout_ms == 0 || last_look);
        if (!m && !give_up && !waiting) {
            /* wait in line: older receivers are served first */
            memset(&w, 0, sizeof w);
            w.form = NQ_RECV_BLOCKING;
            w.peers = peers;
            w.npeers = npeers;
            w.kinds = kinds;
            op_append(q, &w); /* it has seen everything queued (above) */
            waiting = 1;
        }
        if (give_up && waiting) {
            op_unlink(q, &w);
            waiting = 0;
        }
        pthread_mutex_unlock(&q->getters);
        if (o.wake_getters || o.notify || o.run.head)
            settle(q, &o);
        if (m)
            break;
        if (closed)
            return nq_fail(NQ_ECLOSED, "get: communicator closed and drained");
        if (give_up)
            return nq_fail(NQ_ETIMEDOUT, "get: no message within the timeout");
        if (timeout_ms > 0 && !have_deadline) {
            nq_deadline(&deadline, timeout_ms);
            have_deadline = 1;
        }
        atomic_fetch_add(&q->sleepers, 1);
        nq_futex_wait(&q->seq, seen, timeout_ms < 0 ? NULL : &deadline);
        atomic_fetch_sub(&q->sleepers, 1);
        if (timeout_ms > 0 && nq_deadline_passed(&deadline))
            last_look = 1;
    }
    resume_check(q);
    fd_sync(q);
    *out = m;
    return NQ_OK;
}

size_t nq_recvq_get_more(struct nq_recvq *q, unsigned kinds, const uint8_t *peers,
                         size_t npeers, struct nq_msg **out, size_t max)
{
    size_t n = 0;
    struct outcome o = {0};
    pthread_mutex_lock(&q->getters);
    serve_waiters_first(q, &o);
    for (struct nq_msg *m = q->head, *next; m && n < max; m = next) {
        next = m->next;
        if (!wanted(m, kinds, peers, npeers))
            continue;
        unlink_msg(q, m);
        out[n++] = m;
    }
    pthread_mutex_unlock(&q->getters);
    if (o.wake_getters || o.notify || o.run.head)
        settle(q, &o);
    resume_check(q);
    fd_sync(q);
    return n;
}

void nq_recvq_held(struct nq_recvq *q, const uint8_t *peer, uint64_t *msgs, uint64_t *bytes)
{
    pthread_mutex_lock(&q->getters);
    if (!peer) {
        uint64_t in_msgs = 0, in_bytes = 0;
        for (const struct nq_recvq_src *src = &q->own; src; src = src->next) {
            in_msgs += src->in_msgs;
            in_bytes += src->in_bytes;
        }
        *msgs = in_msgs - q->out_msgs;
        *bytes = in_bytes - q->out_bytes;
    } else {
        take_arrivals(q);
        *msgs = *bytes = 0;
        for (const struct nq_msg *m = q->head; m; m = m->next) {
            if (memcmp(m->peer, peer, NQ_ID_SIZE) == 0) {
                (*msgs)++;
                *bytes += m->size;
            }
        }
    }
    pthread_mutex_unlock(&q->getters);
}

void nq_recvq_close(struct nq_recvq *q)
{
    atomic_store(&q->closed, 1);
    announce(q);
    fd_sync(q);
}
