/* Completion queues. Posting is lock-free (the I/O threads of any number of
 * communicators may share a queue), so a put's completion costs the I/O
 * thread an atomic push and an atomic add, and a futex wake only for the
 * first completion after a taker went to sleep. Takers share a lock among
 * themselves and take many completions per lock (nq_cq_next_batch).
 *
 * Tokens (one per pending put, posted as its event) are recycled through
 * the queue instead of being malloc'd by the putting thread and freed by
 * the draining one: that cross-thread pattern made every put take the
 * malloc arena lock against the drainer and the I/O thread (futex waits in
 * glibc's arena lock were the largest source of context switches of the
 * cq-drained bindings).
 *
 * Token ownership: a putter takes a token from the pool (or mallocs one);
 * the put owns it until its completion posts it; the queue owns it while
 * queued; the taker that pops it reads tag and result, then gives it back
 * to the pool (or frees it when the pool is full). nq_cq_free frees what
 * is queued and pooled; no token outlives its queue (every communicator
 * given the queue is freed first, so no put holds one). */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "core/futex.h"
#include "core/future_internal.h"
#include "core/mpsc.h"
#include "core/status.h"
#include "core/timeutil.h"

/* Most tokens kept for reuse per queue (40 bytes each): enough for the
 * puts a busy sender keeps in flight, so a steady stream mallocs none. */
#define NQ_CQ_POOL_MAX 16384
/* Most completions one take moves under the takers' lock (a stack buffer). */
#define NQ_CQ_TAKE_CHUNK 64

struct cq_event {
    struct nq_mpsc_node node; /* first: the queue links through it */
    uint64_t tag;
    nq_status result;
};

/* The token given to a put: taken before the put so completion never
 * allocates; its event is what gets posted. */
struct nq_cq_token {
    struct cq_event ev;
    nq_cq *cq;
    struct nq_cq_token *spare_next; /* in the pool */
};

struct nq_cq {
    struct nq_mpsc inbox;
    pthread_mutex_t takers;
    /* Event count: bumped by 2 by every post and by shutdown; bit 0 set by
     * a taker about to sleep, cleared (with one futex wake) by the first
     * post that sees it. */
    _Atomic uint32_t seq;
    atomic_int shutdown;

    /* token pool: takers push chains onto `returned` (lock-free, push
     * only); putters move the whole of it to `cache` under alloc_mu and
     * take from there (pop-all by exchange has no ABA problem) */
    _Atomic(struct nq_cq_token *) returned;
    atomic_size_t pooled; /* tokens in returned + cache (approximate) */
    pthread_mutex_t alloc_mu;
    struct nq_cq_token *cache; /* alloc_mu */
};

nq_status nq_cq_new(nq_cq **out)
{
    if (!out)
        return nq_fail(NQ_EINVAL, "cq: out is NULL");
    nq_cq *cq = calloc(1, sizeof *cq);
    if (!cq)
        return nq_fail(NQ_ENOMEM, "cq: out of memory");
    nq_mpsc_init(&cq->inbox);
    pthread_mutex_init(&cq->takers, NULL);
    pthread_mutex_init(&cq->alloc_mu, NULL);
    *out = cq;
    return NQ_OK;
}

nq_status nq_cq_token_new(struct nq_cq_token **out, nq_cq *cq, uint64_t tag)
{
    pthread_mutex_lock(&cq->alloc_mu);
    struct nq_cq_token *t = cq->cache;
    if (!t)
        t = atomic_exchange(&cq->returned, NULL);
    if (t) {
        cq->cache = t->spare_next;
        atomic_fetch_sub_explicit(&cq->pooled, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&cq->alloc_mu);
    if (!t) {
        t = malloc(sizeof *t);
        if (!t)
            return nq_fail(NQ_ENOMEM, "cq: out of memory");
    }
    t->cq = cq;
    t->ev.tag = tag;
    t->ev.result = NQ_OK;
    *out = t;
    return NQ_OK;
}

/* Give the chain first..last (n tokens, linked by spare_next) back to the
 * pool, or free it when the pool is full. Any thread. */
static void pool_put(nq_cq *cq, struct nq_cq_token *first, struct nq_cq_token *last, size_t n)
{
    if (atomic_load_explicit(&cq->pooled, memory_order_relaxed) + n > NQ_CQ_POOL_MAX) {
        while (first) {
            struct nq_cq_token *next = first->spare_next;
            free(first);
            first = next;
        }
        return;
    }
    atomic_fetch_add_explicit(&cq->pooled, n, memory_order_relaxed);
    struct nq_cq_token *head = atomic_load_explicit(&cq->returned, memory_order_relaxed);
    do
        last->spare_next = head;
    while (!atomic_compare_exchange_weak_explicit(&cq->returned, &head, first, memory_order_release,
                                                  memory_order_relaxed));
}

void nq_cq_token_free(struct nq_cq_token *t)
{
    t->spare_next = NULL;
    pool_put(t->cq, t, t, 1);
}

/* Sequentially consistent: a taker's bit set and a post's add are ordered,
 * so either the post sees the bit and wakes, or the taker's compare-and-
 * swap (or its futex wait) sees the post's add. */
static void announce(nq_cq *cq)
{
    uint32_t old = atomic_fetch_add(&cq->seq, 2);
    if (old & 1) {
        atomic_fetch_and(&cq->seq, ~(uint32_t)1);
        nq_futex_wake_all(&cq->seq);
    }
}

void nq_cq_complete(void *user, nq_status status)
{
    struct nq_cq_token *t = user;
    nq_cq *cq = t->cq;
    t->ev.result = status;
    nq_mpsc_push(&cq->inbox, &t->ev.node);
    announce(cq);
}

/* Take up to cap queued completions without waiting; how many. */
static size_t take(nq_cq *cq, uint64_t *tags, nq_status *results, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        struct nq_mpsc_node *nodes[NQ_CQ_TAKE_CHUNK];
        size_t want = cap - got < NQ_CQ_TAKE_CHUNK ? cap - got : NQ_CQ_TAKE_CHUNK, k = 0;
        pthread_mutex_lock(&cq->takers);
        while (k < want && (nodes[k] = nq_mpsc_pop(&cq->inbox)))
            k++;
        pthread_mutex_unlock(&cq->takers);
        if (!k)
            break;
        /* popped nodes are no longer touched by the queue: read, then recycle */
        struct nq_cq_token *first = NULL, *last = NULL;
        for (size_t i = 0; i < k; i++) {
            struct nq_cq_token *t = (struct nq_cq_token *)(struct cq_event *)nodes[i];
            if (tags)
                tags[got + i] = t->ev.tag;
            if (results)
                results[got + i] = t->ev.result;
            t->spare_next = NULL;
            if (last)
                last->spare_next = t;
            else
                first = t;
            last = t;
        }
        pool_put(cq, first, last, k);
        got += k;
        if (k < want)
            break;
    }
    return got;
}

/* Wait up to timeout_ms for at least one completion, take up to cap. */
static nq_status wait_take(nq_cq *cq, int64_t timeout_ms, uint64_t *tags, nq_status *results,
                           size_t cap, size_t *n)
{
    struct timespec deadline;
    if (timeout_ms > 0) /* a poll (0) or a wait without limit reads no clock */
        nq_deadline(&deadline, timeout_ms);
    for (int last_look = 0, yielded = 0;;) {
        uint32_t seen = atomic_load(&cq->seq);
        size_t got = take(cq, tags, results, cap);
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
         * ~1.5k with the yield). */
        if (!yielded) {
            yielded = 1;
            sched_yield();
            continue;
        }
        /* Mark that a taker sleeps; if a post came since `seen`, look again. */
        if (!(seen & 1) && !atomic_compare_exchange_strong(&cq->seq, &seen, seen | 1))
            continue;
        nq_futex_wait(&cq->seq, seen | 1, timeout_ms < 0 ? NULL : &deadline);
        if (timeout_ms > 0 && nq_deadline_passed(&deadline))
            last_look = 1;
    }
}

nq_status nq_cq_next(nq_cq *cq, int64_t timeout_ms, uint64_t *tag, nq_status *result)
{
    if (!cq)
        return nq_fail(NQ_EINVAL, "cq: NULL");
    size_t n;
    return wait_take(cq, timeout_ms, tag, result, 1, &n);
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
    return wait_take(cq, timeout_ms, tags, results, cap, n);
}

void nq_cq_shutdown(nq_cq *cq)
{
    if (!cq)
        return;
    atomic_store(&cq->shutdown, 1);
    announce(cq);
}

static void free_chain(struct nq_cq_token *t)
{
    while (t) {
        struct nq_cq_token *next = t->spare_next;
        free(t);
        t = next;
    }
}

void nq_cq_free(nq_cq *cq)
{
    if (!cq)
        return;
    struct nq_mpsc_node *n;
    while ((n = nq_mpsc_pop(&cq->inbox)))
        free((struct nq_cq_token *)(struct cq_event *)n);
    free_chain(cq->cache);
    free_chain(atomic_load(&cq->returned));
    pthread_mutex_destroy(&cq->alloc_mu);
    pthread_mutex_destroy(&cq->takers);
    free(cq);
}
