/* Futures and completion queues complete exactly once, and can be waited
 * on from several threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netqueue/netqueue.h>
#include "core/future_internal.h"

static void *complete_later(void *f)
{
    nq_future_complete(f, NQ_ERESET);
    return NULL;
}

static void test_future(void **state)
{
    nq_future *f;
    nq_status r = NQ_OK;
    assert_int_equal(nq_future_create(&f), NQ_OK);
    assert_int_equal(nq_future_wait(f, 0, &r), NQ_ETIMEDOUT);
    assert_int_equal(nq_future_wait(f, 20, &r), NQ_ETIMEDOUT);
    assert_false(nq_future_done(f));
    pthread_t t;
    pthread_create(&t, NULL, complete_later, f);
    assert_int_equal(nq_future_wait(f, NQ_FOREVER, &r), NQ_OK);
    assert_int_equal(r, NQ_ERESET);
    assert_true(nq_future_done(f));
    pthread_join(t, NULL);
    nq_future_free(f);
}

static void test_future_freed_first(void **state)
{
    nq_future *f;
    assert_int_equal(nq_future_create(&f), NQ_OK);
    nq_future_free(f);            /* the caller lets go early */
    nq_future_complete(f, NQ_OK); /* the put's reference frees it (ASan checks) */
}

static void test_cq(void **state)
{
    nq_cq *cq;
    struct nq_cq_token *a, *b;
    assert_int_equal(nq_cq_new(&cq), NQ_OK);
    assert_int_equal(nq_cq_token_new(&a, cq, 7), NQ_OK);
    assert_int_equal(nq_cq_token_new(&b, cq, 9), NQ_OK);
    uint64_t tag = 0;
    nq_status r;
    assert_int_equal(nq_cq_next(cq, 0, &tag, &r), NQ_ETIMEDOUT);
    nq_cq_complete(a, NQ_OK);
    nq_cq_complete(b, NQ_ECANCELED);
    assert_int_equal(nq_cq_next(cq, 1000, &tag, &r), NQ_OK);
    assert_int_equal(tag, 7);
    assert_int_equal(r, NQ_OK);
    assert_int_equal(nq_cq_next(cq, 1000, &tag, &r), NQ_OK);
    assert_int_equal(tag, 9);
    assert_int_equal(r, NQ_ECANCELED);
    nq_cq_shutdown(cq);
    assert_int_equal(nq_cq_next(cq, NQ_FOREVER, &tag, &r), NQ_ECLOSED);
    nq_cq_free(cq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_future),
        cmocka_unit_test(test_future_freed_first),
        cmocka_unit_test(test_cq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
