/* The process-wide cache of big buffers (bigbuf.h). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/bigbuf.h"

/* Buffers too big for malloc's heap (glibc maps anything over 32 MiB
 * afresh and unmaps it at free) come back zero-filled page by page: 16k
 * page faults for a 64 MiB message, a third of its receive time. So the
 * last few freed (received messages' payloads, copying puts' blocks) are
 * kept, process-wide, for the next big one:
 * at most NQ_BIG_KEEP buffers and NQ_BIG_KEEP_BYTES bytes, and one is
 * reused only for a message at least half its size. */
#define NQ_BIG_MIN (32u << 20)
#define NQ_BIG_KEEP 2
#define NQ_BIG_KEEP_BYTES (160u << 20)

static struct {
    pthread_mutex_t mu;
    void *buf[NQ_BIG_KEEP];
    size_t cap[NQ_BIG_KEEP];
    size_t n, bytes;
} big = {PTHREAD_MUTEX_INITIALIZER, {0}, {0}, 0, 0};

void *nq_bigbuf_take(size_t size, size_t *cap)
{
    if (size < NQ_BIG_MIN / 2)
        return NULL;
    void *b = NULL;
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

void nq_bigbuf_give(void *b, size_t cap)
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


static void big_advise(void *b, size_t n)
{
#ifdef MADV_HUGEPAGE
    /* the whole mapping malloc made for the block (it maps blocks this
     * big on their own, a 16-byte header in front): advice for a part of
     * it would split it, and a split mapping cannot be grown in place by
     * realloc's mremap (EFAULT: realloc then copies) */
    if (b && n >= NQ_HUGE_MIN) {
        const uintptr_t page = 4096;
        uintptr_t start = (uintptr_t)b & ~(page - 1);
        uintptr_t end = ((uintptr_t)b + n + page - 1) & ~(page - 1);
        (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
    }
#endif
}

void *nq_big_malloc(size_t n)
{
    void *b = malloc(n);
    big_advise(b, n);
    return b;
}
