/* The id hash map (core/idmap.c) and the ordered id set on it
 * (core/idset.h): what was put is found, what was deleted is not, through
 * growth and the backward shifts of deletion; the set's order, holes and
 * their compaction. */
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
    uint8_t out[100 * NQ_ID_SIZE];
    assert_int_equal(nq_idset_list(&s, out, 100), 50);
    for (uint32_t k = 0; k < 50; k++) { /* the odd ones, in the order added */
        make_id(id, 2 * k + 1, 0);
        assert_memory_equal(out + k * NQ_ID_SIZE, id, NQ_ID_SIZE);
        assert_true(nq_idset_find(&s, id) >= 0);
    }
    assert_int_equal(nq_idset_list(&s, out, 3), 50); /* a short buffer gets the first */
    make_id(id, 1, 0);
    assert_memory_equal(out, id, NQ_ID_SIZE);
    make_id(id, 0, 0);
    assert_int_equal(nq_idset_find(&s, id), -1);
    nq_idset_free(&s);
}

/* Adds and removals in a random mix (removals leave holes that are
 * squeezed out later): membership, count and order always match a plain
 * model of the set. */
static void test_set_model(void **state)
{
    (void)state;
    enum { IDS = 300, STEPS = 20000 };
    struct nq_idset s = {0};
    uint32_t model[IDS], mn = 0; /* ids in the set, in the order added */
    uint8_t id[NQ_ID_SIZE], out[IDS * NQ_ID_SIZE];
    uint64_t x = 88172645463325252ULL;
    for (int step = 0; step < STEPS; step++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t v = (uint32_t)(x % IDS);
        int at = -1;
        for (uint32_t k = 0; k < mn; k++)
            if (model[k] == v)
                at = (int)k;
        make_id(id, v, 0);
        assert_int_equal(nq_idset_find(&s, id) >= 0, at >= 0);
        if ((x >> 32) % 3 == 0 && at < 0) {
            assert_int_equal(nq_idset_add(&s, id), 0);
            model[mn++] = v;
        } else if (at >= 0 && (x >> 32) % 3 != 0) {
            nq_idset_remove(&s, id);
            memmove(model + at, model + at + 1, (mn - (uint32_t)at - 1) * sizeof *model);
            mn--;
        }
        assert_int_equal(s.n, mn);
        if (step % 97 == 0 || step == STEPS - 1) {
            assert_int_equal(nq_idset_list(&s, out, IDS), mn);
            for (uint32_t k = 0; k < mn; k++) {
                make_id(id, model[k], 0);
                assert_memory_equal(out + k * NQ_ID_SIZE, id, NQ_ID_SIZE);
            }
        }
    }
    nq_idset_free(&s);
}

/* Emptying a big set in the order it was filled (a server closing) keeps
 * the holes bounded: the slots in use never exceed twice the ids. */
static void test_set_drain(void **state)
{
    (void)state;
    struct nq_idset s = {0};
    uint8_t id[NQ_ID_SIZE];
    for (uint32_t i = 0; i < N; i++) {
        make_id(id, i, 1);
        assert_int_equal(nq_idset_add(&s, id), 0);
    }
    for (uint32_t i = 0; i < N; i++) {
        make_id(id, i, 1);
        nq_idset_remove(&s, id);
        assert_int_equal(s.n, N - i - 1);
        assert_true(s.used <= 2 * s.n + 1);
        if (i + 1 < N) {
            make_id(id, i + 1, 1);
            assert_true(nq_idset_find(&s, id) >= 0);
        }
    }
    assert_int_equal(s.used, 0);
    nq_idset_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_random_ids),
        cmocka_unit_test(test_map_similar_ids),
        cmocka_unit_test(test_set_keeps_order),
        cmocka_unit_test(test_set_model),
        cmocka_unit_test(test_set_drain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
