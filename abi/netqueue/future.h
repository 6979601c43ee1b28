/**
 * @file
 * netqueue — completions of puts: callbacks, waitable futures, completion
 * queues.
 *
 * Every put completes exactly once with a status: NQ_OK when its bytes were
 * handed to the transport for every target peer (the data is then safe to
 * reuse), NQ_ERESET / NQ_ENOPEER when a peer went away, NQ_ECANCELED when
 * the communicator was closed first. A put call that fails synchronously
 * (returns an error) completes nothing.
 *
 * Three ways to consume a completion, same semantics:
 *  - a callback nq_done_fn, run on the library's I/O thread with no lock
 *    held (it must not block);
 *  - a waitable nq_future, for callers that block (nq_comm_put_future);
 *  - an nq_cq completion queue drained by the caller's own thread with a
 *    deadline (nq_comm_put_cq), so that a language runtime never sees a
 *    call from a thread it does not know.
 */
#ifndef NETQUEUE_FUTURE_H
#define NETQUEUE_FUTURE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Completion callback: user is what was given with it. */
typedef void (*nq_done_fn)(void *user, nq_status status);

/** A waitable completion of one put (opaque; nq_comm_put_future). */
typedef struct nq_future nq_future;
/** A completion queue drained by the caller's thread (opaque; nq_comm_put_cq). */
typedef struct nq_cq nq_cq;

/**
 * Wait until the future completes or timeout_ms passes (NQ_FOREVER waits,
 * 0 polls). Returns NQ_OK and the put's status in *result when complete,
 * NQ_ETIMEDOUT otherwise. Any thread; several may wait at once.
 */
NQ_API nq_status nq_future_wait(nq_future *future, int64_t timeout_ms, nq_status *result);

/** 1 when complete, else 0. */
NQ_API int nq_future_done(const nq_future *future);

/**
 * Drop the caller's reference. Safe before completion: the library keeps
 * its own until it completes. NULL is ignored.
 */
NQ_API void nq_future_free(nq_future *future);

/** New completion queue. Errors: NQ_EINVAL, NQ_ENOMEM. */
NQ_API nq_status nq_cq_new(nq_cq **out);

/**
 * Take the next completion: its tag (as given to the put) and status.
 * Waits up to timeout_ms (NQ_FOREVER, 0 polls); NQ_ETIMEDOUT if none came,
 * NQ_ECLOSED after nq_cq_shutdown() once drained. Any thread.
 */
NQ_API nq_status nq_cq_next(nq_cq *cq, int64_t timeout_ms, uint64_t *tag, nq_status *result);

/** Wake every waiter of nq_cq_next(); later calls drain, then NQ_ECLOSED. */
NQ_API void nq_cq_shutdown(nq_cq *cq);

/**
 * Free a completion queue. Every communicator that was given it must be
 * freed first (their pending puts then have completed into it).
 */
NQ_API void nq_cq_free(nq_cq *cq);

/**
 * Take many completions at once: wait up to timeout_ms (NQ_FOREVER waits,
 * 0 polls) for at least one, then take every completion already queued, up
 * to cap, in the order they came. Entry i of tags / results gets the i-th
 * one's tag (as given to the put) and status; either array may be NULL if
 * not wanted, else it has room for cap entries. *n is how many were taken
 * (0 unless NQ_OK is returned).
 *
 * One lock round per up to 64 completions and no clock read for a poll or
 * a wait without limit: a drain loop calling it costs far less per
 * completion than one calling nq_cq_next for each.
 *
 * Returns NQ_OK (*n >= 1), NQ_ETIMEDOUT if none came in time, NQ_ECLOSED
 * after nq_cq_shutdown() once drained, NQ_EINVAL if cq or n is NULL or cap
 * is 0. Any thread; several takers may share a queue (each completion goes
 * to exactly one), and may mix this with nq_cq_next.
 */
NQ_API nq_status nq_cq_next_batch(nq_cq *cq, int64_t timeout_ms, uint64_t *tags,
                                  nq_status *results, size_t cap, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
