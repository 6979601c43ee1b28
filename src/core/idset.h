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
    uint8_t *gone;  /* per slot: 1 once its id was removed (a hole) */
    size_t n;       /* ids in the set */
    size_t used;    /* slots in use, holes included */
    size_t cap;
    struct nq_idmap index; /* id -> its position + 1 */
};

static inline int nq_idset_find(const struct nq_idset *s, const uint8_t *id)
{
    uintptr_t at = (uintptr_t)nq_idmap_get(&s->index, id);
    return at ? (int)(at - 1) : -1;
}

/* Squeeze the holes out, keeping the order (moved ids get their new
 * positions in the index: replacing, so it cannot fail). */
static inline void nq_idset_compact(struct nq_idset *s)
{
    size_t to = 0;
    for (size_t i = 0; i < s->used; i++) {
        if (s->gone[i])
            continue;
        if (to != i) {
            memcpy(s->ids + to * NQ_ID_SIZE, s->ids + i * NQ_ID_SIZE, NQ_ID_SIZE);
            nq_idmap_put(&s->index, s->ids + to * NQ_ID_SIZE, (void *)(uintptr_t)(to + 1));
        }
        s->gone[to++] = 0;
    }
    s->used = to;
}

static inline int nq_idset_add(struct nq_idset *s, const uint8_t *id)
{
    if (nq_idset_find(s, id) >= 0)
        return 0;
    if (s->used == s->cap && s->used > s->n && s->used - s->n >= s->cap / 4) {
        nq_idset_compact(s);
    } else if (s->used == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        uint8_t *p = realloc(s->ids, cap * NQ_ID_SIZE);
        if (!p)
            return -1;
        s->ids = p;
        uint8_t *g = realloc(s->gone, cap);
        if (!g)
            return -1;
        s->gone = g;
        s->cap = cap;
    }
    if (nq_idmap_put(&s->index, id, (void *)(uintptr_t)(s->used + 1)) < 0)
        return -1;
    memcpy(s->ids + s->used * NQ_ID_SIZE, id, NQ_ID_SIZE);
    s->gone[s->used++] = 0;
    s->n++;
    return 0;
}

/* Leaves a hole, so the order is kept; the holes are squeezed out once
 * they are half the slots. Each removal is amortised O(1): moving every
 * later id down at once made closing N sessions O(N^2) (issue 16). */
static inline void nq_idset_remove(struct nq_idset *s, const uint8_t *id)
{
    int i = nq_idset_find(s, id);
    if (i < 0)
        return;
    nq_idmap_del(&s->index, id);
    s->gone[i] = 1;
    s->n--;
    if (s->n == 0)
        s->used = 0;
    else if (2 * (s->used - s->n) > s->used)
        nq_idset_compact(s);
}

/* Copies up to cap ids into out, in the order they were added; returns
 * how many the set holds. */
static inline size_t nq_idset_list(const struct nq_idset *s, uint8_t *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < s->used && k < cap; i++)
        if (!s->gone[i])
            memcpy(out + k++ * NQ_ID_SIZE, s->ids + i * NQ_ID_SIZE, NQ_ID_SIZE);
    return s->n;
}

static inline void nq_idset_free(struct nq_idset *s)
{
    free(s->ids);
    free(s->gone);
    s->ids = s->gone = NULL;
    s->n = s->used = s->cap = 0;
    nq_idmap_free(&s->index);
}

#endif
