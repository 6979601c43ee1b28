/* Intrusive lock-free multi-producer single-consumer queue (Vyukov's).
 * Producers (application threads) never wait for each other or for the
 * consumer (the I/O thread); that keeps put off any lock. */
#ifndef NQ_CORE_MPSC_H
#define NQ_CORE_MPSC_H

#include <stdatomic.h>
#include <stddef.h>

struct nq_mpsc_node {
    _Atomic(struct nq_mpsc_node *) next;
};

struct nq_mpsc {
    _Atomic(struct nq_mpsc_node *) head; /* producers swap here */
    struct nq_mpsc_node *tail;           /* consumer reads here */
    struct nq_mpsc_node stub;
};

/* The algorithm over the queue's three parts, for a queue laid out
 * otherwise (src/core/cq.c puts its two ends on separate cache lines). */
static inline void nq_mpsc_init_at(_Atomic(struct nq_mpsc_node *) *head,
                                   struct nq_mpsc_node **tailp, struct nq_mpsc_node *stub)
{
    atomic_store_explicit(&stub->next, NULL, memory_order_relaxed);
    atomic_store_explicit(head, stub, memory_order_relaxed);
    *tailp = stub;
}

static inline void nq_mpsc_push_at(_Atomic(struct nq_mpsc_node *) *head, struct nq_mpsc_node *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    struct nq_mpsc_node *prev = atomic_exchange_explicit(head, n, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

static inline struct nq_mpsc_node *nq_mpsc_pop_at(_Atomic(struct nq_mpsc_node *) *head,
                                                  struct nq_mpsc_node **tailp,
                                                  struct nq_mpsc_node *stub)
{
    struct nq_mpsc_node *tail = *tailp;
    struct nq_mpsc_node *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == stub) {
        if (!next)
            return NULL;
        *tailp = next;
        tail = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next) {
        *tailp = next;
        return tail;
    }
    if (tail != atomic_load_explicit(head, memory_order_acquire))
        return NULL;
    nq_mpsc_push_at(head, stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next) {
        *tailp = next;
        return tail;
    }
    return NULL;
}

static inline void nq_mpsc_init(struct nq_mpsc *q)
{
    nq_mpsc_init_at(&q->head, &q->tail, &q->stub);
}

static inline void nq_mpsc_push(struct nq_mpsc *q, struct nq_mpsc_node *n)
{
    nq_mpsc_push_at(&q->head, n);
}

/* Consumer only. NULL when empty or when a producer is between its two
 * steps; the producer's ev_async wake-up comes after, so it is seen then. */
static inline struct nq_mpsc_node *nq_mpsc_pop(struct nq_mpsc *q)
{
    return nq_mpsc_pop_at(&q->head, &q->tail, &q->stub);
}

/* Consumer only: nothing queued and no producer mid-push. */
static inline int nq_mpsc_empty(struct nq_mpsc *q)
{
    return q->tail == &q->stub &&
           atomic_load_explicit(&q->stub.next, memory_order_acquire) == NULL &&
           atomic_load_explicit(&q->head, memory_order_acquire) == &q->stub;
}

#endif
