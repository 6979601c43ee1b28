/* Internal: the opt-in bound on bytes handed to put and not yet written
 * (nq_options_set_send_limit). Puts charge it, completed puts refund it;
 * a put over the bound waits, off the hot path, until refunds bring the
 * total back under it. */
#ifndef NQ_CORE_BUDGET_H
#define NQ_CORE_BUDGET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct nq_budget {
    _Atomic uint64_t used;
    uint64_t limit; /* 0: unbounded */
    atomic_int waiters;
    atomic_int closed;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

void nq_budget_init(struct nq_budget *b, uint64_t limit);
void nq_budget_destroy(struct nq_budget *b);
/* Charge n bytes, waiting while the budget is spent. Returns -1 when the
 * budget was closed meanwhile (nothing charged). */
int nq_budget_charge(struct nq_budget *b, uint64_t n, int may_wait);
void nq_budget_refund(struct nq_budget *b, uint64_t n);
/* Wake every waiter for good (close). */
void nq_budget_close(struct nq_budget *b);

#endif
