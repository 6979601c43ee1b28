/* Completion queues. Posting is lock-free (the I/O threads of any number of
 * communicators may share a queue), so a put's completion costs the I/O
 * thread an atomic exchange and, only when someone sleeps, a futex wake.
 * Takers share a lock among themselves. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "core/futex.h"
#include "core/future_internal.h"
#include "core/mpsc.h"
#include "core/status.h"
#include "core/timeutil.h"

struct cq_event {
    struct nq_mpsc_node node; /* first: the queue links through it */
    uint64_t tag;
    nq_status result;
};

struct nq_cq {
    struct nq_mpsc inbox;
    pthread_mutex_t takers;
    _Atomic uint32_t seq; /* bumped by every post and by shutdown */
    atomic_int sleepers;
    atomic_int shutdown;
};

/* The token given to a put: pre-allocated so completion never allocates;
 * its event is what gets posted. */
struct nq_cq_token {
    struct cq_event ev;
    nq_cq *cq;
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
    *out = cq;
    return NQ_OK;
}

nq_status nq_cq_token_new(struct nq_cq_token **out, nq_cq *cq, uint64_t tag)
{
    struct nq_cq_token *t = calloc(1, sizeof *t);
    if (!t)
        return nq_fail(NQ_ENOMEM, "cq: out of memory");
    t->cq = cq;
    t->ev.tag = tag;
    *out = t;
    return NQ_OK;
}

void nq_cq_token_free(struct nq_cq_token *t)
{
    free(t);
}

/* Sequentially consistent: see recvq.c's announce for why. */
static void announce(nq_cq *cq)
{
    atomic_fetch_add(&cq->seq, 1);
    if (atomic_load(&cq->sleepers))
        nq_futex_wake_all(&cq->seq);
}

void nq_cq_complete(void *user, nq_status status)
{
    struct nq_cq_token *t = user;
    nq_cq *cq = t->cq;
    t->ev.result = status;
    nq_mpsc_push(&cq->inbox, &t->ev.node);
    announce(cq);
}

nq_status nq_cq_next(nq_cq *cq, int64_t timeout_ms, uint64_t *tag, nq_status *result)
{
    if (!cq)
        return nq_fail(NQ_EINVAL, "cq: NULL");
    struct timespec deadline;
    if (timeout_ms > 0) /* a drain polls with 0 once per completion: no clock read */
        nq_deadline(&deadline, timeout_ms);
    for (int last_look = 0, yielded = 0;;) {
        uint32_t seen = atomic_load(&cq->seq);
        pthread_mutex_lock(&cq->takers);
        struct nq_mpsc_node *n = nq_mpsc_pop(&cq->inbox);
        pthread_mutex_unlock(&cq->takers);
        if (n) {
            struct cq_event *ev = (struct cq_event *)n;
            if (tag)
                *tag = ev->tag;
            if (result)
                *result = ev->result;
            free((struct nq_cq_token *)ev);
            return NQ_OK;
        }
        if (atomic_load(&cq->shutdown))
            return NQ_ECLOSED;
        if (timeout_ms == 0 || last_look)
            return NQ_ETIMEDOUT;
        /* Before the first sleep, give the CPU away once and look again: a
         * drainer asleep here costs the I/O thread a futex wake for nearly
         * every completion (237k futex calls and 54k context switches for
         * 200k puts of 64 B, ~1.5k with the yield: half the put rate of the
         * callback API without it). */
        if (!yielded) {
            yielded = 1;
            sched_yield();
            continue;
        }
        atomic_fetch_add(&cq->sleepers, 1);
        nq_futex_wait(&cq->seq, seen, timeout_ms < 0 ? NULL : &deadline);
        atomic_fetch_sub(&cq->sleepers, 1);
        if (timeout_ms > 0 && nq_deadline_passed(&deadline))
            last_look = 1;
    }
}

void nq_cq_shutdown(nq_cq *cq)
{
    if (!cq)
        return;
    atomic_store(&cq->shutdown, 1);
    announce(cq);
}

void nq_cq_free(nq_cq *cq)
{
    if (!cq)
        return;
    struct nq_mpsc_node *n;
    while ((n = nq_mpsc_pop(&cq->inbox)))
        free((struct nq_cq_token *)(struct cq_event *)n);
    pthread_mutex_destroy(&cq->takers);
    free(cq);
}
