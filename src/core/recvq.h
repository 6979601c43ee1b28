/* Internal: the receive queue get() takes messages from.
 *
 * The I/O thread delivers without a lock: it pushes onto a lock-free queue
 * and bumps a futex word. Getters share a lock among themselves only (to
 * move arrivals into the ordered list and pick by peer), and sleep on the
 * futex word when nothing they want is there. */
#ifndef NQ_CORE_RECVQ_H
#define NQ_CORE_RECVQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <netqueue/comm.h>

#include "core/mpsc.h"

struct nq_msg;

struct nq_recvq {
    struct nq_mpsc inbox;        /* I/O thread -> getters */
    uint64_t in_msgs, in_bytes;  /* statistics: pushed (I/O thread, beside the
                                    inbox end it writes anyway) */
    pthread_mutex_t getters;     /* getters only; the I/O thread never waits on it
                                    (except for the opt-in drop policies) */
    struct nq_msg *head, *tail;  /* arrived, in order (under getters) */
    uint64_t out_msgs, out_bytes; /* statistics: got or dropped (under getters,
                                     beside head and tail); in - out is queued */
    _Atomic uint32_t seq;        /* bumped by every push and by close: futex word */
    atomic_int sleepers;
    atomic_int closed;
    _Atomic uint64_t bytes;
    uint64_t limit;
    nq_queue_policy policy;
    atomic_int paused;           /* the I/O thread stopped reading: resume below limit/2 */
    void (*resume)(void *);      /* called (any thread) to wake the I/O thread */
    void *resume_arg;
};

void nq_recvq_init(struct nq_recvq *q, uint64_t limit, nq_queue_policy policy);
void nq_recvq_destroy(struct nq_recvq *q);
/* I/O thread: append a message; returns how many messages were dropped. */
size_t nq_recvq_push(struct nq_recvq *q, struct nq_msg *m);
/* 1 when the queue is over its limit (the I/O thread should stop reading). */
int nq_recvq_full(struct nq_recvq *q);
/* I/O thread, after delivering: when the queue is full, mark reading paused
 * (a get below half the limit resumes it through q->resume). Returns 1 if
 * reading must stop now; 0 if the queue is not full, or a get drained it
 * meanwhile. The only correct way to pause: see recvq.c. */
int nq_recvq_pause_if_full(struct nq_recvq *q);
/* Its second half, after the queue was seen full (separate for the tests). */
int nq_recvq_pause(struct nq_recvq *q);
nq_status nq_recvq_get(struct nq_recvq *q, const uint8_t *peers, size_t npeers,
                       int64_t timeout_ms, struct nq_msg **out);
/* Messages queued and their payload bytes: of every peer (peer NULL) or of
 * one. The caller keeps the I/O thread still (io_mu, or on it); this takes
 * the getters' lock. Of every peer it is two subtractions; of one peer, a
 * walk of the queue (a statistics call, not the message path). */
void nq_recvq_held(struct nq_recvq *q, const uint8_t *peer, uint64_t *msgs, uint64_t *bytes);
/* No more messages will come: waiting gets return NQ_ECLOSED once drained. */
void nq_recvq_close(struct nq_recvq *q);

#endif
