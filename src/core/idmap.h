/* Internal: a hash map from 16-byte ids to non-NULL pointers, for lookups
 * that happen per message (a targeted put's peers, the put-time peer
 * check) on servers with many clients. Callers serialize access. */
#ifndef NQ_CORE_IDMAP_H
#define NQ_CORE_IDMAP_H

#include <stddef.h>
#include <stdint.h>
#include <netqueue/common.h>

struct nq_idmap_slot {
    uint8_t id[NQ_ID_SIZE];
    void *val; /* NULL: empty */
};

struct nq_idmap {
    struct nq_idmap_slot *slots;
    size_t n, cap; /* cap: 0 or a power of two, at least 2n */
    uint64_t key;  /* per map: peers choose their ids, not where they land */
};

void *nq_idmap_get(const struct nq_idmap *m, const uint8_t *id);
/* Adds or replaces. 0, or -1 out of memory (the map is unchanged). */
int nq_idmap_put(struct nq_idmap *m, const uint8_t *id, void *val);
void nq_idmap_del(struct nq_idmap *m, const uint8_t *id);
void nq_idmap_free(struct nq_idmap *m);

#endif
