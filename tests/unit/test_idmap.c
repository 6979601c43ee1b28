/* The id hash map (core/idmap.c) and the ordered id set on it
 * (core/idset.h): what was put is found, what was deleted is not, through
 * growth and the backward shifts of deletion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/idmap.h"
#include "core/idset.h"

#define N 20000

static void make_id(uint8_t *id, uint32_t i, int similar)
{
    memset(id, 0, NQ_ID_SIZE);
    if (similar) { /* ids that differ in one byte only: a weak hash would pile them up */
        id[15] = (uint8_t)i;
        id[14] = (uint8_t)(i >> 8);
        id[13] = (uint8_t)(i >> 16);
        return;
    }
    uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ULL + 1;
    for (int k = 0; k < NQ_ID_SIZE; k++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        id[k] = (uint8_t)(x * 0x2545f4914f6cdd1dULL >> 56);
    }
}

static void check_map(int similar)
{
    struct nq_idmap m = {0};
    uint8_t id[NQ_ID_SIZE];
    assert_null(nq_idmap_get(&m, (const uint8_t *)"0123456789abcdef"));
    for (uint32_t i = 0; i < N; i++) {
        make_id(id, i, similar);
        assert_int_equal(nq_idmap_put(&m, id, (void *)(uintptr_t)(i + 1)), 0);
    }
    assert_int_equal(m.n, N);
    for (uint32_t i = 0; i < N; i++) {
        make_id(id, i, similar);
        assert_ptr_equal(nq_idmap_get(&m, id), (void *)(uintptr_t)(i + 1));
    }
    /* replace keeps the count */
    make_id(id, 7, similar);
    assert_int_equal(nq_idmap_put(&m, id, (void *)(uintptr_t)99), 0);
    assert_int_equal(m.n, N);
    assert_ptr_equal(nq_idmap_get(&m, id), (void *)(uintptr_t)99);
    /* delete every third (and one that is not there) */
    for (uint32_t i = 0; i < N; i += 3) {
        make_id(id, i, similar);
        nq_idmap_del(&m, id);
    }
    make_id(id, N + 5, similar);
    nq_idmap_del(&m, id);
    for (uint32_t i = 0; i < N; i++) {
        make_id(id, i, similar);
        void *want = i % 3 == 0 ? NULL : (void *)(uintptr_t)(i == 7 ? 99 : i + 1);
        assert_ptr_equal(nq_idmap_get(&m, id), want);
    }
    assert_int_equal(m.n, N - (N + 2) / 3);
    nq_idmap_free(&m);
    assert_null(nq_idmap_get(&m, id));
}

static void test_map_random_ids(void **state)
{
    (void)state;
    check_map(0);
}

static void test_map_similar_ids(void **state)
{
    (void)state;
    check_map(1);
}

static void test_set_keeps_order(void **state)
{
    (void)state;
    struct nq_idset s = {0};
    uint8_t id[NQ_ID_SIZE];
    for (uint32_t i = 0; i < 100; i++) {
        make_id(id, i, 0);
        assert_int_equal(nq_idset_add(&s, id), 0);
        assert_int_equal(nq_idset_add(&s, id), 0); /* twice: once in the set */
    }
    assert_int_equal(s.n, 100);
    for (uint32_t i = 0; i < 100; i += 2) {
        make_id(id, i, 0);
        nq_idset_remove(&s, id);
    }
    assert_int_equal(s.n, 50);
    for (uint32_t k = 0; k < 50; k++) { /* the odd ones, in the order added */
        make_id(id, 2 * k + 1, 0);
        assert_memory_equal(s.ids + k * NQ_ID_SIZE, id, NQ_ID_SIZE);
        assert_int_equal(nq_idset_find(&s, id), (int)k);
    }
    make_id(id, 0, 0);
    assert_int_equal(nq_idset_find(&s, id), -1);
    nq_idset_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_random_ids),
        cmocka_unit_test(test_map_similar_ids),
        cmocka_unit_test(test_set_keeps_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
