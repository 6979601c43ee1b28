/**
 * @file
 * netqueue — asynchronous receive, the readiness descriptor and peer
 * events (added in ABI 1.2).
 *
 * A receive can complete in the three ways a put can (future.h): a
 * callback, a waitable future, or a completion queue. Every form takes the
 * same peer filter and deadline as nq_comm_get(), and returns an operation
 * id that nq_comm_get_cancel() accepts.
 *
 * Order: pending asynchronous receives and blocking nq_comm_get() calls
 * form one queue of receivers, served first come, first served. Each
 * message goes to the oldest pending receiver whose peer filter accepts
 * it; a message nobody wants yet stays queued. Messages of one peer are
 * handed out in the order that peer sent them.
 *
 * Every asynchronous receive completes exactly once: NQ_OK with a message
 * (which the completion then owns), NQ_ETIMEDOUT when its deadline passed,
 * NQ_ECANCELED when cancelled, NQ_ECLOSED when the communicator was closed
 * and no queued message was left for it. A receive that is not complete
 * holds no message: cancelling it never loses one.
 *
 * Peer events (connected, finished, lost, expired, refused) are opt-in
 * (nq_options_set_events()); when enabled they are queued as messages of
 * their own kind (nq_msg_kind()), in order with the data messages of the
 * same peer, and are received by every form above and by nq_comm_get().
 *
 * Since 1.3 every form has a variant that takes a kinds mask
 * (nq_comm_get_kinds*): a receive that accepts only data (NQ_KINDS_DATA)
 * or only events (NQ_KINDS_EVENTS). Together they let events go to a
 * listener of their own, always pending, while data goes to the
 * application's gets: receivers that refuse a message are passed over as
 * peer filters are, and it waits for one that accepts it. Events taken
 * apart from data are in order among themselves; a FINISHED event may
 * then be seen before that peer's last data is got.
 */
#ifndef NETQUEUE_RECEIVE_H
#define NETQUEUE_RECEIVE_H

#include "common.h"
#include "comm.h"
#include "future.h"
#include "options.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * What a received message is: data from a peer, or a peer event. The
 * numbers are stable; new kinds may be added (treat unknown ones as
 * events to ignore).
 */
typedef enum nq_msg_kind {
    NQ_MSG_DATA = 0,        /**< a message a peer put */
    /** The peer's ini arrived: its session (re)starts on a new connection.
     * Comes before that connection's first message. */
    NQ_EVENT_CONNECTED = 1,
    /** The peer's fin arrived: the session ended cleanly (our fin answers
     * it). Comes after the peer's last message. */
    NQ_EVENT_FINISHED = 2,
    /** The connection went away without fin (detail: the cause). A server
     * keeps the session for the peer's return (linger); a client
     * reconnects. */
    NQ_EVENT_LOST = 3,
    /** Server: a lost peer did not come back within the linger, or its
     * session was dropped (over the linger cap or the per-peer limit);
     * what was queued for it failed. */
    NQ_EVENT_EXPIRED = 4,
    /** A connection failed its handshake (TLS, or a first frame that is
     * not an id) before any peer id was known: nq_msg_peer() gives 16
     * zero bytes, and the detail names the connection and the cause. */
    NQ_EVENT_REFUSED = 5
} nq_msg_kind;

/** The bit of kind k in an event mask (nq_options_set_events()). */
#define NQ_EVENT_BIT(k) (1u << (unsigned)(k))
/** Every event kind. */
#define NQ_EVENTS_ALL                                                                    \
    (NQ_EVENT_BIT(NQ_EVENT_CONNECTED) | NQ_EVENT_BIT(NQ_EVENT_FINISHED) |                \
     NQ_EVENT_BIT(NQ_EVENT_LOST) | NQ_EVENT_BIT(NQ_EVENT_EXPIRED) |                      \
     NQ_EVENT_BIT(NQ_EVENT_REFUSED))

/** The bit of kind k (NQ_MSG_DATA or an event) in a kinds mask
 * (nq_comm_get_kinds()). Since 1.3. */
#define NQ_KIND_BIT(k) (1u << (unsigned)(k))
/** Data messages only. */
#define NQ_KINDS_DATA NQ_KIND_BIT(NQ_MSG_DATA)
/** Peer events only (of every kind, including kinds added later). */
#define NQ_KINDS_EVENTS (~NQ_KINDS_DATA)
/** Every kind: what the receives without a kinds mask accept. */
#define NQ_KINDS_ALL (~0u)

/**
 * Which peer events the communicator queues for its receivers: a mask of
 * NQ_EVENT_BIT(kind) (NQ_EVENTS_ALL for all). Default 0: none, so that a
 * program that does not ask sees only data messages, as before 1.2.
 * Errors: NQ_EINVAL (NULL opts, or a bit that is no event kind).
 */
NQ_API nq_status nq_options_set_events(nq_options *opts, unsigned mask);

/**
 * Callback of nq_comm_get_async(): st is NQ_OK with msg (the callback owns
 * it: free it with nq_msg_free(), now or later), or an error with msg
 * NULL. Runs on the communicator's I/O thread with no library lock held,
 * never on the thread that called nq_comm_get_async() from inside that
 * call; it must not block. Receives pending when the communicator is
 * closed complete on the thread that calls nq_comm_close() or
 * nq_comm_free(), after the I/O thread has stopped (as puts do).
 */
typedef void (*nq_get_fn)(void *user, nq_status st, nq_msg *msg);

/**
 * Receive one message through a callback: fn(user, ...) runs once, when a
 * message from any peer (npeers 0) or from one of the npeers ids given
 * (16 bytes each, copied) is handed to this receive, when timeout_ms
 * passes (NQ_ETIMEDOUT; NQ_FOREVER waits without limit, 0 takes only a
 * message already queued), when it is cancelled (NQ_ECANCELED) or when the
 * communicator closes with nothing queued for it (NQ_ECLOSED). Never
 * blocks, and never calls fn before it returns on the calling thread.
 * op_id (may be NULL) gets the receive's id, for nq_comm_get_cancel(),
 * before fn can run. Any thread.
 * Errors (fn never runs then): NQ_EINVAL (NULL comm or fn, peers NULL with
 * npeers > 0), NQ_ECLOSED (nq_comm_close() has finished: the I/O thread
 * that runs callbacks is gone; drain with nq_comm_get()), NQ_ENOMEM.
 */
NQ_API nq_status nq_comm_get_async(nq_comm *comm, const uint8_t *peers, size_t npeers,
                                   int64_t timeout_ms, nq_get_fn fn, void *user,
                                   uint64_t *op_id);

/**
 * As nq_comm_get_async(), completing a new waitable future in *out: wait
 * for it with nq_future_wait() (its result is the receive's status), take
 * the message with nq_future_take_msg(), free it with nq_future_free()
 * (before or after completion; a message not taken is freed with it).
 * After close the future completes at once, with a message still queued
 * or NQ_ECLOSED. Any thread.
 * Errors (no future then): NQ_EINVAL, NQ_ENOMEM.
 */
NQ_API nq_status nq_comm_get_future(nq_comm *comm, const uint8_t *peers, size_t npeers,
                                    int64_t timeout_ms, uint64_t *op_id, nq_future **out);

/**
 * The message of a completed receive future (nq_comm_get_future()) into
 * *msg, which the caller then owns. Once only: a second call, a future
 * not complete, a receive that failed and a put's future give NQ_ESTATE
 * (*msg NULL). Any thread.
 * Errors: NQ_EINVAL (NULL argument), NQ_ESTATE.
 */
NQ_API nq_status nq_future_take_msg(nq_future *future, nq_msg **msg);

/**
 * As nq_comm_get_async(), posting the completion to cq with tag. Take it
 * with nq_cq_next_msg(), which hands over the message. nq_cq_next() and
 * nq_cq_next_batch() report a receive's tag and status too, but free its
 * message: a queue that receives must be drained with nq_cq_next_msg().
 * cq must outlive the communicator. After close the completion is posted
 * at once, with a message still queued or NQ_ECLOSED. Any thread.
 * Errors (nothing posted then): NQ_EINVAL, NQ_ENOMEM.
 */
NQ_API nq_status nq_comm_get_cq(nq_comm *comm, const uint8_t *peers, size_t npeers,
                                int64_t timeout_ms, nq_cq *cq, uint64_t tag, uint64_t *op_id);

/**
 * As nq_cq_next(), and the completion's message into *msg (the caller
 * owns it): a receive's message when its status is NQ_OK, NULL for a
 * failed receive and for a put's completion. msg may not be NULL; tag and
 * result may. Any thread.
 * Errors: NQ_EINVAL, NQ_ETIMEDOUT, NQ_ECLOSED (as nq_cq_next()).
 */
NQ_API nq_status nq_cq_next_msg(nq_cq *cq, int64_t timeout_ms, uint64_t *tag,
                                nq_status *result, nq_msg **msg);

/**
 * Cancel the pending receive op_id (from any of the three forms). NQ_OK:
 * it had no message yet and now completes with NQ_ECANCELED (a callback
 * on the I/O thread, shortly; a future or a cq entry before this returns).
 * NQ_ESTATE: too late, it has a message or has completed (or the id is
 * unknown) — its completion delivers what it got, so nothing is lost and
 * nothing comes twice. Any thread. Errors: NQ_EINVAL, NQ_ESTATE.
 */
NQ_API nq_status nq_comm_get_cancel(nq_comm *comm, uint64_t op_id);

/**
 * The communicator's readiness descriptor into *fd: readable while a
 * message or event is queued and not yet handed to a receiver, and once
 * the communicator is closed (a get then returns what is left, then
 * NQ_ECLOSED). Level-triggered: it stays readable until the queue is
 * empty. Wait on it with poll/epoll/an event loop, then take messages with
 * nq_comm_get() and timeout 0 until NQ_ETIMEDOUT. Readiness is for any
 * peer: a get with a peer filter may still find nothing. Pending
 * asynchronous receives take messages before they count as queued.
 * The library owns the descriptor (created on the first call, the same
 * one every call, closed by nq_comm_free()): do not read, write or close
 * it. Any thread. Errors: NQ_EINVAL, NQ_EIO (no descriptor available).
 */
NQ_API nq_status nq_comm_fd(nq_comm *comm, int *fd);

/**
 * As nq_comm_get() (comm.h), accepting only messages whose kind is in
 * kinds, a mask of NQ_KIND_BIT(kind): NQ_KINDS_DATA, NQ_KINDS_EVENTS,
 * NQ_KINDS_ALL or any union (bits of kinds not yet defined are allowed and
 * match what later versions add). A message of another kind stays queued
 * for a receive that accepts it. Since 1.3. Any thread.
 * Errors: as nq_comm_get(); NQ_EINVAL also for kinds 0.
 */
NQ_API nq_status nq_comm_get_kinds(nq_comm *comm, unsigned kinds, const uint8_t *peers,
                                   size_t npeers, int64_t timeout_ms, nq_msg **out);
/**
 * Receive up to max messages in one call: as nq_comm_get_kinds() for the
 * first (waiting up to timeout_ms), then, without waiting, the messages
 * already queued that the filter accepts, up to max in all, in the order
 * a loop of gets would have returned them. msgs[0 .. *got-1] are then the
 * caller's (free each with nq_msg_free()). For bindings and loops that
 * pay per call (a cgo or JNI crossing, an interpreter): one call, and one
 * lock round for all but the first message. Since 1.3. Any thread.
 * Errors (*got 0): as nq_comm_get_kinds(); NQ_EINVAL also for NULL msgs
 * or got, or max 0.
 */
NQ_API nq_status nq_comm_get_batch(nq_comm *comm, unsigned kinds, const uint8_t *peers,
                                   size_t npeers, int64_t timeout_ms, nq_msg **msgs,
                                   size_t max, size_t *got);
/** As nq_comm_get_async(), accepting only the kinds in kinds (as
 * nq_comm_get_kinds()). Since 1.3. */
NQ_API nq_status nq_comm_get_kinds_async(nq_comm *comm, unsigned kinds, const uint8_t *peers,
                                         size_t npeers, int64_t timeout_ms, nq_get_fn fn,
                                         void *user, uint64_t *op_id);
/** As nq_comm_get_future(), accepting only the kinds in kinds (as
 * nq_comm_get_kinds()). Since 1.3. */
NQ_API nq_status nq_comm_get_kinds_future(nq_comm *comm, unsigned kinds, const uint8_t *peers,
                                          size_t npeers, int64_t timeout_ms, uint64_t *op_id,
                                          nq_future **out);
/** As nq_comm_get_cq(), accepting only the kinds in kinds (as
 * nq_comm_get_kinds()). Since 1.3. */
NQ_API nq_status nq_comm_get_kinds_cq(nq_comm *comm, unsigned kinds, const uint8_t *peers,
                                      size_t npeers, int64_t timeout_ms, nq_cq *cq,
                                      uint64_t tag, uint64_t *op_id);
/** The kind of a message: NQ_MSG_DATA or an NQ_EVENT_* (NQ_MSG_DATA for NULL). */
NQ_API nq_msg_kind nq_msg_kind_of(const nq_msg *msg);

/**
 * An event's detail text (the cause of a loss, the failed handshake, ...),
 * valid until nq_msg_free(); "" for data messages and events without one.
 * Never NULL.
 */
NQ_API const char *nq_msg_event_detail(const nq_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
