/* Internal: the multi-loop server (nq_options_set_workers). A server with
 * workers N > 1, on a transport that can move links between loops (ops
 * attach/detach: TCP, TLS), runs N + 1 shards, each a struct nq_comm with
 * its own I/O thread (comm_internal.h says what they share). Shard 0, the
 * root, accepts and runs handshakes only; when a link's ini names its
 * peer, the link moves to the peer's shard, nq_shard_of(id) in 1..N, which
 * runs the ini and owns the session from then on: a peer's session, its
 * reconnections and its puts always meet on one thread. The root's loop
 * uses poll, not epoll: epoll would keep a socket it gave away registered
 * until the socket is closed, and then touch it from the wrong thread.
 * docs/design.md §2 has the whole picture. */
#ifndef NQ_CORE_SHARD_H
#define NQ_CORE_SHARD_H

#include "core/comm_internal.h"

/* Most shards: the root and one per worker. */
#define NQ_SHARDS_MAX 65
/* How many shards root (options set, loop not made yet) will have. */
int nq_shards_wanted(const struct nq_comm *root);
/* nq_comm_new, root made but not started: make the other shards (their
 * loops, not their transports or threads). */
nq_status nq_shards_new(struct nq_comm *root);
/* nq_comm_free: free the shards but the root. */
void nq_shards_free(struct nq_comm *root);
/* The shard that owns peer id's session (0 with one shard). */
int nq_shard_of(const struct nq_comm *root, const uint8_t *id);

/* ---- hand-over of a link (I/O threads) ---- */

/* The ini of peer id arrived on l at shard c: 0 when c owns the peer (go
 * on), 1 when l is to move (the frames after it are held: hold), -1 out
 * of memory. */
int nq_shard_handover_begin(struct nq_comm *c, struct nq_link *l, const uint8_t *id);
/* A frame read after the ini: it goes along. */
void nq_shard_handover_hold(struct nq_link *l, struct nq_msg *m);
/* End of the read that carried the ini (r: the feed's result, -1 when a
 * bad frame followed the ini): detach l and queue it to its shard, which
 * runs the ini, what was held, and then closes l if r was -1. Returns 1:
 * handed over. */
int nq_shard_handover_finish(struct nq_comm *c, struct nq_link *l, int r);
/* The ADOPT command at its shard: take l over and run its ini. */
void nq_shard_adopt(struct nq_comm *c, struct nq_put_req *cmd);

/* ---- puts ---- */

/* A put on the root: the shard index it goes to whole, or -1 when it was
 * split into one part per shard and queued (broadcast, peers on several
 * shards), or -2 out of memory (nothing queued, r still the caller's). */
int nq_shard_route(struct nq_comm *root, struct nq_put_req *r);
/* A part's last target is done (its I/O thread): the whole put completes
 * with its last part. Frees part. */
void nq_shard_part_done(struct nq_comm *c, struct nq_put_req *part);

/* ---- close ---- */

/* Shard 0's begin_close: the other shards close now. */
void nq_shard_close_others(struct nq_comm *c);
/* Closing thread, after the loops ended, on each shard (io_mu held): links
 * still queued to it are taken over, for destroy to close. */
void nq_shard_orphans(struct nq_comm *c);

#endif
