/* The process-wide pool of freed blocks (blockpool.h).
 *
 * Why: a block malloc'd on one thread and freed on another goes back to
 * the allocating thread's arena under that arena's lock (a futex fight on
 * every message), and glibc gives the arena's free top back to the kernel
 * whenever it passes 128 KiB, so the next messages fault their pages in
 * again: 16 KiB one-way cost 1.2 page faults per message on the receiver.
 * Kept blocks circulate between the threads instead. Classes are at most
 * 25 % bigger than what is asked, so held memory stays within a quarter of
 * what the send and receive limits count. */
#include <stdatomic.h>
#include <stdlib.h>

#include "core/bigbuf.h"
#include "core/blockpool.h"

#define SMALL_STEP 64u
#define SMALL_MAX 512u
#define NCLASSES (8 + 14 * 4) /* 64..512 by 64, then 4 per octave to 8 MiB */

struct free_block {
    struct free_block *next;
};

static struct pool_class {
    atomic_flag lock; /* held for a pointer swap only */
    struct free_block *head;
    size_t n;
} classes[NCLASSES];

static atomic_size_t pool_bytes;

static int log2_floor(size_t v)
{
    return (int)(sizeof(unsigned long long) * 8 - 1) - __builtin_clzll((unsigned long long)v);
}

/* The class of a request of n bytes (n <= NQ_POOL_MAX). */
static unsigned class_of(size_t n)
{
    if (n <= SMALL_MAX)
        return n ? (unsigned)((n + SMALL_STEP - 1) / SMALL_STEP) - 1 : 0;
    int k = log2_floor(n - 1); /* 2^k < n <= 2^(k+1) */
    size_t quarter = (size_t)1 << (k - 2);
    size_t q = (n - ((size_t)1 << k) + quarter - 1) / quarter; /* 1..4 */
    return 8 + (unsigned)(k - 9) * 4 + (unsigned)(q - 1);
}

static size_t class_size(unsigned i)
{
    if (i < 8)
        return (size_t)(i + 1) * SMALL_STEP;
    unsigned k = 9 + (i - 8) / 4, q = (i - 8) % 4 + 1;
    return ((size_t)1 << k) + q * ((size_t)1 << (k - 2));
}

static void lock(struct pool_class *c)
{
    while (atomic_flag_test_and_set_explicit(&c->lock, memory_order_acquire))
        ;
}

static void unlock(struct pool_class *c)
{
    atomic_flag_clear_explicit(&c->lock, memory_order_release);
}

void *nq_pool_alloc(size_t n, size_t *cap)
{
    if (n > NQ_POOL_MAX) {
        void *b = nq_bigbuf_take(n, cap);
        if (!b) {
            *cap = n;
            b = malloc(n);
        }
        return b;
    }
    unsigned i = class_of(n);
    struct pool_class *c = &classes[i];
    *cap = class_size(i);
    lock(c);
    struct free_block *b = c->head;
    if (b) {
        c->head = b->next;
        c->n--;
    }
    unlock(c);
    if (b) {
        atomic_fetch_sub_explicit(&pool_bytes, *cap, memory_order_relaxed);
        return b;
    }
    return malloc(*cap);
}

void nq_pool_free(void *p, size_t cap)
{
    if (!p)
        return;
    /* only blocks of exactly a class's size are kept: anything else (a
     * message buffer realloc'd as bytes came, a big one) is not one of ours */
    if (cap > NQ_POOL_MAX || class_size(class_of(cap)) != cap) {
        nq_bigbuf_give(p, cap);
        return;
    }
    struct pool_class *c = &classes[class_of(cap)];
    size_t keep = NQ_POOL_CLASS_BYTES / cap;
    if (keep < 2)
        keep = 2;
    if (atomic_fetch_add_explicit(&pool_bytes, cap, memory_order_relaxed) + cap > NQ_POOL_BYTES) {
        atomic_fetch_sub_explicit(&pool_bytes, cap, memory_order_relaxed);
        free(p);
        return;
    }
    struct free_block *b = p;
    lock(c);
    int kept = c->n < keep;
    if (kept) {
        b->next = c->head;
        c->head = b;
        c->n++;
    }
    unlock(c);
    if (!kept) {
        atomic_fetch_sub_explicit(&pool_bytes, cap, memory_order_relaxed);
        free(p);
    }
}

size_t nq_pool_held_bytes(void)
{
    return atomic_load_explicit(&pool_bytes, memory_order_relaxed);
}

void nq_pool_release(void)
{
    for (unsigned i = 0; i < NCLASSES; i++) {
        struct pool_class *c = &classes[i];
        lock(c);
        struct free_block *b = c->head;
        c->head = NULL;
        c->n = 0;
        unlock(c);
        while (b) {
            struct free_block *next = b->next;
            atomic_fetch_sub_explicit(&pool_bytes, class_size(i), memory_order_relaxed);
            free(b);
            b = next;
        }
    }
}
