/* Internal: a small set of 16-byte ids (callers hold the lock). Linear, as
 * the sets hold one entry per connected client. */
#ifndef NQ_CORE_IDSET_H
#define NQ_CORE_IDSET_H

#include <stdlib.h>
#include <string.h>
#include <netqueue/common.h>

struct nq_idset {
    uint8_t *ids;
    size_t n, cap;
};

static inline int nq_idset_find(const struct nq_idset *s, const uint8_t *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (memcmp(s->ids + i * NQ_ID_SIZE, id, NQ_ID_SIZE) == 0)
            return (int)i;
    return -1;
}

static inline int nq_idset_add(struct nq_idset *s, const uint8_t *id)
{
    if (nq_idset_find(s, id) >= 0)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        uint8_t *p = realloc(s->ids, cap * NQ_ID_SIZE);
        if (!p)
            return -1;
        s->ids = p;
        s->cap = cap;
    }
    memcpy(s->ids + s->n * NQ_ID_SIZE, id, NQ_ID_SIZE);
    s->n++;
    return 0;
}

static inline void nq_idset_remove(struct nq_idset *s, const uint8_t *id)
{
    int i = nq_idset_find(s, id);
    if (i < 0)
        return;
    uint8_t *p = s->ids + (size_t)i * NQ_ID_SIZE;
    memmove(p, p + NQ_ID_SIZE, (s->n - (size_t)i - 1) * NQ_ID_SIZE);
    s->n--;
}

static inline void nq_idset_free(struct nq_idset *s)
{
    free(s->ids);
    s->ids = NULL;
    s->n = s->cap = 0;
}

#endif
