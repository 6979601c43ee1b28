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
#include <netqueue/receive.h>

#include "core/mpsc.h"

struct nq_msg;

/* How a receive completes (nq_recv_op.form). */
enum nq_recv_form { NQ_RECV_BLOCKING, NQ_RECV_CALLBACK, NQ_RECV_FUTURE, NQ_RECV_CQ };

/* A receiver waiting for a message: a blocking get asleep (on its stack)
 * or an asynchronous receive (malloc'd with its peer filter). Waiting
 * receivers form one FIFO list under the getters' lock; a message goes to
 * the oldest one whose filter accepts it (dispatch in recvq.c). */
struct nq_recv_op {
    struct nq_mpsc_node node;        /* on the done list: callbacks for the I/O thread */
    struct nq_recv_op *next, *prev;  /* waiting list (getters) */
    uint64_t id;
    enum nq_recv_form form;
    int bound;                       /* blocking: dispatch gave it msg (getters) */
    const uint8_t *peers;
    size_t npeers;
    unsigned kinds;                  /* NQ_KIND_BIT mask of what it accepts */
    int64_t deadline_ns;             /* INT64_MAX: none */
    struct nq_msg *msg;
    nq_status st;
    nq_get_fn fn;                    /* the completion: user's callback, or the */
    void *user;                      /* future's / cq token's adapter */
    uint8_t peer_buf[];
};

/* One delivering thread's side of the queue: a multi-loop server's I/O
 * threads push into one queue, each with its own batch state and counts,
 * so that delivery stays free of shared writes beyond the inbox itself. */
struct nq_recvq_src {
    uint64_t in_msgs, in_bytes;  /* statistics: pushed */
    int batch, batch_pushed;     /* pushes of one read, getters woken at its end
                                    (nq_recvq_batch_begin/_end) */
    struct nq_recvq_src *next;   /* the queue's other sources (set before any push) */
};

struct nq_recvq {
    struct nq_mpsc inbox;        /* I/O threads -> getters */
    struct nq_recvq_src own;     /* the first (or only) I/O thread's side; further
                                    ones are chained from own.next */
    pthread_mutex_t getters;     /* getters only; the I/O thread never waits on it
                                    (except for the opt-in drop policies, and to
                                    hand arrivals to waiting async receives) */
    struct nq_msg *head, *tail;  /* arrived, in order (under getters) */
    struct nq_msg *checked;      /* getters: up to here, refused by every waiting
                                    receiver (dispatch in recvq.c); NULL: none */
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

    /* receivers (recvq.c "Receivers") */
    struct nq_recv_op *wait_head, *wait_tail; /* getters */
    atomic_int async_n;          /* asynchronous receives waiting: the I/O thread
                                    dispatches arrivals itself only when > 0 */
    _Atomic uint64_t next_op;
    struct nq_mpsc done;         /* callback completions decided off the I/O thread */
    int finished;                /* getters: close completed the async receives */
    int (*on_io)(void *);        /* is this the I/O thread? (resume_arg) */
    void (*notify)(void *);      /* wake the I/O thread: done list, deadline (resume_arg) */
    int64_t armed_ns;            /* getters: the deadline the I/O thread's timer is set for */
    atomic_int rearm;            /* an earlier deadline came: the I/O thread resets its timer */

    /* readiness descriptor (nq_comm_fd): created on demand */
    atomic_int fd_on;
    pthread_mutex_t fd_mu;
    int efd;
    int fd_state;                /* fd_mu: the eventfd is readable */
};

void nq_recvq_init(struct nq_recvq *q, uint64_t limit, nq_queue_policy policy);
void nq_recvq_destroy(struct nq_recvq *q);
/* Before any push: another I/O thread delivers into q through src. */
void nq_recvq_add_src(struct nq_recvq *q, struct nq_recvq_src *src);
/* I/O thread (its src): append a message; returns how many messages were
 * dropped. */
size_t nq_recvq_push_from(struct nq_recvq *q, struct nq_recvq_src *src, struct nq_msg *m);
/* I/O thread (its src): pushes between these wake sleeping getters once, at
 * the end, rather than at each message (the frames of one read). Nest. */
void nq_recvq_batch_begin(struct nq_recvq_src *src);
void nq_recvq_batch_end(struct nq_recvq *q, struct nq_recvq_src *src);
/* The single-thread forms: through q->own. */
static inline size_t nq_recvq_push(struct nq_recvq *q, struct nq_msg *m)
{
    return nq_recvq_push_from(q, &q->own, m);
}
/* 1 when the queue is over its limit (the I/O thread should stop reading). */
int nq_recvq_full(struct nq_recvq *q);
/* I/O thread, after delivering: when the queue is full, mark reading paused
 * (a get below half the limit resumes it through q->resume). Returns 1 if
 * reading must stop now; 0 if the queue is not full, or a get drained it
 * meanwhile. The only correct way to pause: see recvq.c. */
int nq_recvq_pause_if_full(struct nq_recvq *q);
/* Its second half, after the queue was seen full (separate for the tests). */
int nq_recvq_pause(struct nq_recvq *q);
/* kinds: NQ_KIND_BIT mask of the message kinds wanted (NQ_KINDS_ALL). */
nq_status nq_recvq_get(struct nq_recvq *q, unsigned kinds, const uint8_t *peers, size_t npeers,
                       int64_t timeout_ms, struct nq_msg **out);
/* Take up to max more messages already queued that the filter accepts,
 * without waiting, in queue order (after serving waiting receivers).
 * Returns how many went to out. */
size_t nq_recvq_get_more(struct nq_recvq *q, unsigned kinds, const uint8_t *peers,
                         size_t npeers, struct nq_msg **out, size_t max);
/* Messages queued and their payload bytes: of every peer (peer NULL) or of
 * one. The caller keeps the I/O threads still (io_mu, or on it); this takes
 * the getters' lock. Of every peer it is two subtractions; of one peer, a
 * walk of the queue (a statistics call, not the message path). */
void nq_recvq_held(struct nq_recvq *q, const uint8_t *peer, uint64_t *msgs, uint64_t *bytes);
/* No more messages will come: waiting gets return NQ_ECLOSED once drained. */
void nq_recvq_close(struct nq_recvq *q);

/* An asynchronous receive (form not BLOCKING): fn(user, st, msg) runs
 * once. *id is set before fn can run. A callback (form CALLBACK) decided
 * on another thread than the I/O thread is run by the I/O thread
 * (nq_recvq_run_done). Errors: NQ_ENOMEM; NQ_ECLOSED for a callback after
 * nq_recvq_finish (nothing runs then). */
nq_status nq_recvq_get_async(struct nq_recvq *q, enum nq_recv_form form, unsigned kinds,
                             const uint8_t *peers, size_t npeers, int64_t timeout_ms,
                             nq_get_fn fn, void *user, uint64_t *id);
/* NQ_OK: op id completes with NQ_ECANCELED; NQ_ESTATE: too late. */
nq_status nq_recvq_cancel(struct nq_recvq *q, uint64_t id);
/* I/O thread: run the callbacks other threads decided. */
void nq_recvq_run_done(struct nq_recvq *q);
/* I/O thread: time out receives past their deadline; the next deadline
 * (ns, nq_now_ns clock) or INT64_MAX. */
int64_t nq_recvq_expire(struct nq_recvq *q);
/* After close, the I/O thread gone (calling thread stands in for it): give
 * queued messages to waiting async receives, complete the rest with
 * NQ_ECLOSED, run every callback left. */
void nq_recvq_finish(struct nq_recvq *q);
/* The readiness descriptor, created on first use. -1 if none. */
int nq_recvq_fd(struct nq_recvq *q);
/* A peer event for the queue (nq_msg_kind), NULL if out of memory. */
struct nq_msg *nq_msg_event(nq_msg_kind kind, const uint8_t *peer, const char *detail);

#endif
