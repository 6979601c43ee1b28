/* Internal: a bounded, process-wide cache of big freed buffers (32 MiB
 * and more), so that big messages and big copying puts do not each map
 * fresh memory and fault it in page by page (bigbuf.c). */
#ifndef NQ_CORE_BIGBUF_H
#define NQ_CORE_BIGBUF_H

#include <stddef.h>

/* A kept buffer for size bytes (its capacity, at least size and at most
 * twice it, into *cap), or NULL: then allocate as usual. Any thread. */
void *nq_bigbuf_take(size_t size, size_t *cap);
/* Done with b, of capacity cap (malloc'd or from nq_bigbuf_take): kept
 * if big enough and there is room, else freed. Any thread. */
void nq_bigbuf_give(void *b, size_t cap);

/* malloc for big blocks: from NQ_HUGE_MIN bytes on, the block's whole
 * mapping is advised for transparent huge pages (where the kernel does
 * them on request, "madvise" mode), so that a fresh 64 MiB buffer faults
 * in 32 times instead of 16,384; realloc's mremap keeps the advice. Free
 * with free(). Any thread. */
#define NQ_HUGE_MIN ((size_t)4 << 20)
void *nq_big_malloc(size_t n);

#endif
