/* Waitable futures: one of the two ways to consume a put's completion
 * without running code on the library's thread (cq.c is the other). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/future_internal.h"
#include "core/msg.h"
#include "core/status.h"
#include "core/timeutil.h"

struct nq_future {
    atomic_int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    nq_status result;
    int is_get;          /* a receive's future (nq_comm_get_future) */
    struct nq_msg *msg;  /* its message until taken (mu) */
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
        nq_msg_free(f->msg);
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

void nq_future_complete_get(void *user, nq_status status, nq_msg *msg)
{
    nq_future *f = user;
    pthread_mutex_lock(&f->mu);
    f->done = 1;
    f->is_get = 1;
    f->result = status;
    f->msg = msg;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    future_unref(f);
}

nq_status nq_future_take_msg(nq_future *f, nq_msg **msg)
{
    if (!f || !msg)
        return nq_fail(NQ_EINVAL, "future: NULL argument");
    pthread_mutex_lock(&f->mu);
    *msg = f->msg;
    f->msg = NULL;
    int done = f->done, is_get = f->is_get;
    nq_status result = f->result;
    pthread_mutex_unlock(&f->mu);
    if (*msg)
        return NQ_OK;
    if (!done)
        return nq_fail(NQ_ESTATE, "future: not complete yet");
    if (!is_get)
        return nq_fail(NQ_ESTATE, "future: a put's future has no message");
    if (result != NQ_OK)
        return nq_fail(NQ_ESTATE, "future: the receive failed (%s)", nq_strerror(result));
    return nq_fail(NQ_ESTATE, "future: its message was already taken");
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

