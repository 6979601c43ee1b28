/**
 * @file
 * netqueue — statistics of a communicator and of its peers (since 1.2).
 *
 * One call takes a snapshot into a new nq_stats handle: a list of
 * (key, value) pairs, read with getters, so that no struct layout is part
 * of the ABI. Keys are short static names ("msgs_in", "recv_queue_bytes");
 * values are unsigned 64-bit counts, bytes or milliseconds. The keys, their
 * units and meanings are listed in docs/abi.md ("Statistics"); a later
 * minor release may add keys (anywhere in the list), never renames or
 * removes one, so look values up by key (nq_stats_get), not by position.
 *
 * Consistency: the snapshot is taken while the communicator's I/O thread
 * is between two events (it waits for the I/O thread to reach its poll,
 * as a direct put does), and the receive queue's figures under the
 * getters' lock at the same moment: every counter is exact, and the
 * counters agree with one another (for instance, messages received equal
 * messages got plus those still queued plus those dropped). Counting costs
 * the message path nothing measurable: the I/O thread keeps the counters
 * and only a snapshot takes a lock.
 *
 * Threads: nq_comm_stats and nq_comm_peer_stats are safe from any thread
 * and from put completion callbacks; not from a log sink (nq_log_fn),
 * which may run while the lock they take is held. A server with workers
 * > 1 holds every I/O thread still at once and sums; called from one of
 * its I/O threads (a callback), it waits at most 50 ms for each other
 * thread (two callbacks asking at once would otherwise wait for each
 * other) and leaves out the ones it could not hold. They work after
 * nq_comm_close (final figures) until nq_comm_free. An nq_stats handle is
 * the caller's own: immutable, usable from any thread, valid after
 * nq_comm_free.
 */
#ifndef NETQUEUE_STATS_H
#define NETQUEUE_STATS_H

#include "common.h"
#include "comm.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A snapshot of statistics: (key, value) pairs (opaque; nq_stats_free). */
typedef struct nq_stats nq_stats;

/**
 * Snapshot the communicator's own statistics into a new *out: traffic,
 * queues, sessions, reconnections and errors by kind (docs/abi.md,
 * "Statistics", column "comm").
 * Errors: NQ_EINVAL (NULL argument), NQ_ENOMEM.
 */
NQ_API nq_status nq_comm_stats(nq_comm *comm, nq_stats **out);

/**
 * Snapshot the statistics of one peer, named by its 16-byte id, into a new
 * *out (docs/abi.md, "Statistics", column "peer"). A server knows the
 * peers it has a session with, live or lingering after a lost connection;
 * a client knows its server once the server's ini arrived.
 * Errors: NQ_EINVAL (NULL argument), NQ_ENOPEER (no session with that
 * peer), NQ_ENOMEM.
 */
NQ_API nq_status nq_comm_peer_stats(nq_comm *comm, const uint8_t *peer, nq_stats **out);

/** Number of (key, value) pairs in the snapshot; 0 for NULL. */
NQ_API size_t nq_stats_count(const nq_stats *stats);

/**
 * Key of pair i (0 <= i < nq_stats_count): a static string, valid for the
 * life of the library. NULL when i is out of range or stats is NULL.
 */
NQ_API const char *nq_stats_key(const nq_stats *stats, size_t i);

/** Value of pair i; 0 when i is out of range or stats is NULL. */
NQ_API uint64_t nq_stats_value(const nq_stats *stats, size_t i);

/**
 * Value of the pair named key into *out.
 * Errors: NQ_EINVAL when an argument is NULL or when this snapshot has no
 * such key (an unknown name, a key of a later release, or a per-communicator
 * key asked of a peer's snapshot); nq_last_error() says which.
 */
NQ_API nq_status nq_stats_get(const nq_stats *stats, const char *key, uint64_t *out);

/** Free a snapshot. NULL is ignored. */
NQ_API void nq_stats_free(nq_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
