/* Open addressing with linear probing and backward-shift deletion (no
 * tombstones, so lookups never slow down after many removals). */
#include "core/idmap.h"

#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"

static size_t slot_of(const struct nq_idmap *m, const uint8_t *id)
{
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    uint64_t h = (a ^ m->key) * 0x9e3779b97f4a7c15ULL;
    h ^= (b + (h >> 29)) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
    return (size_t)h & (m->cap - 1);
}

void *nq_idmap_get(const struct nq_idmap *m, const uint8_t *id)
{
    if (!m->n)
        return NULL;
    for (size_t i = slot_of(m, id);; i = (i + 1) & (m->cap - 1)) {
        const struct nq_idmap_slot *s = &m->slots[i];
        if (!s->val)
            return NULL;
        if (memcmp(s->id, id, NQ_ID_SIZE) == 0)
            return s->val;
    }
}

static void place(struct nq_idmap *m, const uint8_t *id, void *val)
{
    size_t i = slot_of(m, id);
    while (m->slots[i].val && memcmp(m->slots[i].id, id, NQ_ID_SIZE) != 0)
        i = (i + 1) & (m->cap - 1);
    if (!m->slots[i].val)
        m->n++;
    memcpy(m->slots[i].id, id, NQ_ID_SIZE);
    m->slots[i].val = val;
}

static int grow(struct nq_idmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    struct nq_idmap_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    struct nq_idmap old = *m;
    if (!m->cap) /* first use: a key of its own */
        m->key = (uint64_t)nq_now_ns() * 0xd6e8feb86659fd93ULL ^ (uint64_t)(uintptr_t)m;
    m->slots = slots;
    m->cap = cap;
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].val)
            place(m, old.slots[i].id, old.slots[i].val);
    free(old.slots);
    return 0;
}

int nq_idmap_put(struct nq_idmap *m, const uint8_t *id, void *val)
{
    if (2 * (m->n + 1) > m->cap && grow(m) < 0)
        return -1;
    place(m, id, val);
    return 0;
}

void nq_idmap_del(struct nq_idmap *m, const uint8_t *id)
{
    if (!m->n)
        return;
    size_t mask = m->cap - 1, i = slot_of(m, id);
    while (m->slots[i].val && memcmp(m->slots[i].id, id, NQ_ID_SIZE) != 0)
        i = (i + 1) & mask;
    if (!m->slots[i].val)
        return;
    m->n--;
    /* shift back the entries whose probe ran through the freed slot */
    for (size_t j = (i + 1) & mask; m->slots[j].val; j = (j + 1) & mask) {
        size_t home = slot_of(m, m->slots[j].id);
        /* j's entry may move to i unless its home lies in (i, j] */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].val = NULL;
}

void nq_idmap_free(struct nq_idmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->n = m->cap = 0;
}
