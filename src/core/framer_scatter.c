/* Receiving mid-size frames without a copy (framer.h): one scattered read
 * lands each frame straight in its own message when the frames are as big
 * as the last one, which is what a stream of same-size messages does. */
#include "core/be64.h"
#include "core/framer.h"

/* How many frames to guess: what the last read filled, doubled when it
 * filled them all, within what one read may guess. */
static unsigned guess_count(const struct nq_framer *f, size_t size)
{
    size_t most = NQ_SCATTER_BYTES / (size + 8);
    if (most > NQ_SCATTER_MAX)
        most = NQ_SCATTER_MAX;
    if (most == 0)
        most = 1;
    unsigned want = f->guess_hint ? f->guess_hint : 1;
    return want < most ? want : (unsigned)most;
}

int nq_framer_scatter_prepare(struct nq_framer *f, struct nq_scatter *sc, struct iovec *iov,
                              uint8_t *buf, size_t buf_len, size_t big)
{
    size_t size = (size_t)f->last_size;
    sc->n = 0;
    sc->rest = 0;
    /* a cut header: its size is unknown, nothing to guess from */
    if (size < NQ_SCATTER_MIN || size > NQ_SCATTER_BYTES || size > f->limit ||
        (!f->msg && f->hdr_have))
        return 0;
    int k = 0;
    if (f->msg) {
        struct nq_msg *m = f->msg;
        /* a big rest is nq_framer_direct's; a buffer still growing is not
         * all there to read into */
        if (m->size - m->have >= big || m->cap < m->size)
            return 0;
        sc->rest = m->size - m->have;
        iov[k++] = (struct iovec){m->data + m->have, sc->rest};
    }
    unsigned want = guess_count(f, size);
    for (unsigned i = 0; i < want; i++) {
        struct nq_msg *m = nq_msg_alloc(size);
        if (!m)
            break;
        sc->m[i] = m;
        iov[k++] = (struct iovec){sc->hdr[i], 8};
        iov[k++] = (struct iovec){m->data, size};
        sc->n++;
    }
    if (sc->n == 0 && sc->rest == 0)
        return 0;
    sc->size = size;
    sc->tail = buf;
    iov[k++] = (struct iovec){buf, size >= big ? 8 : buf_len};
    return k;
}

void nq_framer_scatter_cancel(struct nq_scatter *sc)
{
    for (unsigned i = 0; i < sc->n; i++)
        nq_msg_free(sc->m[i]);
    sc->n = 0;
}

/* A guess proved wrong at frame i (or its header is cut): the left bytes
 * from its header on, through every later slot and the tail, go through
 * the framer in the order they arrived. */
static nq_status feed_rest(struct nq_framer *f, struct nq_scatter *sc, unsigned i, size_t left,
                           nq_frame_fn on_frame, void *ctx)
{
    nq_status st = NQ_OK;
    for (; i < sc->n && left > 0 && st == NQ_OK; i++) {
        size_t h = left < 8 ? left : 8;
        st = nq_framer_feed(f, sc->hdr[i], h, on_frame, ctx);
        left -= h;
        size_t b = left < sc->size ? left : sc->size;
        if (st == NQ_OK && b > 0)
            st = nq_framer_feed(f, sc->m[i]->data, b, on_frame, ctx);
        left -= b;
    }
    if (st == NQ_OK && left > 0)
        st = nq_framer_feed(f, sc->tail, left, on_frame, ctx);
    return st;
}

nq_status nq_framer_scatter_commit(struct nq_framer *f, struct nq_scatter *sc, size_t n,
                                   nq_frame_fn on_frame, void *ctx)
{
    nq_status st = NQ_OK;
    size_t left = n;
    if (sc->rest) {
        size_t take = left < sc->rest ? left : sc->rest;
        left -= take;
        nq_framer_direct_commit(f, take, on_frame, ctx);
    }
    unsigned filled = 0;
    for (unsigned i = 0; i < sc->n && left > 0; i++) {
        if (left < 8 || nq_get_be64(sc->hdr[i]) != sc->size) {
            st = feed_rest(f, sc, i, left, on_frame, ctx);
            left = 0;
            break;
        }
        left -= 8;
        struct nq_msg *m = sc->m[i];
        sc->m[i] = NULL;
        m->have = left < sc->size ? left : sc->size;
        left -= m->have;
        if (m->have == m->size) {
            f->last_size = m->size;
            filled++;
            on_frame(ctx, m);
        } else {
            st = nq_framer_adopt(f, m);
            break;
        }
    }
    if (left > 0 && st == NQ_OK) /* every guess filled: the tail follows them */
        st = nq_framer_feed(f, sc->tail, left, on_frame, ctx);
    /* the next read guesses what this one filled, twice that when it
     * filled every guess and more came */
    f->guess_hint = filled == sc->n && (left > 0 || filled == 0) ? 2 * (sc->n ? sc->n : 1)
                                                                  : filled + 1;
    for (unsigned j = 0; j < sc->n; j++)
        nq_msg_free(sc->m[j]);
    sc->n = 0;
    return st;
}
