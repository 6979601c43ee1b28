/* Internal: a bounded, process-wide pool of freed memory blocks by size
 * class, for what one thread allocates and another frees on every message:
 * received messages (the I/O thread allocates, a getter frees) and copying
 * puts (a putter allocates, the I/O thread frees). */
#ifndef NQ_CORE_BLOCKPOOL_H
#define NQ_CORE_BLOCKPOOL_H

#include <stddef.h>

/* Blocks up to this size come in classes (64 B steps to 512 B, then four
 * per power of two) and are kept when freed; bigger ones go to bigbuf.h
 * or malloc. */
#define NQ_POOL_MAX ((size_t)8 << 20)
/* At most this many bytes kept in the shared lists over all classes, and
 * per class at most NQ_POOL_CLASS_BYTES (but always 2 blocks). */
#define NQ_POOL_BYTES ((size_t)32 << 20)
#define NQ_POOL_CLASS_BYTES ((size_t)4 << 20)

/* A block of at least n bytes (its capacity into *cap), or NULL when out
 * of memory. Any thread. */
void *nq_pool_alloc(size_t n, size_t *cap);
/* Done with b, of capacity cap as nq_pool_alloc gave it (or any malloc'd
 * block and its size): kept for reuse if its class has room, else freed.
 * NULL is ignored. Any thread. */
void nq_pool_free(void *b, size_t cap);
/* Free every kept block: the shared lists and the calling thread's own
 * (tests; a process that wants the memory back). Any thread. */
void nq_pool_release(void);
/* Bytes held in the shared lists now (tests, statistics); each thread
 * also keeps up to 32 blocks of each class up to 4 KiB itself (under
 * 0.5 MiB a thread). Any thread. */
size_t nq_pool_held_bytes(void);

#endif
