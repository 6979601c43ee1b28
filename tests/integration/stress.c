/*
 * 300 clients at once against one C server: every client's message arrives
 * from the right id, every client gets its own reply and a broadcast, and
 * everything closes cleanly.
 */
#include "nqtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 300

static void test_300_clients(void **state)
{
    long lim = nqt_raise_nofile(4 * N + 64);
    print_message("RLIMIT_NOFILE soft limit: %ld\n", lim);
    if (lim < 2 * N + 32) {
        fail_msg("MISSING PREREQUISITE: RLIMIT_NOFILE %ld is too low for %d clients (raise it: ulimit -n %d)",
                 lim, N, 4 * N + 64);
    }
    nq_options *so = nqt_opts(0);
    assert_int_equal(nq_options_set_workers(so, 4), NQ_OK);
    nq_comm *s = nqt_server(so);
    int port = nqt_port_of(s);
    uint8_t sid[16];
    nqt_id_of(s, sid);
    nq_comm **c = calloc(N, sizeof *c);
    uint8_t (*ids)[16] = calloc(N, 16);
    assert_non_null(c);
    assert_non_null(ids);
    for (int i = 0; i < N; i++) {
        c[i] = nqt_plain_client(port);
        nqt_id_of(c[i], ids[i]);
        char buf[32];
        snprintf(buf, sizeof buf, "client %d", i);
        nqt_put_str(c[i], buf, NULL, 0);
    }
    int *seen = calloc(N, sizeof *seen);
    for (int k = 0; k < N; k++) {
        nq_msg *m = NULL;
        nq_status st = nq_comm_get(s, NULL, 0, 30000, &m);
        if (st != NQ_OK)
            print_message("get %d of %d: %s\n", k, N, nq_strerror(st));
        assert_int_equal(st, NQ_OK);
        int who = -1;
        char text[32] = { 0 };
        assert_true(nq_msg_size(m) < sizeof text);
        memcpy(text, nq_msg_data(m), nq_msg_size(m));
        assert_int_equal(sscanf(text, "client %d", &who), 1);
        assert_true(who >= 0 && who < N);
        uint8_t from[16];
        assert_int_equal(nq_msg_peer(m, from), NQ_OK);
        assert_memory_equal(from, ids[who], 16);
        seen[who]++;
        nq_msg_free(m);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(nqt_wait_npeers(s, N, 30000), N);

    for (int i = 0; i < N; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "reply %d", i);
        nqt_put_str(s, buf, ids[i], 1);
    }
    nqt_put_str(s, "everyone", NULL, 0);
    for (int i = 0; i < N; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "reply %d", i);
        nqt_expect_str(c[i], buf, sid);
        nqt_expect_str(c[i], "everyone", sid);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(nq_comm_close(c[i], 30000), NQ_OK);
        nq_comm_free(c[i]);
    }
    assert_int_equal(nqt_wait_npeers(s, 0, 30000), 0);
    assert_int_equal(nq_comm_close(s, 30000), NQ_OK);
    nq_comm_free(s);
    free(seen);
    free(ids);
    free(c);
}

/* 300 raw connections that send ini and vanish, with a real client working. */
static void test_300_raw_churn(void **state)
{
    nqt_raise_nofile(4 * N + 64);
    int port;
    nq_comm *s = nqt_plain_server(&port);
    nq_comm *good = nqt_plain_client(port);
    int *fds = calloc(N, sizeof *fds);
    for (int i = 0; i < N; i++) {
        fds[i] = nqt_raw_connect(port);
        assert_true(fds[i] >= 0);
        uint8_t id[16];
        assert_int_equal(nq_id_random(id), NQ_OK);
        assert_int_equal(nqt_raw_send_frame(fds[i], id, 16), 0);
        if (i % 50 == 0)
            nqt_round_trip(s, good, "during churn");
    }
    for (int i = 0; i < N; i++) {
        if (i % 2)
            nqt_raw_abort(fds[i]);
        else
            nqt_raw_close(fds[i]);
    }
    nqt_round_trip(s, good, "after churn");
    assert_int_equal(nqt_wait_npeers(s, 1, 30000), 1);
    assert_int_equal(nq_comm_close(good, 30000), NQ_OK);
    nq_comm_free(good);
    nq_status st = nq_comm_close(s, 2000);
    print_message("server close after churn: %s\n", nq_strerror(st));
    assert_true(st == NQ_OK || st == NQ_ETIMEDOUT);
    nq_comm_free(s);
    free(fds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_300_clients),
        cmocka_unit_test(test_300_raw_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
