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
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/bigbuf.h"
#include "core/blockpool.h"
#include "core/thread_local.h"

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

/* Each thread keeps a few blocks of the small classes itself and moves
 * them to and from the shared lists LOCAL_BATCH at a time: a 64 B message
 * then costs a shared-list lock per LOCAL_BATCH messages instead of two
 * per message, whose cache lines the allocating and the freeing thread
 * otherwise pass back and forth. Bounded: LOCAL_MAX blocks per small class
 * per thread (under 0.5 MiB per thread in all), given back when the
 * thread exits. */
#define LOCAL_CLASSES 20 /* up to 4 KiB */
#define LOCAL_MAX 32
#define LOCAL_BATCH 16

struct local_cache {
    struct free_block *head[LOCAL_CLASSES];
    unsigned n[LOCAL_CLASSES];
};

/* The calling thread's cache (allocated on its first small block), or
 * &no_cache when one cannot be arranged; a pointer so that it can be
 * initial-exec (thread_local.h). */
static NQ_TLS_SMALL struct local_cache *local;
static struct local_cache no_cache;
static pthread_key_t local_key;
static pthread_once_t local_once = PTHREAD_ONCE_INIT;

static void push_chain(unsigned i, struct free_block *first, struct free_block *last,
                       unsigned count);

static void local_flush(void *arg)
{
    struct local_cache *lc = arg;
    local = NULL; /* a later destructor that frees makes and registers another */
    for (unsigned i = 0; i < LOCAL_CLASSES; i++) {
        while (lc->head[i]) {
            struct free_block *b = lc->head[i];
            lc->head[i] = b->next;
            b->next = NULL;
            push_chain(i, b, b, 1);
        }
    }
    free(lc);
}

static int local_key_made;

static void local_key_make(void)
{
    local_key_made = pthread_key_create(&local_key, local_flush) == 0;
}

/* A library unloaded while threads live must not leave them a destructor
 * that points into unmapped code. */
__attribute__((destructor)) static void local_key_unmake(void)
{
    if (local_key_made)
        pthread_key_delete(local_key);
}

/* The calling thread's cache, registered so that its exit gives it back;
 * NULL when that cannot be arranged (then the shared lists serve). */
static struct local_cache *local_get(void)
{
    struct local_cache *lc = local;
    if (__builtin_expect(lc != NULL, 1))
        return lc != &no_cache ? lc : NULL;
    pthread_once(&local_once, local_key_make);
    lc = local_key_made ? calloc(1, sizeof *lc) : NULL;
    if (lc && pthread_setspecific(local_key, lc) != 0) {
        free(lc);
        lc = NULL;
    }
    local = lc ? lc : &no_cache;
    return lc;
}

void *nq_pool_alloc(size_t n, size_t *cap)
{
    if (n > NQ_POOL_MAX) {
        void *b = nq_bigbuf_take(n, cap);
        if (!b) {
            *cap = n;
            b = nq_big_malloc(n);
        }
        return b;
    }
    unsigned i = class_of(n);
    struct pool_class *c = &classes[i];
    *cap = class_size(i);
    struct local_cache *lc = i < LOCAL_CLASSES ? local_get() : NULL;
    if (lc && lc->head[i]) {
        struct free_block *b = lc->head[i];
        lc->head[i] = b->next;
        lc->n[i]--;
        return b;
    }
    /* take one, and for the local cache up to LOCAL_BATCH - 1 more */
    unsigned want = lc ? LOCAL_BATCH : 1, got = 0;
    lock(c);
    struct free_block *b = c->head, *last = NULL;
    for (struct free_block *p = b; p && got < want; p = p->next) {
        last = p;
        got++;
    }
    if (got) {
        c->head = last->next;
        c->n -= got;
    }
    unlock(c);
    if (!got)
        return nq_big_malloc(*cap);
    atomic_fetch_sub_explicit(&pool_bytes, got * *cap, memory_order_relaxed);
    if (got > 1) {
        last->next = NULL;
        lc->head[i] = b->next;
        lc->n[i] = got - 1;
    }
    return b;
}

/* Put a chain of count blocks of class i on its shared list, freeing what
 * does not fit under the bounds. */
static void push_chain(unsigned i, struct free_block *first, struct free_block *last,
                       unsigned count)
{
    struct pool_class *c = &classes[i];
    size_t cap = class_size(i);
    size_t keep = NQ_POOL_CLASS_BYTES / cap;
    if (keep < 2)
        keep = 2;
    size_t bytes = (size_t)count * cap;
    if (atomic_fetch_add_explicit(&pool_bytes, bytes, memory_order_relaxed) + bytes >
        NQ_POOL_BYTES) {
        atomic_fetch_sub_explicit(&pool_bytes, bytes, memory_order_relaxed);
        goto free_all;
    }
    lock(c);
    if (c->n + count <= keep) {
        last->next = c->head;
        c->head = first;
        c->n += count;
        unlock(c);
        return;
    }
    unlock(c);
    atomic_fetch_sub_explicit(&pool_bytes, bytes, memory_order_relaxed);
free_all:
    while (first) {
        struct free_block *next = first == last ? NULL : first->next;
        free(first);
        first = next;
    }
}

void nq_pool_free(void *p, size_t cap)
{
    if (!p)
        return;
    /* only blocks of exactly a class's size are kept: anything else (a
     * message buffer realloc'd as bytes came, a big one) is not one of ours */
    unsigned i = cap <= NQ_POOL_MAX ? class_of(cap) : 0;
    if (cap > NQ_POOL_MAX || class_size(i) != cap) {
        nq_bigbuf_give(p, cap);
        return;
    }
    struct free_block *b = p;
    struct local_cache *lc = i < LOCAL_CLASSES ? local_get() : NULL;
    if (!lc) {
        push_chain(i, b, b, 1);
        return;
    }
    b->next = lc->head[i];
    lc->head[i] = b;
    if (++lc->n[i] < LOCAL_MAX)
        return;
    /* full: the older half goes to the shared list in one step */
    struct free_block *keep_last = b;
    for (unsigned k = 1; k < LOCAL_MAX - LOCAL_BATCH; k++)
        keep_last = keep_last->next;
    struct free_block *first = keep_last->next, *last = first;
    while (last->next)
        last = last->next;
    keep_last->next = NULL;
    lc->n[i] = LOCAL_MAX - LOCAL_BATCH;
    push_chain(i, first, last, LOCAL_BATCH);
}

size_t nq_pool_held_bytes(void)
{
    return atomic_load_explicit(&pool_bytes, memory_order_relaxed);
}

void nq_pool_release(void)
{
    struct local_cache *lc = local;
    if (lc && lc != &no_cache) {
        pthread_setspecific(local_key, NULL);
        local_flush(lc);
    }
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
