/* Send budget. The fast path is one atomic add; the mutex is taken only by
 * puts that must wait and by refunds while someone waits. */
#include "core/budget.h"

void nq_budget_init(struct nq_budget *b, uint64_t limit)
{
    atomic_init(&b->used, 0);
    b->limit = limit;
    atomic_init(&b->waiters, 0);
    atomic_init(&b->closed, 0);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
}

void nq_budget_destroy(struct nq_budget *b)
{
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

/* A put that found the budget spent waits until a quarter of it is back,
 * not for the first refund under the limit: a sender that outruns the
 * network then sleeps and wakes once per quarter of the limit instead of
 * once per message (the putter and the I/O thread woke each other for
 * every 64 B message, a futex pair each). */
static uint64_t low_mark(const struct nq_budget *b)
{
    return b->limit - b->limit / 4;
}

int nq_budget_charge(struct nq_budget *b, uint64_t n, int may_wait)
{
    if (b->limit && may_wait && atomic_load(&b->used) >= b->limit) {
        pthread_mutex_lock(&b->mu);
        atomic_fetch_add(&b->waiters, 1);
        /* one message may overshoot: a message bigger than the limit
         * still goes once the queue has drained below it */
        while (atomic_load(&b->used) >= low_mark(b) && !atomic_load(&b->closed))
            pthread_cond_wait(&b->cv, &b->mu);
        atomic_fetch_sub(&b->waiters, 1);
        pthread_mutex_unlock(&b->mu);
        if (atomic_load(&b->closed))
            return -1;
    }
    atomic_fetch_add(&b->used, n);
    return 0;
}

void nq_budget_refund(struct nq_budget *b, uint64_t n)
{
    uint64_t before = atomic_fetch_sub(&b->used, n);
    if (b->limit && atomic_load(&b->waiters) && before >= low_mark(b) &&
        before - n < low_mark(b)) {
        pthread_mutex_lock(&b->mu);
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
    }
}

void nq_budget_close(struct nq_budget *b)
{
    pthread_mutex_lock(&b->mu);
    atomic_store(&b->closed, 1);
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}
