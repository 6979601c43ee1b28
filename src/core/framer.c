/* Incremental frame decoder. */
#include <stdlib.h>
#include <string.h>

#include "core/be64.h"
#include "core/framer.h"

void nq_framer_init(struct nq_framer *f, uint64_t limit)
{
    memset(f, 0, sizeof *f);
    f->limit = limit;
}

void nq_framer_set_pool(struct nq_framer *f, struct nq_framer_pool *pool)
{
    f->pool = pool;
}

/* The current frame now holds cap bytes: charge the difference. -1 when
 * the pool has no room for it (small frames always pass, and so does the
 * only big frame in progress). */
static uint64_t big_part(uint64_t cap)
{
    return cap > NQ_MSG_INLINE_MAX ? cap : 0;
}

/* A shared pool (framer.h): the change of this frame's big bytes goes to
 * the shared sum too; small frames never touch it. */
static void share(struct nq_framer_pool *p, uint64_t was, uint64_t now)
{
    uint64_t a = big_part(was), b = big_part(now);
    if (a == b)
        return;
    p->big += b - a;
    if (b > a)
        atomic_fetch_add_explicit(p->big_all, b - a, memory_order_relaxed);
    else
        atomic_fetch_sub_explicit(p->big_all, a - b, memory_order_relaxed);
}

static int charge(struct nq_framer *f, uint64_t cap)
{
    struct nq_framer_pool *p = f->pool;
    if (!p)
        return 0;
    uint64_t others = p->used - f->charged;
    if (p->big_all && cap > NQ_MSG_INLINE_MAX) /* other threads' big frames */
        others += atomic_load_explicit(p->big_all, memory_order_relaxed) - p->big;
    if (p->limit && cap > NQ_MSG_INLINE_MAX && others > 0 && others + cap > p->limit)
        return -1;
    if (p->big_all)
        share(p, f->charged, cap);
    p->used += cap - f->charged;
    f->charged = cap;
    return 0;
}

static void discharge(struct nq_framer *f)
{
    if (f->pool) {
        if (f->pool->big_all)
            share(f->pool, f->charged, 0);
        f->pool->used -= f->charged;
    }
    f->charged = 0;
}

void nq_framer_move_pool(struct nq_framer *f, struct nq_framer_pool *pool)
{
    uint64_t charged = f->charged;
    discharge(f);
    f->pool = pool;
    f->charged = charged; /* the frame's size, counted or (between pools) not */
    if (pool) {
        if (pool->big_all)
            share(pool, 0, charged);
        pool->used += charged;
    }
}

void nq_framer_reset(struct nq_framer *f)
{
    discharge(f);
    nq_msg_free(f->msg);
    f->msg = NULL;
    f->hdr_have = 0;
}

int nq_framer_partial(const struct nq_framer *f)
{
    return f->hdr_have > 0 || f->msg != NULL;
}

static void finish(struct nq_framer *f, nq_frame_fn on_frame, void *ctx)
{
    struct nq_msg *m = f->msg;
    f->msg = NULL;
    f->hdr_have = 0;
    f->last_size = m->size;
    discharge(f); /* from here on it counts against the receive queue */
    on_frame(ctx, m);
}

nq_status nq_framer_feed(struct nq_framer *f, const uint8_t *buf, size_t len,
                         nq_frame_fn on_frame, void *ctx)
{
    while (len > 0) {
        /* a whole small frame in the buffer: straight into its message.
         * Same outcome as the steps below (a frame of up to
         * NQ_MSG_INLINE_MAX is never refused by the pool, and what it
         * would charge is discharged before on_frame), at a third of the
         * instructions of a 64 B frame */
        if (!f->msg && f->hdr_have == 0 && len >= 8) {
            uint64_t size = nq_get_be64(buf);
            if (size <= NQ_MSG_INLINE_MAX && size <= f->limit && size <= len - 8) {
                struct nq_msg *m = nq_msg_alloc((size_t)size);
                if (!m)
                    return NQ_ENOMEM;
                memcpy(m->data, buf + 8, (size_t)size);
                m->have = (size_t)size;
                buf += 8 + size;
                len -= 8 + size;
                f->last_size = (size_t)size;
                on_frame(ctx, m);
                continue;
            }
        }
        if (!f->msg) {
            size_t take = 8 - f->hdr_have;
            if (take > len)
                take = len;
            memcpy(f->hdr + f->hdr_have, buf, take);
            f->hdr_have += (unsigned)take;
            buf += take;
            len -= take;
            if (f->hdr_have < 8)
                return NQ_OK;
            uint64_t size = nq_get_be64(f->hdr);
            if (size > f->limit || size > SIZE_MAX / 2) {
                f->bad_size = size;
                return NQ_ETOOBIG;
            }
            f->msg = nq_msg_alloc((size_t)size);
            if (!f->msg)
                return NQ_ENOMEM;
            if (charge(f, f->msg->cap) < 0) {
                f->bad_size = size;
                return NQ_EAGAIN; /* the link is closed: reset frees the frame */
            }
            if (size == 0) {
                finish(f, on_frame, ctx);
                continue;
            }
        }
        struct nq_msg *m = f->msg;
        size_t take = m->size - m->have;
        if (take > len)
            take = len;
        if (nq_msg_reserve(m, m->have + take) < 0)
            return NQ_ENOMEM;
        if (charge(f, m->cap) < 0) {
            f->bad_size = m->size;
            return NQ_EAGAIN;
        }
        memcpy(m->data + m->have, buf, take);
        m->have += take;
        buf += take;
        len -= take;
        if (m->have == m->size)
            finish(f, on_frame, ctx);
    }
    return NQ_OK;
}

size_t nq_framer_next_read(const struct nq_framer *f, size_t big, size_t full)
{
    if (!f->msg && f->last_size >= big)
        return 8 - f->hdr_have;
    return full;
}

uint8_t *nq_framer_direct(struct nq_framer *f, size_t want, size_t *room)
{
    struct nq_msg *m = f->msg;
    if (!m || m->size - m->have < want)
        return NULL;
    /* grow ahead of the bytes, never past what has been declared */
    if (m->cap - m->have < want && nq_msg_reserve(m, m->have + want) < 0)
        return NULL;
    if (charge(f, m->cap) < 0)
        return NULL; /* the copying path then reports it */
    /* a reused buffer (bigbuf.h) may be bigger than the message: never
     * read past the message's end into it */
    *room = (m->cap < m->size ? m->cap : m->size) - m->have;
    return m->data + m->have;
}

nq_status nq_framer_adopt(struct nq_framer *f, struct nq_msg *m)
{
    f->msg = m;
    nq_put_be64(f->hdr, m->size);
    f->hdr_have = 8;
    if (charge(f, m->cap) < 0) {
        f->bad_size = m->size;
        return NQ_EAGAIN;
    }
    return NQ_OK;
}

void nq_framer_direct_commit(struct nq_framer *f, size_t n, nq_frame_fn on_frame, void *ctx)
{
    f->msg->have += n;
    if (f->msg->have == f->msg->size)
        finish(f, on_frame, ctx);
}
