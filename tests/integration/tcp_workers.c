/*
 * The multi-loop server (nq_options_set_workers 2 and 4, TCP and TLS):
 * sessions spread over I/O threads keep every guarantee of one — per-peer
 * order both ways, targeted puts and broadcasts reach their peers exactly
 * once with one callback each, a peer reconnects to its lingering session
 * from a new connection (accepted on one thread, owned by another), a
 * same-id connection takes the session over, close with live and silent
 * clients, statistics summed over the threads.
 */
#include "nqtest.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCLI 24
#define NMSG 2000

static int workers_of(void **state)
{
    return *state ? *(int *)*state : 2;
}

static int threads_now(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 2; /* . and .. */
}

static nq_comm *server_w(int workers, nq_options *o)
{
    assert_int_equal(nq_options_set_workers(o, workers), NQ_OK);
    int before = threads_now();
    nq_comm *s = nqt_server(o);
    /* one I/O thread per worker, and one that accepts (printed: threads
     * of earlier tests may still be ending, and sanitizers add their own) */
    print_message("workers %d: %d more threads\n", workers, threads_now() - before);
    return s;
}

static uint64_t stat_of(nq_stats *st, const char *key)
{
    uint64_t v = 0;
    assert_int_equal(nq_stats_get(st, key, &v), NQ_OK);
    return v;
}

static uint64_t comm_stat(nq_comm *c, const char *key)
{
    nq_stats *st;
    assert_int_equal(nq_comm_stats(c, &st), NQ_OK);
    uint64_t v = stat_of(st, key);
    nq_stats_free(st);
    return v;
}

static uint64_t peer_stat(nq_comm *c, const uint8_t *peer, const char *key)
{
    nq_stats *st;
    assert_int_equal(nq_comm_peer_stats(c, peer, &st), NQ_OK);
    uint64_t v = stat_of(st, key);
    nq_stats_free(st);
    return v;
}

static atomic_int done_ok, done_bad;

static void count_done(void *user, nq_status st)
{
    atomic_fetch_add(st == NQ_OK ? &done_ok : &done_bad, 1);
}

static void wait_done(int n)
{
    int64_t until = nqt_now_ms() + NQT_LONG_MS;
    while (atomic_load(&done_ok) + atomic_load(&done_bad) < n && nqt_now_ms() < until)
        nqt_sleep_ms(5);
    assert_int_equal(atomic_load(&done_bad), 0);
    assert_int_equal(atomic_load(&done_ok), n);
}

/* A message: kind (1 targeted, 2 broadcast, 3 named-many), then a
 * sequence number, then for targeted ones the client's index. */
static void put_msg(nq_comm *c, uint32_t kind, uint32_t seq, uint32_t who, const uint8_t *peers,
                    size_t npeers, int counted)
{
    uint32_t m[3] = {kind, seq, who};
    assert_int_equal(nq_comm_put(c, m, sizeof m, peers, npeers, counted ? count_done : NULL, NULL),
                     NQ_OK);
}

/* Many clients, both ways, in order; targeted, broadcast and named-many
 * puts exactly once; one callback per put; sums in the statistics. */
static void test_many_clients(void **state)
{
    int w = workers_of(state);
    atomic_store(&done_ok, 0);
    atomic_store(&done_bad, 0);
    nq_comm *s = server_w(w, nqt_opts(0));
    int port = nqt_port_of(s);
    nq_comm *c[NCLI];
    uint8_t id[NCLI][NQ_ID_SIZE];
    for (int i = 0; i < NCLI; i++) {
        c[i] = nqt_plain_client(port);
        nqt_id_of(c[i], id[i]);
    }
    for (int k = 0; k < NMSG; k++) /* interleaved: every thread busy at once */
        for (int i = 0; i < NCLI; i++)
            put_msg(c[i], 0, (uint32_t)k, 0, NULL, 0, 0);
    /* that loop put NMSG per client, each client's in order */
    uint32_t next[NCLI] = {0};
    for (int n = 0; n < NCLI * NMSG; n++) {
        nq_msg *m = NULL;
        assert_int_equal(nq_comm_get(s, NULL, 0, NQT_LONG_MS, &m), NQ_OK);
        uint8_t from[NQ_ID_SIZE];
        assert_int_equal(nq_msg_peer(m, from), NQ_OK);
        int i = 0;
        while (i < NCLI && memcmp(from, id[i], NQ_ID_SIZE) != 0)
            i++;
        assert_true(i < NCLI);
        uint32_t v[3];
        assert_int_equal(nq_msg_size(m), sizeof v);
        memcpy(v, nq_msg_data(m), sizeof v);
        assert_int_equal(v[1], next[i]); /* per-peer order across threads */
        next[i]++;
        nq_msg_free(m);
    }
    assert_int_equal(nqt_npeers(s), NCLI);

    /* server -> clients: targeted (in order), broadcast, all named at once */
    const int T = 200, B = 50;
    int puts = 0;
    for (int k = 0; k < T; k++)
        for (int i = 0; i < NCLI; i++, puts++)
            put_msg(s, 1, (uint32_t)k, (uint32_t)i, id[i], 1, 1);
    for (int k = 0; k < B; k++, puts++)
        put_msg(s, 2, (uint32_t)k, 0, NULL, 0, 1);
    put_msg(s, 3, 0, 0, &id[0][0], NCLI, 1);
    puts++;
    wait_done(puts); /* one callback per put, broadcast and named-many too */
    for (int i = 0; i < NCLI; i++) {
        uint32_t tnext = 0, bnext = 0;
        int many = 0;
        for (int n = 0; n < T + B + 1; n++) {
            nq_msg *m = NULL;
            assert_int_equal(nq_comm_get(c[i], NULL, 0, NQT_LONG_MS, &m), NQ_OK);
            uint32_t v[3];
            memcpy(v, nq_msg_data(m), sizeof v);
            nq_msg_free(m);
            if (v[0] == 1) {
                assert_int_equal(v[2], i); /* nobody else's */
                assert_int_equal(v[1], tnext++);
            } else if (v[0] == 2) {
                assert_int_equal(v[1], bnext++);
            } else {
                assert_int_equal(v[0], 3);
                many++;
            }
        }
        assert_int_equal(tnext, T);
        assert_int_equal(bnext, B);
        assert_int_equal(many, 1);
        nqt_expect_none(c[i], 50); /* exactly once */
    }

    /* statistics: sums over the threads, each peer found on its own */
    assert_int_equal(comm_stat(s, "msgs_in"), NCLI * NMSG);
    assert_int_equal(comm_stat(s, "msgs_out"), NCLI * (T + B + 1));
    assert_int_equal(comm_stat(s, "puts_ok"), puts);
    assert_int_equal(comm_stat(s, "sessions_live"), NCLI);
    assert_int_equal(comm_stat(s, "sessions_opened"), NCLI);
    assert_int_equal(comm_stat(s, "connections"), NCLI);
    for (int i = 0; i < NCLI; i++) {
        assert_int_equal(peer_stat(s, id[i], "msgs_in"), NMSG);
        assert_int_equal(peer_stat(s, id[i], "msgs_out"), T + B + 1);
    }

    /* close with live clients: they finish, the server's close is clean */
    for (int i = 0; i < NCLI; i++) {
        assert_int_equal(nq_comm_close(c[i], NQT_LONG_MS), NQ_OK);
        nq_comm_free(c[i]);
    }
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    nq_comm_free(s);
}

/* A raw peer: connect, send its ini and then `n` small frames in one
 * write, so that the frames after the ini travel with the hand-over. */
static int raw_peer(int port, const uint8_t *id, int n, uint32_t first)
{
    int fd = nqt_raw_connect(port);
    assert_true(fd >= 0);
    uint8_t buf[8 + NQ_ID_SIZE + 16 * (8 + 4)];
    size_t len = 0;
    nqt_header(buf, NQ_ID_SIZE);
    memcpy(buf + 8, id, NQ_ID_SIZE);
    len = 8 + NQ_ID_SIZE;
    for (int k = 0; k < n; k++) {
        uint32_t v = first + (uint32_t)k;
        nqt_header(buf + len, 4);
        memcpy(buf + len + 8, &v, 4);
        len += 12;
    }
    assert_int_equal(nqt_raw_send(fd, buf, len), 0);
    return fd;
}

/* The server's ini, then `n` frames of 4 bytes counting from `first`. */
static void raw_expect(int fd, const uint8_t *server_id, int n, uint32_t first)
{
    uint8_t *p;
    uint64_t len;
    assert_int_equal(nqt_raw_read_frame(fd, &p, &len, 1 << 20, NQT_LONG_MS), 0);
    assert_int_equal(len, NQ_ID_SIZE);
    assert_memory_equal(p, server_id, NQ_ID_SIZE);
    free(p);
    for (int k = 0; k < n; k++) {
        assert_int_equal(nqt_raw_read_frame(fd, &p, &len, 1 << 20, NQT_LONG_MS), 0);
        assert_int_equal(len, 4);
        uint32_t v;
        memcpy(&v, p, 4);
        free(p);
        assert_int_equal(v, first + (uint32_t)k);
    }
}

static void expect_seq(nq_comm *s, const uint8_t *from, int n, uint32_t first)
{
    for (int k = 0; k < n; k++) {
        nq_msg *m = NULL;
        assert_int_equal(nq_comm_get(s, from, 1, NQT_LONG_MS, &m), NQ_OK);
        assert_int_equal(nq_msg_size(m), 4);
        uint32_t v;
        memcpy(&v, nq_msg_data(m), 4);
        nq_msg_free(m);
        assert_int_equal(v, first + (uint32_t)k);
    }
}

static void put_u32(nq_comm *s, const uint8_t *to, uint32_t v)
{
    assert_int_equal(nq_comm_put(s, &v, 4, to, 1, NULL, NULL), NQ_OK);
}

/* Peers come back to their lingering sessions over new connections, and a
 * second connection with a live peer's id takes its session over: several
 * ids, so that their sessions live on different threads. */
static void test_reconnect_and_takeover(void **state)
{
    int w = workers_of(state);
    nq_comm *s = server_w(w, nqt_opts(0));
    int port = nqt_port_of(s);
    uint8_t sid[NQ_ID_SIZE];
    nqt_id_of(s, sid);
    enum { P = 8 };
    uint8_t id[P][NQ_ID_SIZE];
    int fd[P];
    for (int i = 0; i < P; i++) {
        nqt_fill(id[i], NQ_ID_SIZE, 7000 + (uint64_t)i);
        fd[i] = raw_peer(port, id[i], 3, 0); /* ini + 3 frames in one write */
    }
    for (int i = 0; i < P; i++) {
        expect_seq(s, id[i], 3, 0);
        put_u32(s, id[i], 100);
        raw_expect(fd[i], sid, 1, 100);
    }
    /* lost without fin: the sessions linger; what is put now waits */
    for (int i = 0; i < P; i++)
        nqt_raw_abort(fd[i]);
    for (int i = 0; i < P; i++)
        assert_int_equal(nqt_wait_peer(s, id[i], 0, NQT_LONG_MS), 1);
    assert_int_equal(comm_stat(s, "sessions_lingering"), P);
    for (int i = 0; i < P; i++)
        for (uint32_t k = 0; k < 3; k++)
            put_u32(s, id[i], 200 + k);
    /* back on new connections: the queued puts, in order, then more */
    for (int i = 0; i < P; i++) {
        fd[i] = raw_peer(port, id[i], 2, 10);
        raw_expect(fd[i], sid, 3, 200);
        expect_seq(s, id[i], 2, 10);
        assert_int_equal(peer_stat(s, id[i], "reconnects"), 1);
        assert_int_equal(peer_stat(s, id[i], "conn_lost"), 1);
    }
    assert_int_equal(comm_stat(s, "sessions_lingering"), 0);
    assert_int_equal(comm_stat(s, "reconnects"), P);
    assert_int_equal(comm_stat(s, "sessions_opened"), P);

    /* same id while live: the new connection takes the session over */
    for (int i = 0; i < P; i++) {
        int fd2 = raw_peer(port, id[i], 1, 20);
        size_t nb = 0;
        assert_int_equal(nqt_raw_wait_eof(fd[i], NQT_LONG_MS, &nb), 0); /* the old one is dropped */
        nqt_raw_close(fd[i]);
        fd[i] = fd2;
        put_u32(s, id[i], 300);
        raw_expect(fd[i], sid, 1, 300);
        expect_seq(s, id[i], 1, 20);
    }
    assert_int_equal(nqt_npeers(s), P);

    /* close with silent peers: cut at the deadline, every one named */
    nq_status st = nq_comm_close(s, 300);
    char why[1024];
    snprintf(why, sizeof why, "%s", nq_last_error());
    print_message("close: %s: %s\n", nq_strerror(st), why);
    assert_int_equal(st, NQ_ETIMEDOUT);
    int named = 0;
    for (int i = 0; i < P; i++) {
        char hex[33];
        for (int b = 0; b < NQ_ID_SIZE; b++)
            snprintf(hex + 2 * b, 3, "%02x", id[i][b]);
        named += strstr(why, hex) != NULL;
    }
    assert_true(named >= 1); /* (at most 8 are named per thread) */
    assert_non_null(strstr(why, "did not finish in time"));
    for (int i = 0; i < P; i++)
        nqt_raw_close(fd[i]);
    nq_comm_free(s);
}

/* TLS: the handshake happens on the accepting thread, the session goes on
 * on its peer's. */
static void test_tls(void **state)
{
    int w = workers_of(state);
    atomic_store(&done_ok, 0);
    atomic_store(&done_bad, 0);
    nq_comm *s = server_w(w, nqt_tls_server_opts(0, "server.pem", "server.key"));
    int port = nqt_port_of(s);
    enum { N = 8 };
    nq_comm *c[N];
    uint8_t id[N][NQ_ID_SIZE];
    for (int i = 0; i < N; i++) {
        c[i] = nqt_client(nqt_tls_client_opts(port, "ca.pem"));
        nqt_id_of(c[i], id[i]);
        nqt_round_trip(s, c[i], "over TLS");
    }
    for (int k = 0; k < 20; k++)
        put_msg(s, 2, (uint32_t)k, 0, NULL, 0, 1);
    wait_done(20);
    for (int i = 0; i < N; i++) {
        for (uint32_t k = 0; k < 20; k++) {
            nq_msg *m = NULL;
            assert_int_equal(nq_comm_get(c[i], NULL, 0, NQT_LONG_MS, &m), NQ_OK);
            uint32_t v[3];
            memcpy(v, nq_msg_data(m), sizeof v);
            nq_msg_free(m);
            assert_int_equal(v[1], k);
        }
        assert_int_equal(nq_comm_close(c[i], NQT_LONG_MS), NQ_OK);
        nq_comm_free(c[i]);
    }
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    nq_comm_free(s);
}

static int two = 2, four = 4;

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_many_clients, &two),
        cmocka_unit_test_prestate(test_many_clients, &four),
        cmocka_unit_test_prestate(test_reconnect_and_takeover, &two),
        cmocka_unit_test_prestate(test_reconnect_and_takeover, &four),
        cmocka_unit_test_prestate(test_tls, &two),
        cmocka_unit_test_prestate(test_tls, &four),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
