/* Received messages. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/msg.h"
#include "core/status.h"
#include <netqueue/value.h>

/* Payload buffers too big for malloc's heap (glibc maps anything over
 * 32 MiB afresh and unmaps it at free) come back zero-filled page by page:
 * 16k page faults for a 64 MiB message, a third of its receive time. So
 * the last few freed are kept, process-wide, for the next big message:
 * at most NQ_BIG_KEEP buffers and NQ_BIG_KEEP_BYTES bytes, and one is
 * reused only for a message at least half its size. */
#define NQ_BIG_MIN (32u << 20)
#define NQ_BIG_KEEP 2
#define NQ_BIG_KEEP_BYTES (160u << 20)

static struct {
    pthread_mutex_t mu;
    uint8_t *buf[NQ_BIG_KEEP];
    size_t cap[NQ_BIG_KEEP];
    size_t n, bytes;
} big = {PTHREAD_MUTEX_INITIALIZER, {0}, {0}, 0, 0};

/* A kept buffer for a message of size bytes, or NULL. */
static uint8_t *big_take(size_t size, size_t *cap)
{
    if (size < NQ_BIG_MIN / 2)
        return NULL;
    uint8_t *b = NULL;
    pthread_mutex_lock(&big.mu);
    for (size_t i = 0; i < big.n; i++) {
        if (big.cap[i] >= size && big.cap[i] / 2 <= size) {
            b = big.buf[i];
            *cap = big.cap[i];
            big.bytes -= big.cap[i];
            big.buf[i] = big.buf[big.n - 1];
            big.cap[i] = big.cap[big.n - 1];
            big.n--;
            break;
        }
    }
    pthread_mutex_unlock(&big.mu);
    return b;
}

/* Keep b for a later message if there is room; else free it. */
static void big_give(uint8_t *b, size_t cap)
{
    if (cap >= NQ_BIG_MIN) {
        pthread_mutex_lock(&big.mu);
        int kept = big.n < NQ_BIG_KEEP && big.bytes + cap <= NQ_BIG_KEEP_BYTES;
        if (kept) {
            big.buf[big.n] = b;
            big.cap[big.n] = cap;
            big.n++;
            big.bytes += cap;
        }
        pthread_mutex_unlock(&big.mu);
        if (kept)
            return;
    }
    free(b);
}

struct nq_msg *nq_msg_alloc(size_t size)
{
    struct nq_msg *m;
    if (size <= NQ_MSG_INLINE_MAX) {
        m = malloc(sizeof *m + (size ? size : 1));
        if (!m)
            return NULL;
        m->data = m->inline_buf;
        m->cap = size;
    } else {
        m = malloc(sizeof *m);
        if (!m)
            return NULL;
        if (!(m->data = big_take(size, &m->cap))) {
            m->cap = size < NQ_MSG_FIRST_CAP ? size : NQ_MSG_FIRST_CAP;
            m->data = malloc(m->cap);
        }
        if (!m->data) {
            free(m);
            return NULL;
        }
    }
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
        big_give(m->data, m->cap);
    free(m);
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
