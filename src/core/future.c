/* Waitable futures and completion queues: the two ways to consume a put's
 * completion without running code on the library's thread. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/future_internal.h"
#include "core/status.h"
#include "core/timeutil.h"

struct nq_future {
    atomic_int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    nq_status result;
};

struct cq_event {
    struct cq_event *next;
    uint64_t tag;
    nq_status result;
};

struct nq_cq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct cq_event *head, *tail;
    int shutdown;
};

/* The token given to a put: pre-allocated so completion never allocates. */
struct nq_cq_token {
    struct cq_event ev;
    nq_cq *cq;
};

nq_status nq_future_create(nq_future **out)
{
    nq_future *f = calloc(1, sizeof *f);
    if (!f)
        return nq_fail(NQ_ENOMEM, "future: out of memory");
    atomic_init(&f->refs, 2); /* the caller's and the pending put's */
    pthread_mutex_init(&f->mu, NULL);
    nq_cond_init_monotonic(&f->cv);
    *out = f;
    return NQ_OK;
}

static void future_unref(nq_future *f)
{
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) {
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        free(f);
    }
}

void nq_future_complete(void *user, nq_status status)
{
    nq_future *f = user;
    pthread_mutex_lock(&f->mu);
    f->done = 1;
    f->result = status;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    future_unref(f);
}

void nq_future_abandon(nq_future *f)
{
    /* the put failed synchronously: drop the put's reference and the caller's */
    future_unref(f);
    future_unref(f);
}

nq_status nq_future_wait(nq_future *f, int64_t timeout_ms, nq_status *result)
{
    if (!f)
        return nq_fail(NQ_EINVAL, "future: NULL");
    struct timespec deadline;
    nq_deadline(&deadline, timeout_ms);
    pthread_mutex_lock(&f->mu);
    while (!f->done) {
        if (timeout_ms == 0)
            break;
        if (timeout_ms < 0)
            pthread_cond_wait(&f->cv, &f->mu);
        else if (pthread_cond_timedwait(&f->cv, &f->mu, &deadline) == ETIMEDOUT)
            break;
    }
    int done = f->done;
    if (done && result)
        *result = f->result;
    pthread_mutex_unlock(&f->mu);
    return done ? NQ_OK : NQ_ETIMEDOUT;
}

int nq_future_done(const nq_future *cf)
{
    nq_future *f = (nq_future *)cf;
    if (!f)
        return 0;
    pthread_mutex_lock(&f->mu);
    int done = f->done;
    pthread_mutex_unlock(&f->mu);
    return done;
}

void nq_future_free(nq_future *f)
{
    if (f)
        future_unref(f);
}

nq_status nq_cq_new(nq_cq **out)
{
    if (!out)
        return nq_fail(NQ_EINVAL, "cq: out is NULL");
    nq_cq *cq = calloc(1, sizeof *cq);
    if (!cq)
        return nq_fail(NQ_ENOMEM, "cq: out of memory");
    pthread_mutex_init(&cq->mu, NULL);
    nq_cond_init_monotonic(&cq->cv);
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

void nq_cq_complete(void *user, nq_status status)
{
    struct nq_cq_token *t = user;
    nq_cq *cq = t->cq;
    /* the token's event is the token itself (first member): no allocation */
    struct cq_event *ev = &t->ev;
    ev->result = status;
    ev->next = NULL;
    pthread_mutex_lock(&cq->mu);
    if (cq->tail)
        cq->tail->next = ev;
    else
        cq->head = ev;
    cq->tail = ev;
    pthread_cond_signal(&cq->cv);
    pthread_mutex_unlock(&cq->mu);
}

nq_status nq_cq_next(nq_cq *cq, int64_t timeout_ms, uint64_t *tag, nq_status *result)
{
    if (!cq)
        return nq_fail(NQ_EINVAL, "cq: NULL");
    struct timespec deadline;
    nq_deadline(&deadline, timeout_ms);
    pthread_mutex_lock(&cq->mu);
    while (!cq->head && !cq->shutdown && timeout_ms != 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&cq->cv, &cq->mu);
        else if (pthread_cond_timedwait(&cq->cv, &cq->mu, &deadline) == ETIMEDOUT)
            break;
    }
    struct cq_event *ev = cq->head;
    if (ev) {
        cq->head = ev->next;
        if (!cq->head)
            cq->tail = NULL;
    }
    int shut = cq->shutdown;
    pthread_mutex_unlock(&cq->mu);
    if (!ev)
        return shut ? NQ_ECLOSED : NQ_ETIMEDOUT;
    if (tag)
        *tag = ev->tag;
    if (result)
        *result = ev->result;
    free((struct nq_cq_token *)ev);
    return NQ_OK;
}

void nq_cq_shutdown(nq_cq *cq)
{
    if (!cq)
        return;
    pthread_mutex_lock(&cq->mu);
    cq->shutdown = 1;
    pthread_cond_broadcast(&cq->cv);
    pthread_mutex_unlock(&cq->mu);
}

void nq_cq_free(nq_cq *cq)
{
    if (!cq)
        return;
    struct cq_event *ev = cq->head;
    while (ev) {
        struct cq_event *next = ev->next;
        free((struct nq_cq_token *)ev);
        ev = next;
    }
    pthread_cond_destroy(&cq->cv);
    pthread_mutex_destroy(&cq->mu);
    free(cq);
}
