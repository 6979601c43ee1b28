/* Received messages. The I/O thread allocates them and a getter frees
 * them: both from the process-wide block pool (blockpool.h). */
#include <stdlib.h>
#include <string.h>

#include "core/bigbuf.h"
#include "core/blockpool.h"
#include "core/msg.h"
#include "core/status.h"
#include <netqueue/value.h>

struct nq_msg *nq_msg_alloc(size_t size)
{
    struct nq_msg *m;
    size_t acap;
    if (size <= NQ_MSG_INLINE_MAX) {
        m = nq_pool_alloc(sizeof *m + (size ? size : 1), &acap);
        if (!m)
            return NULL;
        m->data = m->inline_buf;
        m->cap = size;
    } else {
        m = nq_pool_alloc(sizeof *m, &acap);
        if (!m)
            return NULL;
        /* a declared size is not trusted beyond NQ_MSG_FIRST_CAP (the
         * buffer grows as bytes come), unless a kept big buffer fits it */
        m->data = size > NQ_MSG_FIRST_CAP ? nq_bigbuf_take(size, &m->cap) : NULL;
        if (!m->data)
            m->data = nq_pool_alloc(size < NQ_MSG_FIRST_CAP ? size : NQ_MSG_FIRST_CAP, &m->cap);
        if (!m->data) {
            nq_pool_free(m, acap);
            return NULL;
        }
    }
    m->alloc_cap = acap;
    m->next = m->prev = NULL;
    m->kind = NQ_MSG_DATA;
    m->detail = NULL;
    m->size = size;
    m->have = 0;
    return m;
}

int nq_msg_reserve(struct nq_msg *m, size_t need)
{
    if (need <= m->cap)
        return 0;
    size_t cap = m->cap * 2;
    if (cap < need)
        cap = need;
    if (cap > m->size)
        cap = m->size;
    uint8_t *d = realloc(m->data, cap);
    if (!d)
        return -1;
    m->data = d;
    m->cap = cap;
    return 0;
}

void nq_msg_free(nq_msg *m)
{
    if (!m)
        return;
    if (m->data != m->inline_buf)
        nq_pool_free(m->data, m->cap);
    nq_pool_free(m, m->alloc_cap);
}

nq_status nq_msg_peer(const nq_msg *m, uint8_t *out)
{
    if (!m || !out)
        return nq_fail(NQ_EINVAL, "msg: NULL argument");
    memcpy(out, m->peer, NQ_ID_SIZE);
    return NQ_OK;
}

const void *nq_msg_data(const nq_msg *m)
{
    return m ? m->data : NULL;
}

size_t nq_msg_size(const nq_msg *m)
{
    return m ? m->size : 0;
}

nq_status nq_msg_value(const nq_msg *m, nq_codec codec, nq_value **out)
{
    if (!m || !out)
        return nq_fail(NQ_EINVAL, "msg: NULL argument");
    switch (codec) {
    case NQ_CODEC_RAW:
        return nq_value_new_bytes(out, m->data, m->size);
    case NQ_CODEC_PICKLE:
        return nq_pickle_load(m->data, m->size, out);
    }
    return nq_fail(NQ_EINVAL, "msg: unknown codec %d", (int)codec);
}


struct nq_msg *nq_msg_event(nq_msg_kind kind, const uint8_t *peer, const char *detail)
{
    size_t len = detail ? strlen(detail) : 0;
    struct nq_msg *m = nq_msg_alloc(len + 1);
    if (!m)
        return NULL;
    memcpy(m->inline_buf, detail ? detail : "", len + 1);
    m->detail = (const char *)m->inline_buf;
    m->data = m->inline_buf; /* empty payload (size 0); nq_msg_free knows inline_buf */
    m->size = m->have = 0;
    m->kind = kind;
    if (peer)
        memcpy(m->peer, peer, NQ_ID_SIZE);
    else
        memset(m->peer, 0, NQ_ID_SIZE);
    return m;
}

nq_msg_kind nq_msg_kind_of(const nq_msg *m)
{
    return m ? m->kind : NQ_MSG_DATA;
}

const char *nq_msg_event_detail(const nq_msg *m)
{
    return m && m->detail ? m->detail : "";
}
