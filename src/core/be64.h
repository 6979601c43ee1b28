/* Internal: the 8-byte big-endian length of a frame header. One load or
 * store and a byte swap: the byte-at-a-time loops these replace were ~40
 * instructions per 64 B message on each side. */
#ifndef NQ_CORE_BE64_H
#define NQ_CORE_BE64_H

#include <stdint.h>
#include <string.h>

static inline uint64_t nq_get_be64(const uint8_t *b)
{
    uint64_t v;
    memcpy(&v, b, sizeof v);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void nq_put_be64(uint8_t *b, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(b, &v, sizeof v);
}

#endif
