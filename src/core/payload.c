/* Outgoing frames. A copying put makes one allocation holding the header
 * and the bytes, so one iovec covers the frame and writev merges it with
 * its neighbours; that block comes from the process-wide pool
 * (blockpool.h): the putter allocates it and the I/O thread frees it. */
#include <stdlib.h>
#include <string.h>

#include "core/be64.h"
#include "core/blockpool.h"
#include "core/payload.h"
#include "core/stream_internal.h"

size_t nq_payload_copy_size(size_t size)
{
    return sizeof(struct nq_payload) + 8 + size;
}

struct nq_payload *nq_payload_copy(const void *data, size_t size)
{
    struct nq_payload *p = malloc(nq_payload_copy_size(size));
    if (!p)
        return NULL;
    return nq_payload_copy_into(p, NULL, data, size);
}

struct nq_payload *nq_payload_copy_into(void *mem, void *block, const void *data, size_t size)
{
    struct nq_payload *p = mem;
    p->block = block;
    atomic_init(&p->refs, 1);
    p->frame_size = 8 + (uint64_t)size;
    nq_put_be64(p->buf, size);
    if (size)
        memcpy(p->buf + 8, data, size);
    p->iov = p->iov_inline;
    p->iov[0].iov_base = p->buf;
    p->iov[0].iov_len = 8 + size;
    p->niov = 1;
    p->stream = NULL;
    return p;
}

struct nq_payload *nq_payload_control(const uint8_t *id)
{
    return nq_payload_copy(id, id ? NQ_ID_SIZE : 0);
}

struct nq_payload *nq_payload_stream(nq_stream *s)
{
    size_t n = s->nchunks;
    /* the putter makes it and the I/O thread frees it: the pool, not
     * malloc, whose arena lock the two would fight over on every put */
    size_t cap;
    struct nq_payload *p = nq_pool_alloc(sizeof *p + (n + 1) * sizeof(struct iovec), &cap);
    if (!p)
        return NULL;
    atomic_init(&p->refs, 1);
    p->block = p;
    p->block_cap = cap;
    p->iov = (struct iovec *)p->buf;
    nq_put_be64(p->hdr, s->nbytes);
    p->iov[0].iov_base = p->hdr;
    p->iov[0].iov_len = 8;
    int i = 1;
    for (struct nq_chunk *c = s->head; c; c = c->next) {
        if (!c->size)
            continue;
        p->iov[i].iov_base = c->data;
        p->iov[i].iov_len = c->size;
        i++;
    }
    p->niov = i;
    p->frame_size = 8 + s->nbytes;
    p->stream = s;
    return p;
}

void nq_payload_ref(struct nq_payload *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

void nq_payload_unref(struct nq_payload *p)
{
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (p->stream)
        nq_stream_free(p->stream);
    if (p->block)
        nq_pool_free(p->block, p->block_cap);
    else
        free(p);
}

void nq_put_req_free(struct nq_put_req *r)
{
    if (r->budget)
        nq_budget_refund(r->budget, r->charged);
    struct nq_payload *p = r->p;
    if (p && p->block == r) {
        nq_payload_unref(p); /* its last reference frees r with it */
        return;
    }
    if (p)
        nq_payload_unref(p);
    if (r->alloc_cap)
        nq_pool_free(r, r->alloc_cap);
    else
        free(r);
}
