/* Received messages and the receive queue. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/msg.h"
#include "core/status.h"
#include "core/timeutil.h"
#include <netqueue/value.h>

struct nq_msg *nq_msg_alloc(size_t size)
{
    struct nq_msg *m;
    if (size <= NQ_MSG_INLINE_MAX) {
        m = malloc(sizeof *m + (size ? size : 1));
        if (!m)
            return NULL;
        m->data = m->inline_buf;
        m->cap = size;
    } else {
        m = malloc(sizeof *m);
        if (!m)
            return NULL;
        m->cap = size < NQ_MSG_FIRST_CAP ? size : NQ_MSG_FIRST_CAP;
        m->data = malloc(m->cap);
        if (!m->data) {
            free(m);
            return NULL;
        }
    }
    m->next = m->prev = NULL;
    m->size = size;
    m->have = 0;
    return m;
}

int nq_msg_reserve(struct nq_msg *m, size_t need)
{
    if (need <= m->cap)
        return 0;
    size_t cap = m->cap * 2;
    if (cap < need)
        cap = need;
    if (cap > m->size)
        cap = m->size;
    uint8_t *d = realloc(m->data, cap);
    if (!d)
        return -1;
    m->data = d;
    m->cap = cap;
    return 0;
}

void nq_msg_free(nq_msg *m)
{
    if (!m)
        return;
    if (m->data != m->inline_buf)
        free(m->data);
    free(m);
}

nq_status nq_msg_peer(const nq_msg *m, uint8_t *out)
{
    if (!m || !out)
        return nq_fail(NQ_EINVAL, "msg: NULL argument");
    memcpy(out, m->peer, NQ_ID_SIZE);
    return NQ_OK;
}

const void *nq_msg_data(const nq_msg *m)
{
    return m ? m->data : NULL;
}

size_t nq_msg_size(const nq_msg *m)
{
    return m ? m->size : 0;
}

nq_status nq_msg_value(const nq_msg *m, nq_codec codec, nq_value **out)
{
    if (!m || !out)
        return nq_fail(NQ_EINVAL, "msg: NULL argument");
    switch (codec) {
    case NQ_CODEC_RAW:
        return nq_value_new_bytes(out, m->data, m->size);
    case NQ_CODEC_PICKLE:
        return nq_pickle_load(m->data, m->size, out);
    }
    return nq_fail(NQ_EINVAL, "msg: unknown codec %d", (int)codec);
}

void nq_recvq_init(struct nq_recvq *q, uint64_t limit, nq_queue_policy policy)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    nq_cond_init_monotonic(&q->cv);
    q->limit = limit;
    q->policy = policy;
}

void nq_recvq_destroy(struct nq_recvq *q)
{
    struct nq_msg *m = q->head;
    while (m) {
        struct nq_msg *next = m->next;
        nq_msg_free(m);
        m = next;
    }
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
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
    atomic_fetch_sub_explicit(&q->bytes, m->size, memory_order_relaxed);
}

size_t nq_recvq_push(struct nq_recvq *q, struct nq_msg *m)
{
    size_t dropped = 0;
    pthread_mutex_lock(&q->mu);
    uint64_t bytes = atomic_load_explicit(&q->bytes, memory_order_relaxed);
    if (q->policy == NQ_QUEUE_DROP_NEWEST && q->head && bytes + m->size > q->limit) {
        pthread_mutex_unlock(&q->mu);
        nq_msg_free(m);
        return 1;
    }
    if (q->policy == NQ_QUEUE_DROP_OLDEST) {
        while (q->head && atomic_load_explicit(&q->bytes, memory_order_relaxed) + m->size > q->limit) {
            struct nq_msg *old = q->head;
            unlink_msg(q, old);
            nq_msg_free(old);
            dropped++;
        }
    }
    m->next = NULL;
    m->prev = q->tail;
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    atomic_fetch_add_explicit(&q->bytes, m->size, memory_order_relaxed);
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return dropped;
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
    int closed = 0;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        for (m = q->head; m && !peer_wanted(m, peers, npeers); m = m->next)
            ;
        if (m) {
            unlink_msg(q, m);
            break;
        }
        if (q->closed) {
            closed = 1;
            break;
        }
        if (timeout_ms == 0)
            break;
        if (timeout_ms < 0)
            pthread_cond_wait(&q->cv, &q->mu);
        else if (pthread_cond_timedwait(&q->cv, &q->mu, &deadline) == ETIMEDOUT)
            timeout_ms = 0; /* one last look, then give up */
    }
    pthread_mutex_unlock(&q->mu);
    if (!m)
        return closed ? nq_fail(NQ_ECLOSED, "get: communicator closed and drained")
                      : nq_fail(NQ_ETIMEDOUT, "get: no message within the timeout");
    if (atomic_load_explicit(&q->paused, memory_order_acquire) &&
        atomic_load_explicit(&q->bytes, memory_order_relaxed) <= q->limit / 2 &&
        atomic_exchange(&q->paused, 0) && q->resume)
        q->resume(q->resume_arg);
    *out = m;
    return NQ_OK;
}

void nq_recvq_close(struct nq_recvq *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}
