/* The process-wide block pool: classes fit what is asked within a quarter,
 * freed blocks are reused, and what it keeps stays within its bounds
 * (per class and overall), also while threads allocate and free at once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/blockpool.h"

static void test_classes_fit(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = i < 4096 ? (size_t)i : (size_t)(x % NQ_POOL_MAX) + 1;
        size_t cap = 0;
        void *b = nq_pool_alloc(n, &cap);
        assert_non_null(b);
        assert_true(cap >= n);
        if (n <= 512)
            assert_true(cap % 64 == 0 && cap - n < 64 + (n == 0) * 64);
        else
            assert_true(cap <= n + n / 4 + 1);
        /* the block really is that big (ASan checks both ends) */
        memset(b, 0xa5, n < 4096 ? (n ? n : 1) : 4096);
        ((unsigned char *)b)[cap - 1] = 0x5a;
        nq_pool_free(b, cap);
    }
}

static void test_reuse(void **state)
{
    (void)state;
    size_t cap1, cap2;
    void *a = nq_pool_alloc(1000, &cap1);
    nq_pool_free(a, cap1);
    void *b = nq_pool_alloc(900, &cap2); /* same class: 1 KiB */
    assert_int_equal(cap1, 1024);
    assert_int_equal(cap2, 1024);
    assert_ptr_equal(a, b);
    nq_pool_free(b, cap2);
}

static void test_foreign_not_kept(void **state)
{
    (void)state;
    size_t before = nq_pool_held_bytes();
    nq_pool_free(malloc(1000), 1000); /* 1000 is no class size */
    assert_int_equal(nq_pool_held_bytes(), before);
    nq_pool_free(NULL, 64);
    assert_int_equal(nq_pool_held_bytes(), before);
}

static void test_class_bound(void **state)
{
    (void)state;
    enum { N = 3000 };
    static void *b[N];
    size_t cap = 0;
    nq_pool_release();
    assert_int_equal(nq_pool_held_bytes(), 0);
    for (int i = 0; i < N; i++) {
        b[i] = nq_pool_alloc(4096, &cap);
        assert_non_null(b[i]);
    }
    for (int i = 0; i < N; i++)
        nq_pool_free(b[i], cap);
    /* 4 MiB of 4 KiB blocks were kept, the rest freed */
    assert_int_equal(nq_pool_held_bytes(), NQ_POOL_CLASS_BYTES);
}

static void test_total_bound(void **state)
{
    (void)state;
    nq_pool_release();
    /* every class from 64 KiB up, each filled to its own bound: far more
     * than the pool may keep over all */
    for (size_t n = 64 << 10; n <= NQ_POOL_MAX; n += n / 4) {
        size_t cap = 0;
        void *b[64];
        int k = 0;
        for (; k < 64 && (size_t)k * n < 2 * NQ_POOL_CLASS_BYTES; k++)
            b[k] = nq_pool_alloc(n, &cap);
        for (int i = 0; i < k; i++)
            nq_pool_free(b[i], cap);
        assert_true(nq_pool_held_bytes() <= NQ_POOL_BYTES);
    }
    assert_true(nq_pool_held_bytes() > NQ_POOL_BYTES / 2);
}

static void *churn(void *arg)
{
    uintptr_t seed = (uintptr_t)arg;
    void *held[32] = {0};
    size_t caps[32];
    for (int i = 0; i < 200000; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int slot = (int)((seed >> 33) % 32);
        if (held[slot]) {
            assert_true(((unsigned char *)held[slot])[0] == (unsigned char)slot);
            nq_pool_free(held[slot], caps[slot]);
            held[slot] = NULL;
        } else {
            size_t n = (size_t)((seed >> 17) % 20000) + 1;
            held[slot] = nq_pool_alloc(n, &caps[slot]);
            assert_non_null(held[slot]);
            memset(held[slot], slot, n);
        }
    }
    for (int s = 0; s < 32; s++)
        nq_pool_free(held[s], caps[s]);
    return NULL;
}

/* One thread's blocks freed by another, as messages go from the I/O thread
 * to a getter: nothing is handed out twice (the fill pattern checks it). */
static void test_threads(void **state)
{
    (void)state;
    pthread_t t[3];
    for (uintptr_t i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)(i + 1)), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_true(nq_pool_held_bytes() <= NQ_POOL_BYTES);
    nq_pool_release();
    assert_int_equal(nq_pool_held_bytes(), 0);
}

static void *keep_twenty(void *arg)
{
    (void)arg;
    void *b[20];
    size_t cap = 0;
    for (int i = 0; i < 20; i++)
        b[i] = nq_pool_alloc(64, &cap);
    for (int i = 0; i < 20; i++)
        nq_pool_free(b[i], cap);
    /* fewer than a batch: still in this thread's own cache */
    assert_int_equal(nq_pool_held_bytes(), 0);
    return NULL;
}

/* A thread's own cache goes back to the shared lists when it exits. */
static void test_thread_exit_gives_back(void **state)
{
    (void)state;
    nq_pool_release();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, keep_twenty, NULL), 0);
    pthread_join(t, NULL);
    assert_int_equal(nq_pool_held_bytes(), 20 * 64);
    nq_pool_release();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classes_fit),   cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_foreign_not_kept), cmocka_unit_test(test_class_bound),
        cmocka_unit_test(test_total_bound),   cmocka_unit_test(test_threads),
        cmocka_unit_test(test_thread_exit_gives_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
