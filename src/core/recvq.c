/* The receive queue: lock-free delivery, futex wake-ups. */
#include <string.h>

#include "core/futex.h"
#include "core/msg.h"
#include "core/status.h"
#include "core/timeutil.h"

void nq_recvq_init(struct nq_recvq *q, uint64_t limit, nq_queue_policy policy)
{
    memset(q, 0, sizeof *q);
    nq_mpsc_init(&q->inbox);
    pthread_mutex_init(&q->getters, NULL);
    q->limit = limit;
    q->policy = policy;
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
    pthread_mutex_destroy(&q->getters);
}

static void unlink_msg(struct nq_recvq *q, struct nq_msg *m)
{
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

size_t nq_recvq_push(struct nq_recvq *q, struct nq_msg *m)
{
    size_t dropped = 0;
    if (q->policy != NQ_QUEUE_BLOCK && atomic_load(&q->bytes) + cost(m) > q->limit) {
        dropped = make_room(q, m);
        if (dropped == SIZE_MAX)
            return 1; /* the new message was the one dropped */
    }
    atomic_fetch_add_explicit(&q->bytes, cost(m), memory_order_relaxed);
    q->in_msgs++;
    q->in_bytes += m->size;
    nq_mpsc_push(&q->inbox, &m->node);
    announce(q);
    return dropped;
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

static int peer_wanted(const struct nq_msg *m, const uint8_t *peers, size_t npeers)
{
    if (npeers == 0)
        return 1;
    for (size_t i = 0; i < npeers; i++)
        if (memcmp(m->peer, peers + i * NQ_ID_SIZE, NQ_ID_SIZE) == 0)
            return 1;
    return 0;
}

nq_status nq_recvq_get(struct nq_recvq *q, const uint8_t *peers, size_t npeers,
                       int64_t timeout_ms, struct nq_msg **out)
{
    struct timespec deadline;
    nq_deadline(&deadline, timeout_ms);
    struct nq_msg *m = NULL;
    for (int last_look = 0;;) {
        /* read the word first: a push after this read changes it, so the
         * wait below cannot miss that push */
        uint32_t seen = atomic_load_explicit(&q->seq, memory_order_acquire);
        pthread_mutex_lock(&q->getters);
        take_arrivals(q);
        for (m = q->head; m && !peer_wanted(m, peers, npeers); m = m->next)
            ;
        if (m)
            unlink_msg(q, m);
        pthread_mutex_unlock(&q->getters);
        if (m)
            break;
        if (atomic_load(&q->closed))
            return nq_fail(NQ_ECLOSED, "get: communicator closed and drained");
        if (timeout_ms == 0 || last_look)
            return nq_fail(NQ_ETIMEDOUT, "get: no message within the timeout");
        atomic_fetch_add(&q->sleepers, 1);
        nq_futex_wait(&q->seq, seen, timeout_ms < 0 ? NULL : &deadline);
        atomic_fetch_sub(&q->sleepers, 1);
        if (timeout_ms > 0 && nq_deadline_passed(&deadline))
            last_look = 1;
    }
    if (atomic_load(&q->paused) && atomic_load(&q->bytes) <= q->limit / 2 &&
        atomic_exchange(&q->paused, 0) && q->resume)
        q->resume(q->resume_arg);
    *out = m;
    return NQ_OK;
}

void nq_recvq_held(struct nq_recvq *q, const uint8_t *peer, uint64_t *msgs, uint64_t *bytes)
{
    pthread_mutex_lock(&q->getters);
    if (!peer) {
        *msgs = q->in_msgs - q->out_msgs;
        *bytes = q->in_bytes - q->out_bytes;
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
}
