/* Internal: the nq_value node, shared by the value API and the pickle codec. */
#ifndef NQ_CODEC_VALUE_INTERNAL_H
#define NQ_CODEC_VALUE_INTERNAL_H

#include <stdbool.h>
#include <netqueue/value.h>

/* Deepest container nesting the codec accepts, both ways. */
#define NQ_VALUE_MAX_DEPTH 1000

struct nq_value {
    nq_value_type type;
    /* Owner container, NULL for a root: lets append refuse an item that is
     * already owned (a double free later) or an ancestor (a cycle). */
    nq_value *parent;
    /* Worklist link, so that freeing a deep tree never recurses. */
    nq_value *link;
    /* Decoder bookkeeping only (a pickle is a graph until it is unshared). */
    size_t refs;
    uint32_t height;
    unsigned visiting : 1;
    unsigned in_result : 1;
    union {
        int boolean;
        double real;
        struct {
            int64_t small; /* valid when size <= 8 */
            uint8_t inl[8];
            uint8_t *big;  /* size > 8: heap copy, else NULL (data in inl) */
            size_t size;   /* minimal two's complement length, 0 for zero */
        } integer;
        struct {
            uint8_t *data; /* always NUL-terminated, even for bytes */
            size_t size;
        } blob;
        struct {
            nq_value **slots; /* dict: key, item, key, item... */
            size_t len;       /* slots used */
            size_t cap;
        } seq;
    } u;
};

static inline bool nq_value_is_container(const nq_value *v)
{
    return v->type == NQ_VALUE_LIST || v->type == NQ_VALUE_TUPLE || v->type == NQ_VALUE_DICT;
}

static inline bool nq_value_is_blob(const nq_value *v)
{
    return v->type == NQ_VALUE_STR || v->type == NQ_VALUE_BYTES || v->type == NQ_VALUE_BYTEARRAY;
}

static inline const uint8_t *nq_int_bytes(const nq_value *v)
{
    return v->u.integer.big ? v->u.integer.big : v->u.integer.inl;
}

/* A node with no content; NULL when out of memory. */
nq_value *nq_value_alloc(nq_value_type type);
/* Fill an int node from little-endian two's complement bytes (any length;
 * stored minimal). Returns false when out of memory. */
bool nq_int_set_le(nq_value *v, const uint8_t *le, size_t size);
/* Fill a blob node with a NUL-terminated copy. False when out of memory. */
bool nq_blob_set(nq_value *v, const void *data, size_t size);
/* Append a slot without ownership checks. False when out of memory. */
bool nq_seq_push(nq_value *container, nq_value *item);
/* Free the node's own storage and the node, never its children. */
void nq_value_free_shallow(nq_value *v);

/* True if s[0..size) is strict UTF-8 (no overlongs, surrogates, > U+10FFFF). */
bool nq_utf8_valid(const uint8_t *s, size_t size);

#endif
