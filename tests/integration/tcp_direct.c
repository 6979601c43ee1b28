/*
 * Puts that the calling thread writes itself (the direct path: a put that
 * comes after a pause, while the I/O thread waits in poll) mixed with puts
 * queued for the I/O thread: callbacks still run on the I/O thread, order
 * is kept across both paths, and a direct write that did not fit in the
 * socket is finished by the I/O thread.
 */
#include "nqtest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cb_log {
    pthread_t putter;
    int calls, on_putter, not_ok;
};

static void log_cb(void *user, nq_status st)
{
    struct cb_log *l = user;
    if (pthread_equal(pthread_self(), l->putter))
        __atomic_add_fetch(&l->on_putter, 1, __ATOMIC_SEQ_CST);
    if (st != NQ_OK)
        __atomic_add_fetch(&l->not_ok, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&l->calls, 1, __ATOMIC_SEQ_CST);
}

static void close_free(nq_comm *c)
{
    assert_int_equal(nq_comm_close(c, NQT_LONG_MS), NQ_OK);
    nq_comm_free(c);
}

/* Ping-pong with callbacks: every put after the first waits for an echo,
 * so it finds the I/O thread idle. Its callback must still come from the
 * I/O thread, never from inside the put. */
static void test_callbacks_stay_on_io_thread(void **state)
{
    int port;
    nq_comm *s = nqt_plain_server(&port);
    nq_comm *c = nqt_plain_client(port);
    struct cb_log l = {.putter = pthread_self()};
    enum { ROUNDS = 300 };
    for (int i = 0; i < ROUNDS; i++) {
        char text[32];
        snprintf(text, sizeof text, "ping %d", i);
        assert_int_equal(nq_comm_put(c, text, strlen(text), NULL, 0, log_cb, &l), NQ_OK);
        nq_msg *m = NULL;
        assert_int_equal(nq_comm_get(s, NULL, 0, NQT_LONG_MS, &m), NQ_OK);
        assert_int_equal(nq_msg_size(m), strlen(text));
        assert_memory_equal(nq_msg_data(m), text, strlen(text));
        uint8_t from[16];
        assert_int_equal(nq_msg_peer(m, from), NQ_OK);
        nq_msg_free(m);
        nqt_put(s, text, strlen(text), from, 1); /* targeted reply */
        nqt_expect_str(c, text, NULL);
    }
    int64_t end = nqt_now_ms() + NQT_LONG_MS;
    while (__atomic_load_n(&l.calls, __ATOMIC_SEQ_CST) < ROUNDS && nqt_now_ms() < end)
        nqt_sleep_ms(1);
    assert_int_equal(l.calls, ROUNDS);
    assert_int_equal(l.not_ok, 0);
    assert_int_equal(l.on_putter, 0);
    close_free(c);
    close_free(s);
}

/* Bursts (queued) and lone puts after pauses (direct) from one thread, in
 * both directions: each side receives everything in put order. */
static void test_order_across_paths(void **state)
{
    int port;
    nq_comm *s = nqt_plain_server(&port);
    nq_comm *c = nqt_plain_client(port);
    nqt_round_trip(s, c, "hello");
    uint8_t cid[16];
    nqt_id_of(c, cid);
    enum { N = 3000 };
    unsigned seed = 12345;
    for (int dir = 0; dir < 2; dir++) {
        nq_comm *from = dir == 0 ? c : s, *to = dir == 0 ? s : c;
        for (uint32_t i = 0; i < N; i++) {
            if (rand_r(&seed) % 8 == 0)
                usleep(rand_r(&seed) % 200); /* a pause: the next put goes direct */
            uint8_t buf[4 + 64];
            memcpy(buf, &i, 4);
            nqt_fill(buf + 4, sizeof buf - 4, i);
            nqt_put(from, buf, 4 + i % 64, dir == 0 ? NULL : cid, dir == 0 ? 0 : 1);
        }
        for (uint32_t i = 0; i < N; i++) {
            nq_msg *m = NULL;
            assert_int_equal(nq_comm_get(to, NULL, 0, NQT_LONG_MS, &m), NQ_OK);
            uint32_t got;
            assert_int_equal(nq_msg_size(m), 4 + i % 64);
            memcpy(&got, nq_msg_data(m), 4);
            assert_int_equal(got, i);
            nq_msg_free(m);
        }
    }
    close_free(c);
    close_free(s);
}

/* A lone 32 MiB put goes direct and cannot fit in the socket: the I/O thread
 * must be told to finish it, with nothing else happening to wake it. */
static void test_direct_write_finished_by_io_thread(void **state)
{
    int port;
    nq_comm *s = nqt_plain_server(&port);
    nq_comm *c = nqt_plain_client(port);
    nqt_round_trip(s, c, "hello");
    size_t size = 32u << 20;
    uint8_t *big = malloc(size);
    assert_non_null(big);
    nqt_fill(big, size, 7);
    struct cb_log l = {.putter = pthread_self()};
    nqt_sleep_ms(5);
    assert_int_equal(nq_comm_put(c, big, size, NULL, 0, log_cb, &l), NQ_OK);
    nqt_expect(s, big, size, NULL);
    int64_t end = nqt_now_ms() + NQT_LONG_MS;
    while (__atomic_load_n(&l.calls, __ATOMIC_SEQ_CST) < 1 && nqt_now_ms() < end)
        nqt_sleep_ms(1);
    assert_int_equal(l.calls, 1);
    assert_int_equal(l.not_ok, 0);
    assert_int_equal(l.on_putter, 0);
    free(big);
    close_free(c);
    close_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_callbacks_stay_on_io_thread),
        cmocka_unit_test(test_order_across_paths),
        cmocka_unit_test(test_direct_write_finished_by_io_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
