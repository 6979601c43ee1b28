/* Completion queues: nq_cq_next_batch (order, capacity, errors, shutdown),
 * the coalesced wake-up of sleeping takers, and token recycling (tokens
 * pass through the pool many times and beyond its bound; ASan and
 * LeakSanitizer check nothing is freed twice or lost). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <netqueue/netqueue.h>
#include "core/future_internal.h"

static void post(nq_cq *cq, uint64_t tag, nq_status st)
{
    struct nq_cq_token *t;
    assert_int_equal(nq_cq_token_new(&t, cq, tag), NQ_OK);
    nq_cq_complete(t, st);
}

static void test_batch_order_and_cap(void **state)
{
    (void)state;
    nq_cq *cq;
    assert_int_equal(nq_cq_new(&cq), NQ_OK);
    uint64_t tags[8];
    nq_status res[8];
    size_t n = 99;
    assert_int_equal(nq_cq_next_batch(cq, 0, tags, res, 8, &n), NQ_ETIMEDOUT);
    assert_int_equal(n, 0);
    assert_int_equal(nq_cq_next_batch(cq, 20, tags, res, 8, &n), NQ_ETIMEDOUT);
    for (uint64_t i = 0; i < 5; i++)
        post(cq, 100 + i, i == 3 ? NQ_ERESET : NQ_OK);
    /* capacity 3: the first three, in posting order */
    assert_int_equal(nq_cq_next_batch(cq, NQ_FOREVER, tags, res, 3, &n), NQ_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(tags[i], 100 + i);
        assert_int_equal(res[i], NQ_OK);
    }
    /* the rest; a single take with nq_cq_next mixes in */
    assert_int_equal(nq_cq_next(cq, 0, &tags[0], &res[0]), NQ_OK);
    assert_int_equal(tags[0], 103);
    assert_int_equal(res[0], NQ_ERESET);
    assert_int_equal(nq_cq_next_batch(cq, 0, tags, res, 8, &n), NQ_OK);
    assert_int_equal(n, 1);
    assert_int_equal(tags[0], 104);
    assert_int_equal(nq_cq_next_batch(cq, 0, tags, res, 8, &n), NQ_ETIMEDOUT);
    assert_int_equal(n, 0);
    /* arrays may be NULL */
    post(cq, 7, NQ_ECANCELED);
    post(cq, 8, NQ_OK);
    assert_int_equal(nq_cq_next_batch(cq, 0, NULL, res, 8, &n), NQ_OK);
    assert_int_equal(n, 2);
    assert_int_equal(res[0], NQ_ECANCELED);
    post(cq, 9, NQ_OK);
    assert_int_equal(nq_cq_next_batch(cq, 0, tags, NULL, 8, &n), NQ_OK);
    assert_int_equal(n, 1);
    assert_int_equal(tags[0], 9);
    nq_cq_free(cq);
}

static void test_batch_errors_and_shutdown(void **state)
{
    (void)state;
    nq_cq *cq;
    uint64_t tags[4];
    nq_status res[4];
    size_t n = 5;
    assert_int_equal(nq_cq_next_batch(NULL, 0, tags, res, 4, &n), NQ_EINVAL);
    assert_int_equal(n, 0);
    assert_int_equal(nq_cq_new(&cq), NQ_OK);
    assert_int_equal(nq_cq_next_batch(cq, 0, tags, res, 4, NULL), NQ_EINVAL);
    assert_int_equal(nq_cq_next_batch(cq, 0, tags, res, 0, &n), NQ_EINVAL);
    /* shutdown: what is queued is still taken, then NQ_ECLOSED */
    post(cq, 1, NQ_OK);
    post(cq, 2, NQ_OK);
    nq_cq_shutdown(cq);
    assert_int_equal(nq_cq_next_batch(cq, NQ_FOREVER, tags, res, 4, &n), NQ_OK);
    assert_int_equal(n, 2);
    assert_int_equal(tags[1], 2);
    assert_int_equal(nq_cq_next_batch(cq, NQ_FOREVER, tags, res, 4, &n), NQ_ECLOSED);
    assert_int_equal(n, 0);
    assert_int_equal(nq_cq_next(cq, NQ_FOREVER, &tags[0], &res[0]), NQ_ECLOSED);
    nq_cq_free(cq);
}

/* Several posting threads, several takers asleep or awake: every tag is
 * taken exactly once, and no taker sleeps through a post (the test would
 * hang: ctest's timeout). */
#define POSTERS 3
#define PER_POSTER 60000
#define TAKERS 2

struct shared {
    nq_cq *cq;
    _Atomic int seen[POSTERS * PER_POSTER];
    atomic_size_t taken;
};

static void *poster(void *arg)
{
    struct shared *s = arg;
    static atomic_int next_id;
    int id = atomic_fetch_add(&next_id, 1) % POSTERS;
    for (int i = 0; i < PER_POSTER; i++) {
        struct nq_cq_token *t;
        if (nq_cq_token_new(&t, s->cq, (uint64_t)id * PER_POSTER + i) != NQ_OK)
            abort();
        nq_cq_complete(t, NQ_OK);
        if (i % 4096 == 0)
            sched_yield(); /* let the takers fall asleep now and then */
    }
    return NULL;
}

static void *taker(void *arg)
{
    struct shared *s = arg;
    uint64_t tags[100];
    nq_status res[100];
    for (int k = 0;; k++) {
        size_t n;
        nq_status st = k % 2 ? nq_cq_next_batch(s->cq, NQ_FOREVER, tags, res, 100, &n)
                             : nq_cq_next_batch(s->cq, 50, tags, res, 1 + k % 100, &n);
        if (st == NQ_ECLOSED)
            return NULL;
        if (st == NQ_ETIMEDOUT)
            continue;
        if (st != NQ_OK)
            abort();
        for (size_t i = 0; i < n; i++) {
            if (tags[i] >= POSTERS * PER_POSTER || res[i] != NQ_OK)
                abort();
            atomic_fetch_add(&s->seen[tags[i]], 1);
        }
        atomic_fetch_add(&s->taken, n);
    }
}

static void test_threads(void **state)
{
    (void)state;
    struct shared *s = calloc(1, sizeof *s);
    assert_non_null(s);
    assert_int_equal(nq_cq_new(&s->cq), NQ_OK);
    pthread_t p[POSTERS], t[TAKERS];
    for (int i = 0; i < TAKERS; i++)
        pthread_create(&t[i], NULL, taker, s);
    for (int i = 0; i < POSTERS; i++)
        pthread_create(&p[i], NULL, poster, s);
    for (int i = 0; i < POSTERS; i++)
        pthread_join(p[i], NULL);
    while (atomic_load(&s->taken) < POSTERS * PER_POSTER)
        sched_yield();
    nq_cq_shutdown(s->cq);
    for (int i = 0; i < TAKERS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < POSTERS * PER_POSTER; i++)
        assert_int_equal(atomic_load(&s->seen[i]), 1);
    nq_cq_free(s->cq);
    free(s);
}

/* A taker asleep without a deadline is woken by a post from another thread. */
static void *post_later(void *cq)
{
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    post(cq, 42, NQ_ENOPEER);
    return NULL;
}

static void test_wakes_sleeper(void **state)
{
    (void)state;
    nq_cq *cq;
    assert_int_equal(nq_cq_new(&cq), NQ_OK);
    for (int round = 0; round < 20; round++) {
        pthread_t th;
        pthread_create(&th, NULL, post_later, cq);
        uint64_t tag = 0;
        nq_status r = NQ_OK;
        size_t n = 0;
        if (round % 2)
            assert_int_equal(nq_cq_next(cq, NQ_FOREVER, &tag, &r), NQ_OK);
        else
            assert_int_equal(nq_cq_next_batch(cq, NQ_FOREVER, &tag, &r, 1, &n), NQ_OK);
        assert_int_equal(tag, 42);
        assert_int_equal(r, NQ_ENOPEER);
        pthread_join(th, NULL);
    }
    nq_cq_free(cq);
}

/* Tokens: more in flight than a queue keeps in slabs (65536), so some are
 * loose; reused many times; some given back unposted (a put that failed
 * at once); at free, slab and loose tokens left queued and pooled. */
static void test_token_recycling(void **state)
{
    (void)state;
    enum { N = 70000 };
    nq_cq *cq;
    assert_int_equal(nq_cq_new(&cq), NQ_OK);
    struct nq_cq_token **tok = calloc(N, sizeof *tok);
    assert_non_null(tok);
    uint64_t *tags = calloc(N, sizeof *tags);
    assert_non_null(tags);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++)
            assert_int_equal(nq_cq_token_new(&tok[i], cq, (uint64_t)round * N + i), NQ_OK);
        for (int i = 0; i < N; i++) {
            if (i % 10 == 0)
                nq_cq_token_free(tok[i]); /* never posted */
            else
                nq_cq_complete(tok[i], NQ_OK);
        }
        size_t got = 0, n;
        while (nq_cq_next_batch(cq, 0, tags + got, NULL, N - got, &n) == NQ_OK)
            got += n;
        assert_int_equal(got, N - N / 10);
        for (size_t i = 0; i < got; i++) /* posting order, unposted ones left out */
            assert_int_equal(tags[i], (uint64_t)round * N + (i / 9) * 10 + 1 + i % 9);
    }
    for (int i = 0; i < N; i++) /* queued at free */
        post(cq, (uint64_t)i, NQ_OK);
    free(tok);
    free(tags);
    nq_cq_free(cq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_order_and_cap),
        cmocka_unit_test(test_batch_errors_and_shutdown),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_wakes_sleeper),
        cmocka_unit_test(test_token_recycling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
