/* Internal: received messages, and the queue get() takes them from. */
#ifndef NQ_CORE_MSG_H
#define NQ_CORE_MSG_H

#include <pthread.h>
#include <stdatomic.h>
#include <netqueue/comm.h>

struct nq_msg {
    struct nq_msg *next;
    struct nq_msg *prev;
    uint8_t peer[NQ_ID_SIZE];
    size_t size; /* payload bytes declared by the frame */
    size_t have; /* bytes received so far */
    size_t cap;  /* bytes allocated at data */
    uint8_t *data;
    uint8_t inline_buf[]; /* small payloads live here, one allocation */
};

/* Payloads up to this size are stored inline and allocated at once. */
#define NQ_MSG_INLINE_MAX (64u * 1024u)
/* A bigger declared size is not trusted: the buffer grows as bytes come. */
#define NQ_MSG_FIRST_CAP (8u << 20)

struct nq_msg *nq_msg_alloc(size_t size);
/* Make room for at least `need` received bytes; -1 if out of memory. */
int nq_msg_reserve(struct nq_msg *m, size_t need);

struct nq_recvq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct nq_msg *head, *tail;
    _Atomic uint64_t bytes;
    uint64_t limit;
    nq_queue_policy policy;
    int closed;
    atomic_int paused;       /* the I/O thread stopped reading: resume below limit/2 */
    void (*resume)(void *);  /* called (any thread) to wake the I/O thread */
    void *resume_arg;
};

void nq_recvq_init(struct nq_recvq *q, uint64_t limit, nq_queue_policy policy);
void nq_recvq_destroy(struct nq_recvq *q);
/* I/O thread: append a message; returns how many messages were dropped. */
size_t nq_recvq_push(struct nq_recvq *q, struct nq_msg *m);
/* 1 when the queue is over its limit (the I/O thread should stop reading). */
int nq_recvq_full(struct nq_recvq *q);
nq_status nq_recvq_get(struct nq_recvq *q, const uint8_t *peers, size_t npeers,
                       int64_t timeout_ms, struct nq_msg **out);
/* No more messages will come: waiting gets return NQ_ECLOSED once drained. */
void nq_recvq_close(struct nq_recvq *q);

#endif
