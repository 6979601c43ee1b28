/* Completion queues. Posting is lock-free (the I/O threads of any number of
 * communicators may share a queue): a put's completion costs the I/O
 * thread an atomic exchange, a fence and the read of a word that only
 * changes when a taker goes to sleep; a futex wake only for the first
 * completion after a taker went to sleep. Takers share a lock among
 * themselves and take many completions per lock (nq_cq_next_batch). The
 * queue is Vyukov's intrusive MPSC (as core/mpsc.h) with the posters' end
 * and the takers' end on separate cache lines, so that posting and taking
 * at once do not pass one line back and forth per completion.
 *
 * Sleeping (Dekker's pattern): a taker sets `sleep`, fences, looks at the
 * queue once more, then waits on the word while it is 1; a poster pushes,
 * fences, and if it sees `sleep` set, swaps it to 0 and wakes every taker.
 * The fences make sure that either the taker's last look finds the
 * completion or the poster sees the flag. *
 * Tokens (one per pending put, posted as its event) are recycled through
 * the queue instead of being malloc'd by the putting thread and freed by
 * the draining one: that cross-thread pattern made every put take the
 * malloc arena lock against the drainer and the I/O thread (futex waits in
 * glibc's arena lock were the largest source of context switches of the
 * cq-drained bindings). They come in slabs of NQ_CQ_SLAB (one malloc for
 * many), up to NQ_CQ_POOL_MAX tokens per queue; past that, while more
 * puts than that are in flight, a token is malloc'd alone ("loose") and
 * freed when taken, so what a queue keeps is bounded.
 *
 * Token ownership: a putter takes a token from the pool (or a new slab,
 * or mallocs a loose one); the put owns it until its completion posts it
 * (or, if the put fails at once, nq_cq_token_free gives it back); the
 * queue owns it while queued; the taker that pops it reads tag and
 * result, then gives it back to the pool (a loose one: frees it).
 * nq_cq_free frees the queued loose tokens and every slab; no token
 * outlives its queue (every communicator given the queue is freed first,
 * so no put holds one). */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "core/futex.h"
#include "core/future_internal.h"
#include "core/mpsc.h"
#include "core/msg.h"
#include "core/status.h"
#include "core/timeutil.h"

/* Tokens per slab, and most tokens in slabs per queue (48 bytes each:
 * 3 MiB at most, enough for the puts a busy sender keeps in flight). */
#define NQ_CQ_SLAB 64
#define NQ_CQ_POOL_MAX 65536
/* Most completions one take moves under the takers' lock (a stack buffer). */
#define NQ_CQ_TAKE_CHUNK 64

struct cq_event {
    struct nq_mpsc_node node; /* first: the queue links through it */
    uint64_t tag;
    nq_status result;
    nq_msg *msg; /* a receive's message (nq_comm_get_cq), else NULL */
};

/* The token given to a put: taken before the put so completion never
 * allocates; its event is what gets posted. */
struct nq_cq_token {
    struct cq_event ev;
    int loose;                      /* malloc'd alone, freed when taken */
    nq_cq *cq;
    struct nq_cq_token *spare_next; /* in the pool */
};

struct cq_slab {
    struct cq_slab *next;
    struct nq_cq_token t[NQ_CQ_SLAB];
};

/* Fields are grouped by the threads that write them, one cache line each
 * (posting I/O threads, takers, sleepers, putters). */
struct nq_cq {
    /* posters: the queue's producer end */
    _Alignas(64) _Atomic(struct nq_mpsc_node *) head;

    /* takers: their lock, the queue's consumer end, and the token pool's
     * return side. Takers push chains onto `returned` (lock-free, push
     * only); putters move the whole of it to `cache` under alloc_mu and
     * take from there (pop-all by exchange has no ABA problem). */
    _Alignas(64) pthread_mutex_t takers;
    struct nq_mpsc_node *tail; /* takers */
    struct nq_mpsc_node stub;
    _Atomic(struct nq_cq_token *) returned;

    /* read by every post, written only around a taker's sleep */
    _Alignas(64) _Atomic uint32_t sleep; /* 1: a taker sleeps or is about to */
    atomic_int shutdown;

    /* putters */
    _Alignas(64) pthread_mutex_t alloc_mu;
    struct nq_cq_token *cache; /* alloc_mu */
    struct cq_slab *slabs;     /* alloc_mu */
    size_t nslabs;             /* alloc_mu */
};

/* core/mpsc.h's queue over the split ends: push from any thread; pop
 * with the takers' lock held, NULL when empty or when a poster is between
 * its two steps (it then wakes sleepers after, so a sleeper sees the
 * completion). */
static void inbox_push(nq_cq *cq, struct nq_mpsc_node *n)
{
    nq_mpsc_push_at(&cq->head, n);
}

static struct nq_mpsc_node *inbox_pop(nq_cq *cq)
{
    return nq_mpsc_pop_at(&cq->head, &cq->tail, &cq->stub);
}

nq_status nq_cq_new(nq_cq **out)
{
    if (!out)
        return nq_fail(NQ_EINVAL, "cq: out is NULL");
    nq_cq *cq = aligned_alloc(_Alignof(nq_cq), sizeof *cq); /* its lines are its own */
    if (!cq)
        return nq_fail(NQ_ENOMEM, "cq: out of memory");
    memset(cq, 0, sizeof *cq);
    nq_mpsc_init_at(&cq->head, &cq->tail, &cq->stub);
    pthread_mutex_init(&cq->takers, NULL);
    pthread_mutex_init(&cq->alloc_mu, NULL);
    *out = cq;
    return NQ_OK;
}

/* alloc_mu held: a new slab's tokens, all but the one returned, go to
 * the cache. NULL when the queue has its most slabs or memory is out. */
static struct nq_cq_token *slab_new(nq_cq *cq)
{
    if ((cq->nslabs + 1) * NQ_CQ_SLAB > NQ_CQ_POOL_MAX)
        return NULL;
    struct cq_slab *sl = malloc(sizeof *sl);
    if (!sl)
        return NULL;
    sl->next = cq->slabs;
    cq->slabs = sl;
    cq->nslabs++;
    for (int i = 1; i < NQ_CQ_SLAB; i++) {
        sl->t[i].loose = 0;
        sl->t[i].spare_next = i + 1 < NQ_CQ_SLAB ? &sl->t[i + 1] : cq->cache;
    }
    cq->cache = &sl->t[1];
    sl->t[0].loose = 0;
    return &sl->t[0];
}

nq_status nq_cq_token_new(struct nq_cq_token **out, nq_cq *cq, uint64_t tag)
{
    pthread_mutex_lock(&cq->alloc_mu);
    struct nq_cq_token *t = cq->cache;
    if (!t)
        t = atomic_exchange_explicit(&cq->returned, NULL, memory_order_acquire);
    if (t) {
        cq->cache = t->spare_next;
        /* the pool is a list of tokens last written by a taker: fetch the
         * next one now, while this put goes on, rather than stall on it in
         * the next put */
        if (cq->cache)
            __builtin_prefetch(cq->cache, 1);
    } else {
        t = slab_new(cq);
    }
    pthread_mutex_unlock(&cq->alloc_mu);
    if (!t) {
        t = malloc(sizeof *t);
        if (!t)
            return nq_fail(NQ_ENOMEM, "cq: out of memory");
        t->loose = 1;
    }
    t->cq = cq;
    t->ev.tag = tag;
    t->ev.result = NQ_OK;
    t->ev.msg = NULL;
    *out = t;
    return NQ_OK;
}

/* Give the chain first..last (linked by spare_next; slab tokens only) back
 * to the pool. Any thread. */
static void pool_put(nq_cq *cq, struct nq_cq_token *first, struct nq_cq_token *last)
{
    struct nq_cq_token *head = atomic_load_explicit(&cq->returned, memory_order_relaxed);
    do
        last->spare_next = head;
    while (!atomic_compare_exchange_weak_explicit(&cq->returned, &head, first, memory_order_release,
                                                  memory_order_relaxed));
}

void nq_cq_token_free(struct nq_cq_token *t)
{
    if (t->loose)
        free(t);
    else
        pool_put(t->cq, t, t);
}

/* After a post (or shutdown): wake the takers if one sleeps. */
static void wake_sleepers(nq_cq *cq)
{
    atomic_thread_fence(memory_order_seq_cst); /* the post, then the look at `sleep` */
    if (atomic_load_explicit(&cq->sleep, memory_order_relaxed) &&
        atomic_exchange_explicit(&cq->sleep, 0, memory_order_relaxed))
        nq_futex_wake_all(&cq->sleep);
}

void nq_cq_complete(void *user, nq_status status)
{
    struct nq_cq_token *t = user;
    nq_cq *cq = t->cq;
    t->ev.result = status;
    inbox_push(cq, &t->ev.node);
    wake_sleepers(cq);
}

void nq_cq_complete_get(void *user, nq_status status, nq_msg *msg)
{
    struct nq_cq_token *t = user;
    t->ev.msg = msg;
    nq_cq_complete(user, status);
}

/* Take up to cap queued completions without waiting; how many. A
 * receive's message goes to msgs[i], or is freed when msgs is NULL. */
static size_t take(nq_cq *cq, uint64_t *tags, nq_status *results, nq_msg **msgs, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        struct nq_mpsc_node *nodes[NQ_CQ_TAKE_CHUNK];
        size_t want = cap - got < NQ_CQ_TAKE_CHUNK ? cap - got : NQ_CQ_TAKE_CHUNK, k = 0;
        pthread_mutex_lock(&cq->takers);
        while (k < want && (nodes[k] = inbox_pop(cq)))
            k++;
        pthread_mutex_unlock(&cq->takers);
        if (!k)
            break;
        /* popped nodes are no longer touched by the queue: read, then
         * recycle (slab tokens) or free (loose ones) */
        struct nq_cq_token *first = NULL, *last = NULL;
        for (size_t i = 0; i < k; i++) {
            struct nq_cq_token *t = (struct nq_cq_token *)(struct cq_event *)nodes[i];
            if (tags)
                tags[got + i] = t->ev.tag;
            if (results)
                results[got + i] = t->ev.result;
            if (msgs)
                msgs[got + i] = t->ev.msg;
            else
                nq_msg_free(t->ev.msg);
            if (t->loose) {
                free(t);
                continue;
            }
            t->spare_next = NULL;
            if (last)
                last->spare_next = t;
            else
                first = t;
            last = t;
        }
        if (first)
            pool_put(cq, first, last);
        got += k;
        if (k < want)
            break;
    }
    return got;
}

/* Wait up to timeout_ms for at least one completion, take up to cap. */
static nq_status wait_take(nq_cq *cq, int64_t timeout_ms, uint64_t *tags, nq_status *results,
                           nq_msg **msgs, size_t cap, size_t *n)
{
    struct timespec deadline;
    if (timeout_ms > 0) /* a poll (0) or a wait without limit reads no clock */
        nq_deadline(&deadline, timeout_ms);
    for (int last_look = 0, yielded = 0;;) {
        size_t got = take(cq, tags, results, msgs, cap);
        if (got) {
            *n = got;
            return NQ_OK;
        }
        if (atomic_load(&cq->shutdown))
            return NQ_ECLOSED;
        if (timeout_ms == 0 || last_look)
            return NQ_ETIMEDOUT;
        /* Before the first sleep, give the CPU away once and look again: a
         * drainer asleep here costs the I/O thread a futex wake per sleep
         * (before the wake-up was coalesced, nearly one per completion:
         * 237k futex calls and 54k context switches for 200k puts of 64 B,
         * ~1.5k with the yield). Not for a taker of messages
         * (nq_cq_next_msg): like a blocking get it sleeps at once, since
         * on a busy machine a yield can hand the CPU away for a whole
         * time slice (1 MiB receives: 815 yields of ~460 us each, 1.5x
         * the time of nq_comm_get; bench/recv_bench). */
        if (!yielded && !msgs) {
            yielded = 1;
            sched_yield();
            continue;
        }
        /* Say we sleep, then look once more (see the top of the file). The
         * flag is left set if that look finds something: clearing it could
         * hide another taker's sleep from the posters; a poster clears it
         * at the cost of one spurious wake. */
        atomic_store_explicit(&cq->sleep, 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        got = take(cq, tags, results, msgs, cap);
        if (got) {
            *n = got;
            return NQ_OK;
        }
        if (atomic_load(&cq->shutdown))
            return NQ_ECLOSED;
        nq_futex_wait(&cq->sleep, 1, timeout_ms < 0 ? NULL : &deadline);
        if (timeout_ms > 0 && nq_deadline_passed(&deadline))
            last_look = 1;
    }
}

nq_status nq_cq_next(nq_cq *cq, int64_t timeout_ms, uint64_t *tag, nq_status *result)
{
    if (!cq)
        return nq_fail(NQ_EINVAL, "cq: NULL");
    size_t n;
    return wait_take(cq, timeout_ms, tag, result, NULL, 1, &n);
}

nq_status nq_cq_next_msg(nq_cq *cq, int64_t timeout_ms, uint64_t *tag, nq_status *result,
                         nq_msg **msg)
{
    if (!cq || !msg)
        return nq_fail(NQ_EINVAL, "cq: %s is NULL", !cq ? "cq" : "msg");
    *msg = NULL;
    size_t n;
    return wait_take(cq, timeout_ms, tag, result, msg, 1, &n);
}

nq_status nq_cq_next_batch(nq_cq *cq, int64_t timeout_ms, uint64_t *tags, nq_status *results,
                           size_t cap, size_t *n)
{
    if (n)
        *n = 0;
    if (!cq || !n)
        return nq_fail(NQ_EINVAL, "cq: %s is NULL", !cq ? "cq" : "n");
    if (!cap)
        return nq_fail(NQ_EINVAL, "cq: batch of capacity 0");
    return wait_take(cq, timeout_ms, tags, results, NULL, cap, n);
}

void nq_cq_shutdown(nq_cq *cq)
{
    if (!cq)
        return;
    atomic_store(&cq->shutdown, 1);
    atomic_store(&cq->sleep, 0); /* wake unconditionally: cheap, and once */
    nq_futex_wake_all(&cq->sleep);
}

void nq_cq_free(nq_cq *cq)
{
    if (!cq)
        return;
    struct nq_mpsc_node *n;
    while ((n = inbox_pop(cq))) {
        struct nq_cq_token *t = (struct nq_cq_token *)(struct cq_event *)n;
        nq_msg_free(t->ev.msg);
        if (t->loose)
            free(t);
    }
    /* slab tokens, queued or pooled, go with their slabs */
    while (cq->slabs) {
        struct cq_slab *next = cq->slabs->next;
        free(cq->slabs);
        cq->slabs = next;
    }
    pthread_mutex_destroy(&cq->alloc_mu);
    pthread_mutex_destroy(&cq->takers);
    free(cq);
}
