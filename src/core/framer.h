/* Internal: incremental frame decoder (8-byte big-endian length + payload).
 * Bytes may arrive cut anywhere; a frame's payload is gathered into its own
 * message buffer, which grows as bytes arrive instead of trusting the
 * declared length. */
#ifndef NQ_CORE_FRAMER_H
#define NQ_CORE_FRAMER_H

#include <sys/uio.h>

#include "core/msg.h"

/* Bytes held by frames being received, shared by every connection of a
 * communicator (I/O thread only): a big frame may not grow it past limit
 * unless it is the only one in progress. Frames of up to NQ_MSG_INLINE_MAX
 * bytes are counted but never refused. */
struct nq_framer_pool {
    uint64_t used, limit; /* limit 0: none */
    /* A multi-loop server's I/O threads each have a pool, and share the
     * count of bytes held by big frames (over NQ_MSG_INLINE_MAX): a big
     * frame is measured against every thread's big frames plus its own
     * thread's small ones. NULL: one I/O thread, used is everything. */
    uint64_t big;                 /* of used: big frames' bytes */
    _Atomic uint64_t *big_all;    /* every pool's big, summed */
};

struct nq_framer {
    struct nq_framer_pool *pool; /* NULL: not counted */
    uint64_t charged;   /* what the current frame holds of the pool */
    uint8_t hdr[8];
    unsigned hdr_have;
    struct nq_msg *msg; /* frame being received, NULL between frames */
    uint64_t limit;     /* largest payload accepted */
    uint64_t bad_size;  /* the declared size when NQ_ETOOBIG was returned */
    uint64_t last_size; /* payload size of the last complete frame */
    unsigned guess_hint; /* frames the next scatter read guesses (framer_scatter.c) */
};

typedef void (*nq_frame_fn)(void *ctx, struct nq_msg *msg);

void nq_framer_init(struct nq_framer *f, uint64_t limit);
/* Count this framer's frames in progress against pool. */
void nq_framer_set_pool(struct nq_framer *f, struct nq_framer_pool *pool);
void nq_framer_reset(struct nq_framer *f);
/* The link moves to another I/O thread: its frame in progress leaves the
 * old pool (pool NULL, on the old thread) and joins the new one (on the
 * new thread). */
void nq_framer_move_pool(struct nq_framer *f, struct nq_framer_pool *pool);
/* Feed bytes; on_frame gets each complete frame (and owns it). Returns
 * NQ_OK, NQ_ETOOBIG (declared length over the limit), NQ_EAGAIN (the pool
 * of frames in progress is full) or NQ_ENOMEM. */
nq_status nq_framer_feed(struct nq_framer *f, const uint8_t *buf, size_t len,
                         nq_frame_fn on_frame, void *ctx);
/* Room to receive straight into the current frame's buffer: at least
 * `want` bytes of it still missing. Returns the pointer and sets *room, or
 * NULL when no frame is that far from done. */
uint8_t *nq_framer_direct(struct nq_framer *f, size_t want, size_t *room);
/* How many bytes to read into a shared buffer next: between frames, after
 * a frame of at least `big` bytes, only the rest of the next header, so
 * that its body (likely big too) is read straight into its message
 * (nq_framer_direct) instead of being copied out of the buffer; else
 * `full`. */
size_t nq_framer_next_read(const struct nq_framer *f, size_t big, size_t full);
/* n bytes were written at the pointer nq_framer_direct returned. */
void nq_framer_direct_commit(struct nq_framer *f, size_t n, nq_frame_fn on_frame, void *ctx);
/* Take m, a frame of m->size bytes whose first m->have bytes are in, as
 * the frame in progress (no frame may be in progress) and charge it.
 * NQ_OK, or NQ_EAGAIN when the pool has no room (m is then the frame in
 * progress all the same: nq_framer_reset frees it). */
nq_status nq_framer_adopt(struct nq_framer *f, struct nq_msg *m);
/* 1 when a frame is partly received (a disconnect now truncates it). */
int nq_framer_partial(const struct nq_framer *f);

/* ---- Receiving mid-size frames without a copy (framer_scatter.c) ----
 * For a socket that can scatter its reads (readv). When the last frame
 * was at least NQ_SCATTER_MIN bytes the next ones are guessed to be as
 * big, and one read lands straight in their messages: the rest of the
 * frame in progress, then header slot, body, header slot, body, ..., then
 * the shared buffer for whatever follows. A guess proved wrong by its
 * header costs what reading into the shared buffer would have: those
 * bytes go through the framer in order. The guessed messages live only
 * from prepare to commit or cancel (at most NQ_SCATTER_BYTES per read,
 * on the reading thread). */
#define NQ_SCATTER_MIN (8u * 1024u)
#define NQ_SCATTER_MAX 64u                 /* frames guessed per read */
#define NQ_SCATTER_BYTES ((size_t)1 << 20) /* bytes guessed per read */
#define NQ_SCATTER_IOV (2 * NQ_SCATTER_MAX + 2)

struct nq_scatter {
    size_t rest;        /* bytes of the frame in progress read first */
    size_t size;        /* each guessed frame's size */
    unsigned n;         /* frames guessed */
    uint8_t *tail;      /* the shared buffer, last */
    uint8_t hdr[NQ_SCATTER_MAX][8];
    struct nq_msg *m[NQ_SCATTER_MAX];
};

/* Lay out one read in iov (NQ_SCATTER_IOV entries): returns how many, or
 * 0 when nothing is guessed (then read into buf as usual). buf, of
 * buf_len bytes, comes last; after frames of at least `big` bytes only
 * the next header goes there (as nq_framer_next_read). */
int nq_framer_scatter_prepare(struct nq_framer *f, struct nq_scatter *sc, struct iovec *iov,
                              uint8_t *buf, size_t buf_len, size_t big);
/* n bytes arrived in the iov prepare laid out: deliver the frames they
 * complete, keep a partly received one as the frame in progress, free the
 * guesses left. Returns as nq_framer_feed. */
nq_status nq_framer_scatter_commit(struct nq_framer *f, struct nq_scatter *sc, size_t n,
                                   nq_frame_fn on_frame, void *ctx);
/* The read brought nothing: free the guesses. */
void nq_framer_scatter_cancel(struct nq_scatter *sc);

#endif
