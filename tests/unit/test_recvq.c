/* The receive queue: lock-free delivery from one producer to several
 * getters, per-peer order, peer filters, timeouts and close wake-ups. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/msg.h"

#define N 100000

static struct nq_recvq q;

/* What one 4-byte test message counts for against the limit (recvq.c's
 * cost(): payload plus bookkeeping). */
#define COST4 (sizeof(int) + sizeof(struct nq_msg) + 16)

static struct nq_msg *make(int peer, int seq)
{
    struct nq_msg *m = nq_msg_alloc(sizeof seq);
    memset(m->peer, peer, NQ_ID_SIZE);
    memcpy(m->data, &seq, sizeof seq);
    m->have = m->size;
    return m;
}

static void *produce(void *arg)
{
    for (int i = 0; i < N; i++)
        nq_recvq_push(&q, make(i % 2, i / 2));
    return NULL;
}

struct getter {
    int peer;
    int got;
    int in_order;
};

static void *consume(void *arg)
{
    struct getter *g = arg;
    uint8_t want[NQ_ID_SIZE];
    memset(want, g->peer, NQ_ID_SIZE);
    g->in_order = 1;
    while (g->got < N / 2) {
        struct nq_msg *m;
        if (nq_recvq_get(&q, NQ_KINDS_ALL, want, 1, 5000, &m) != NQ_OK)
            break;
        int seq;
        memcpy(&seq, m->data, sizeof seq);
        if (seq != g->got || m->peer[0] != g->peer)
            g->in_order = 0;
        g->got++;
        nq_msg_free(m);
    }
    return NULL;
}

/* ---- receivers against a model of the rule (receive.h "Order") ----
 * Random pushes (data and events of three peers), asynchronous receives
 * with random kind masks and peer filters, polls and cancels; after each
 * step what completed must be what the rule says: a message goes to the
 * oldest waiting receiver that accepts it, else it stays queued, and a
 * poll takes the first queued message it accepts. */

#define MODEL_OPS 20000
#define MODEL_MAX 4096

struct model_msg { int serial, peer, kind; };
struct model_rx { int idx, peer; unsigned kinds; uint64_t id; };
static struct model_msg mq[MODEL_MAX];
static int mq_n;
static struct model_rx mw[MODEL_MAX];
static int mw_n;
/* completions reported by the receive queue, by receive index */
static int done_serial[MODEL_OPS + 1];
static nq_status done_st[MODEL_OPS + 1];
static int done_calls[MODEL_OPS + 1];

static int model_accepts(const struct model_rx *r, const struct model_msg *m)
{
    return (r->kinds & NQ_KIND_BIT(m->kind)) && (r->peer < 0 || r->peer == m->peer);
}

static void model_on_get(void *user, nq_status st, nq_msg *msg)
{
    int idx = (int)(intptr_t)user;
    done_calls[idx]++;
    done_st[idx] = st;
    done_serial[idx] = -1;
    if (msg) {
        memcpy(&done_serial[idx], nq_msg_data(msg), sizeof(int));
        nq_msg_free(msg);
    }
}

static void expect_done(int idx, nq_status st, int serial)
{
    assert_int_equal(done_calls[idx], 1);
    assert_int_equal(done_st[idx], st);
    if (st == NQ_OK)
        assert_int_equal(done_serial[idx], serial);
}

static void test_receivers_follow_the_rule(void **state)
{
    (void)state;
    nq_recvq_init(&q, UINT64_MAX, NQ_QUEUE_BLOCK);
    srand(7);
    static const unsigned masks[] = {NQ_KINDS_DATA, NQ_KINDS_EVENTS, NQ_KINDS_ALL,
                                     NQ_KIND_BIT(NQ_EVENT_FINISHED)};
    int serial = 0, rx = 0;
    memset(done_calls, 0, sizeof done_calls);
    mq_n = mw_n = 0;
    for (int step = 0; step < MODEL_OPS; step++) {
        int what = rand() % 10;
        if (what < 4 && mq_n < MODEL_MAX - 1) { /* push */
            struct model_msg mm = {serial++, rand() % 3, rand() % 4 == 0 ? 1 + rand() % 2 : 0};
            struct nq_msg *m = make(mm.peer, mm.serial);
            m->kind = (nq_msg_kind)mm.kind;
            int w;
            for (w = 0; w < mw_n && !model_accepts(&mw[w], &mm); w++)
                ;
            nq_recvq_push(&q, m);
            if (w < mw_n) {
                expect_done(mw[w].idx, NQ_OK, mm.serial);
                memmove(&mw[w], &mw[w + 1], (size_t)(mw_n - w - 1) * sizeof *mw);
                mw_n--;
            } else {
                mq[mq_n++] = mm;
            }
        } else if (what < 7 && mw_n < MODEL_MAX - 1) { /* asynchronous receive */
            struct model_rx r = {++rx, rand() % 4 - 1, masks[rand() % 4], 0};
            uint8_t id[NQ_ID_SIZE];
            memset(id, r.peer, NQ_ID_SIZE);
            assert_int_equal(nq_recvq_get_async(&q, NQ_RECV_FUTURE, r.kinds, id,
                                                r.peer < 0 ? 0 : 1, NQ_FOREVER, model_on_get,
                                                (void *)(intptr_t)r.idx, &r.id),
                             NQ_OK);
            int i;
            for (i = 0; i < mq_n && !model_accepts(&r, &mq[i]); i++)
                ;
            if (i < mq_n) {
                expect_done(r.idx, NQ_OK, mq[i].serial);
                memmove(&mq[i], &mq[i + 1], (size_t)(mq_n - i - 1) * sizeof *mq);
                mq_n--;
            } else {
                assert_int_equal(done_calls[r.idx], 0);
                mw[mw_n++] = r;
            }
        } else if (what < 9) { /* poll */
            struct model_rx r = {0, rand() % 4 - 1, masks[rand() % 4], 0};
            uint8_t id[NQ_ID_SIZE];
            memset(id, r.peer, NQ_ID_SIZE);
            struct nq_msg *m = NULL;
            nq_status st = nq_recvq_get(&q, r.kinds, id, r.peer < 0 ? 0 : 1, 0, &m);
            int i;
            for (i = 0; i < mq_n && !model_accepts(&r, &mq[i]); i++)
                ;
            if (i < mq_n) {
                assert_int_equal(st, NQ_OK);
                int got;
                memcpy(&got, m->data, sizeof got);
                assert_int_equal(got, mq[i].serial);
                nq_msg_free(m);
                memmove(&mq[i], &mq[i + 1], (size_t)(mq_n - i - 1) * sizeof *mq);
                mq_n--;
                /* a batch: the next ones accepted, in queue order */
                struct nq_msg *more[3];
                size_t mx = (size_t)(rand() % 4);
                size_t n = nq_recvq_get_more(&q, r.kinds, id, r.peer < 0 ? 0 : 1, more, mx);
                for (size_t k = 0; k < n; k++) {
                    for (i = 0; i < mq_n && !model_accepts(&r, &mq[i]); i++)
                        ;
                    assert_true(i < mq_n);
                    memcpy(&got, more[k]->data, sizeof got);
                    assert_int_equal(got, mq[i].serial);
                    nq_msg_free(more[k]);
                    memmove(&mq[i], &mq[i + 1], (size_t)(mq_n - i - 1) * sizeof *mq);
                    mq_n--;
                }
                if (n < mx) { /* it stopped short only for want of more */
                    for (i = 0; i < mq_n && !model_accepts(&r, &mq[i]); i++)
                        ;
                    assert_int_equal(i, mq_n);
                }
            } else {
                assert_int_equal(st, NQ_ETIMEDOUT);
            }
        } else if (mw_n) { /* cancel a waiting receive */
            int w = rand() % mw_n;
            assert_int_equal(nq_recvq_cancel(&q, mw[w].id), NQ_OK);
            expect_done(mw[w].idx, NQ_ECANCELED, 0);
            assert_int_equal(nq_recvq_cancel(&q, mw[w].id), NQ_ESTATE);
            memmove(&mw[w], &mw[w + 1], (size_t)(mw_n - w - 1) * sizeof *mw);
            mw_n--;
        }
    }
    /* nothing completed that the model did not expect */
    int calls = 0;
    for (int i = 1; i <= rx; i++)
        calls += done_calls[i];
    assert_int_equal(calls, rx - mw_n);
    nq_recvq_close(&q);
    nq_recvq_finish(&q);
    for (int w = 0; w < mw_n; w++)
        expect_done(mw[w].idx, NQ_ECLOSED, 0);
    nq_recvq_destroy(&q);
}

static void test_filtered_getters(void **state)
{
    nq_recvq_init(&q, UINT64_MAX, NQ_QUEUE_BLOCK);
    struct getter a = {.peer = 0}, b = {.peer = 1};
    pthread_t p, ta, tb;
    pthread_create(&ta, NULL, consume, &a);
    pthread_create(&tb, NULL, consume, &b);
    pthread_create(&p, NULL, produce, NULL);
    pthread_join(p, NULL);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.got, N / 2);
    assert_int_equal(b.got, N / 2);
    assert_true(a.in_order && b.in_order);
    assert_int_equal(atomic_load(&q.bytes), 0);
    nq_recvq_destroy(&q);
}

static void test_timeout_and_poll(void **state)
{
    nq_recvq_init(&q, UINT64_MAX, NQ_QUEUE_BLOCK);
    struct nq_msg *m = NULL;
    assert_int_equal(nq_recvq_get(&q, NQ_KINDS_ALL, NULL, 0, 0, &m), NQ_ETIMEDOUT);
    assert_int_equal(nq_recvq_get(&q, NQ_KINDS_ALL, NULL, 0, 30, &m), NQ_ETIMEDOUT);
    nq_recvq_push(&q, make(3, 7));
    uint8_t other[NQ_ID_SIZE];
    memset(other, 4, NQ_ID_SIZE);
    assert_int_equal(nq_recvq_get(&q, NQ_KINDS_ALL, other, 1, 20, &m), NQ_ETIMEDOUT); /* not for peer 4 */
    assert_int_equal(nq_recvq_get(&q, NQ_KINDS_ALL, NULL, 0, 0, &m), NQ_OK);
    assert_int_equal(m->peer[0], 3);
    nq_msg_free(m);
    nq_recvq_destroy(&q);
}

static void *close_later(void *arg)
{
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
    nq_recvq_close(&q);
    return NULL;
}

static void test_close_wakes_and_drains(void **state)
{
    nq_recvq_init(&q, UINT64_MAX, NQ_QUEUE_BLOCK);
    struct nq_msg *m = NULL;
    pthread_t t;
    pthread_create(&t, NULL, close_later, NULL);
    assert_int_equal(nq_recvq_get(&q, NQ_KINDS_ALL, NULL, 0, NQ_FOREVER, &m), NQ_ECLOSED);
    pthread_join(t, NULL);
    nq_recvq_destroy(&q);

    nq_recvq_init(&q, UINT64_MAX, NQ_QUEUE_BLOCK);
    nq_recvq_push(&q, make(1, 1));
    nq_recvq_close(&q);
    assert_int_equal(nq_recvq_get(&q, NQ_KINDS_ALL, NULL, 0, NQ_FOREVER, &m), NQ_OK); /* drained first */
    nq_msg_free(m);
    assert_int_equal(nq_recvq_get(&q, NQ_KINDS_ALL, NULL, 0, NQ_FOREVER, &m), NQ_ECLOSED);
    nq_recvq_destroy(&q);
}

static void test_drop_policies(void **state)
{
    struct nq_msg *m;
    nq_recvq_init(&q, 2 * COST4, NQ_QUEUE_DROP_OLDEST);
    for (int i = 0; i < 5; i++)
        nq_recvq_push(&q, make(0, i));
    assert_int_equal(nq_recvq_get(&q, NQ_KINDS_ALL, NULL, 0, 0, &m), NQ_OK);
    int seq;
    memcpy(&seq, m->data, sizeof seq);
    assert_int_equal(seq, 3); /* 0..2 dropped, the newest kept */
    nq_msg_free(m);
    nq_recvq_destroy(&q);

    nq_recvq_init(&q, 2 * COST4, NQ_QUEUE_DROP_NEWEST);
    for (int i = 0; i < 5; i++)
        nq_recvq_push(&q, make(0, i));
    assert_int_equal(nq_recvq_get(&q, NQ_KINDS_ALL, NULL, 0, 0, &m), NQ_OK);
    memcpy(&seq, m->data, sizeof seq);
    assert_int_equal(seq, 0); /* the oldest kept */
    nq_msg_free(m);
    assert_int_equal(nq_recvq_get(&q, NQ_KINDS_ALL, NULL, 0, 0, &m), NQ_OK);
    nq_msg_free(m);
    assert_int_equal(nq_recvq_get(&q, NQ_KINDS_ALL, NULL, 0, 0, &m), NQ_ETIMEDOUT);
    nq_recvq_destroy(&q);
}

/* Many tiny messages cost more than their payload: the limit counts
 * their bookkeeping too (it used to count payload bytes only, so 1-byte
 * messages could hold ~100x the limit). */
static void test_limit_counts_overhead(void **state)
{
    nq_recvq_init(&q, 1024, NQ_QUEUE_BLOCK);
    int n = 0;
    while (!nq_recvq_full(&q) && n < 1000) {
        struct nq_msg *m = nq_msg_alloc(1);
        m->have = 1;
        nq_recvq_push(&q, m);
        n++;
    }
    print_message("1-byte messages until full at 1 KiB: %d\n", n);
    assert_true(nq_recvq_full(&q));
    assert_true(n <= 16);
    nq_recvq_destroy(&q);
}

static atomic_int resumed;
static void count_resume(void *arg)
{
    atomic_fetch_add(&resumed, 1);
}

/* The lost wake-up: the I/O thread sees the queue full, a get drains it
 * before the I/O thread marks reading paused (the get sees no pause, so
 * resumes nothing), then the pause lands on an empty queue and nothing
 * would ever resume reading. The pause must take itself back. */
static void test_pause_after_drain_is_taken_back(void **state)
{
    nq_recvq_init(&q, 2 * COST4, NQ_QUEUE_BLOCK); /* two 4-byte messages fill it */
    q.resume = count_resume;
    atomic_store(&resumed, 0);
    nq_recvq_push(&q, make(1, 1));
    nq_recvq_push(&q, make(1, 2));
    assert_true(nq_recvq_full(&q)); /* what the I/O thread saw */
    struct nq_msg *m;
    for (int i = 0; i < 2; i++) { /* the getter drains: nothing paused yet */
        assert_int_equal(nq_recvq_get(&q, NQ_KINDS_ALL, NULL, 0, 0, &m), NQ_OK);
        nq_msg_free(m);
    }
    assert_int_equal(atomic_load(&resumed), 0);
    /* the I/O thread's pause arrives late: the queue is empty, so reading
     * must go on */
    assert_int_equal(nq_recvq_pause(&q), 0);
    assert_int_equal(atomic_load(&q.paused), 0);
    nq_recvq_destroy(&q);
}

/* The ordinary pause: still full, reading stops; a get below half the
 * limit resumes it once. */
static void test_pause_and_resume(void **state)
{
    nq_recvq_init(&q, 2 * COST4, NQ_QUEUE_BLOCK);
    q.resume = count_resume;
    atomic_store(&resumed, 0);
    nq_recvq_push(&q, make(1, 1));
    nq_recvq_push(&q, make(1, 2));
    assert_int_equal(nq_recvq_pause_if_full(&q), 1);
    struct nq_msg *m;
    assert_int_equal(nq_recvq_get(&q, NQ_KINDS_ALL, NULL, 0, 0, &m), NQ_OK);
    nq_msg_free(m);
    assert_int_equal(atomic_load(&resumed), 1);
    assert_int_equal(atomic_load(&q.paused), 0);
    nq_recvq_destroy(&q);
}

/* Both sides at full speed: a producer that pauses like the I/O thread and
 * waits for the resume, getters that drain; it must never stall. */
static atomic_int stop_producer;
static void *pausing_producer(void *arg)
{
    for (int i = 0; i < N && !atomic_load(&stop_producer); i++) {
        nq_recvq_push(&q, make(1, i));
        if (nq_recvq_pause_if_full(&q))
            while (atomic_load(&q.paused) && !atomic_load(&stop_producer))
                sched_yield(); /* the I/O thread would sleep until resumed */
    }
    return NULL;
}

static void test_pause_race_never_stalls(void **state)
{
    nq_recvq_init(&q, 64, NQ_QUEUE_BLOCK);
    q.resume = count_resume;
    atomic_store(&stop_producer, 0);
    pthread_t t;
    pthread_create(&t, NULL, pausing_producer, NULL);
    int got = 0;
    struct nq_msg *m;
    while (got < N && nq_recvq_get(&q, NQ_KINDS_ALL, NULL, 0, 5000, &m) == NQ_OK) {
        nq_msg_free(m);
        got++;
    }
    atomic_store(&stop_producer, 1);
    pthread_join(t, NULL);
    assert_int_equal(got, N);
    nq_recvq_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filtered_getters),
        cmocka_unit_test(test_receivers_follow_the_rule),
        cmocka_unit_test(test_timeout_and_poll),
        cmocka_unit_test(test_close_wakes_and_drains),
        cmocka_unit_test(test_drop_policies),
        cmocka_unit_test(test_limit_counts_overhead),
        cmocka_unit_test(test_pause_after_drain_is_taken_back),
        cmocka_unit_test(test_pause_and_resume),
        cmocka_unit_test(test_pause_race_never_stalls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
