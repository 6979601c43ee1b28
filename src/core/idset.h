/* Internal: a set of 16-byte ids in the order they were added (callers
 * hold the lock): a dense array, for listing, and a hash index into it,
 * for the lookups every targeted put makes. */
#ifndef NQ_CORE_IDSET_H
#define NQ_CORE_IDSET_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netqueue/common.h>

#include "core/idmap.h"

struct nq_idset {
    uint8_t *ids;
    size_t n, cap;
    struct nq_idmap index; /* id -> its position + 1 */
};

static inline int nq_idset_find(const struct nq_idset *s, const uint8_t *id)
{
    uintptr_t at = (uintptr_t)nq_idmap_get(&s->index, id);
    return at ? (int)(at - 1) : -1;
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
    if (nq_idmap_put(&s->index, id, (void *)(uintptr_t)(s->n + 1)) < 0)
        return -1;
    memcpy(s->ids + s->n * NQ_ID_SIZE, id, NQ_ID_SIZE);
    s->n++;
    return 0;
}

/* Keeps the order: the ids after it move down, and their positions in the
 * index with them (removals are disconnections, not per message). */
static inline void nq_idset_remove(struct nq_idset *s, const uint8_t *id)
{
    int i = nq_idset_find(s, id);
    if (i < 0)
        return;
    nq_idmap_del(&s->index, id);
    uint8_t *p = s->ids + (size_t)i * NQ_ID_SIZE;
    memmove(p, p + NQ_ID_SIZE, (s->n - (size_t)i - 1) * NQ_ID_SIZE);
    s->n--;
    for (size_t j = (size_t)i; j < s->n; j++) /* replacing: cannot fail */
        nq_idmap_put(&s->index, s->ids + j * NQ_ID_SIZE, (void *)(uintptr_t)(j + 1));
}

static inline void nq_idset_free(struct nq_idset *s)
{
    free(s->ids);
    s->ids = NULL;
    s->n = s->cap = 0;
    nq_idmap_free(&s->index);
}

#endif
