/* Internal: outgoing frames (header + payload, shared by every target peer)
 * and the per-peer send queue entries that point at them. */
#ifndef NQ_CORE_PAYLOAD_H
#define NQ_CORE_PAYLOAD_H

#include <stdatomic.h>
#include <sys/uio.h>
#include <netqueue/comm.h>

#include "core/budget.h"
#include "core/mpsc.h"

struct nq_payload {
    atomic_int refs;
    uint64_t frame_size; /* 8-byte header + payload */
    int niov;
    struct iovec *iov;   /* the whole frame, header first */
    nq_stream *stream;   /* zero-copy puts: chunks released with the payload */
    uint8_t hdr[8];      /* header when it is not contiguous with the data */
    void *block;         /* set: the payload lives inside this allocation (a
                          * copying put's request), freed with the last ref */
    size_t block_cap;    /* and its capacity (nq_pool_alloc) */
    struct iovec iov_inline[2];
    uint8_t buf[];       /* copying puts: header then data, contiguous */
};

/* Frame a copy of data[0..size). */
struct nq_payload *nq_payload_copy(const void *data, size_t size);
/* The bytes a copy of size bytes needs (nq_payload_copy_into). */
size_t nq_payload_copy_size(size_t size);
/* Frame a copy of data into mem (nq_payload_copy_size bytes, suitably
 * aligned) that belongs to the allocation block: the last unref frees
 * block instead of the payload. */
struct nq_payload *nq_payload_copy_into(void *mem, void *block, const void *data, size_t size);
/* Frame a copy of id (ini, current fin) or nothing at all (legacy fin). */
struct nq_payload *nq_payload_control(const uint8_t *id);
/* Frame a stream's chunks without copying; takes the stream on success. */
struct nq_payload *nq_payload_stream(nq_stream *stream);
void nq_payload_ref(struct nq_payload *p);
void nq_payload_unref(struct nq_payload *p);

struct nq_put_req;

struct nq_send_item {
    struct nq_send_item *next;
    struct nq_payload *p;
    struct nq_put_req *req; /* NULL for control frames */
    int fin;                /* this frame is our fin */
    int ini;                /* this frame is our ini (per connection) */
};

/* ADOPT: a link handed over from another I/O thread (shard.c; user holds it) */
enum nq_cmd_kind { NQ_CMD_PUT, NQ_CMD_CLOSE, NQ_CMD_ABORT, NQ_CMD_ADOPT };

struct nq_put_whole;

/* One put (or control command) handed from an application thread to the
 * I/O thread through the lock-free queue. */
struct nq_put_req {
    struct nq_mpsc_node node; /* first: the queue links through it */
    enum nq_cmd_kind kind;
    struct nq_payload *p;
    nq_done_fn fn;
    void *user;
    size_t pending;           /* targets not yet done (I/O thread only) */
    nq_status result;
    struct nq_send_item item; /* the first target's entry, to save a malloc */
    struct nq_budget *budget; /* refunded `charged` bytes when freed */
    uint64_t charged;
    uint64_t charged_extra; /* of charged: for targets past the first */
    size_t alloc_cap;       /* a stream put's request: from the pool, this big; 0: malloc'd */
    struct nq_put_req *deferred_next; /* on the comm's deferred list */
    /* a multi-loop server's put spread over I/O threads: this request is
     * one thread's part of it (shard.c), else NULL */
    struct nq_put_whole *whole;
    size_t npeers;
    uint8_t peers[];          /* npeers ids, 16 bytes each */
};

void nq_put_req_free(struct nq_put_req *r);

#endif
