/* Internal layout of chunks and streams, shared by the stream code and the
 * put path (which takes a stream's chunks over without copying). */
#ifndef NQ_CORE_STREAM_INTERNAL_H
#define NQ_CORE_STREAM_INTERNAL_H

#include <netqueue/stream.h>

struct nq_chunk {
    struct nq_chunk *next;
    struct nq_chunk *prev;
    void *data;
    size_t size;
    nq_release_fn release; /* NULL: nothing to release (or inline copy) */
    void *user;
    size_t alloc_cap; /* of this allocation (blockpool.h) */
    /* nq_chunk_copy: the bytes follow the struct in the same allocation */
};

struct nq_stream {
    struct nq_chunk *head;
    struct nq_chunk *tail;
    size_t nchunks;
    uint64_t nbytes;
    size_t alloc_cap; /* of this allocation (blockpool.h) */
};

#endif
