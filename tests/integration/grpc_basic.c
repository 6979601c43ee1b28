/*
 * C client x C server over gRPC (plain and TLS): round trips, many
 * clients, broadcast and targeted puts, 10,000 messages in order both
 * ways, messages larger than the transport size, empty and 16-byte
 * messages, close with data in flight.
 */
#include "grpc_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_round_trip(void **state)
{
    int port;
    nq_comm *s = g_plain_server(&port);
    nq_comm *c = g_client(nqt_opts(port));
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    nqt_put_str(c, "hello, server", NULL, 0);
    nqt_expect_str(s, "hello, server", cid);
    assert_true(nqt_wait_peer(s, cid, 1, NQT_LONG_MS));
    /* the answer reaches a client that only polls */
    nqt_put_str(s, "hello, client", cid, 1);
    nqt_expect_str(c, "hello, client", sid);
    assert_true(nqt_wait_peer(c, sid, 1, NQT_LONG_MS));
    g_close_free(c, NQ_OK);
    /* the client finished its session: the server forgets it */
    assert_int_equal(nqt_wait_npeers(s, 0, NQT_LONG_MS), 0);
    g_close_free(s, NQ_OK);
}

#define NCLIENTS 6

static void test_many_clients(void **state)
{
    int port;
    nq_comm *s = g_plain_server(&port);
    nq_comm *c[NCLIENTS];
    uint8_t ids[NCLIENTS][16];
    for (int i = 0; i < NCLIENTS; i++) {
        c[i] = g_client(nqt_opts(port));
        nqt_id_of(c[i], ids[i]);
        char hello[32];
        snprintf(hello, sizeof hello, "hello %d", i);
        nqt_put_str(c[i], hello, NULL, 0);
    }
    /* each client is its own peer on the server (one connection each) */
    int seen[NCLIENTS] = {0};
    for (int n = 0; n < NCLIENTS; n++) {
        nq_msg *m = NULL;
        assert_int_equal(nq_comm_get(s, NULL, 0, NQT_LONG_MS, &m), NQ_OK);
        uint8_t from[16];
        nq_msg_peer(m, from);
        int who = -1;
        for (int i = 0; i < NCLIENTS; i++)
            if (memcmp(from, ids[i], 16) == 0)
                who = i;
        assert_true(who >= 0);
        char want[32];
        snprintf(want, sizeof want, "hello %d", who);
        assert_int_equal(nq_msg_size(m), strlen(want));
        assert_memory_equal(nq_msg_data(m), want, strlen(want));
        assert_int_equal(seen[who], 0);
        seen[who] = 1;
        nq_msg_free(m);
    }
    assert_int_equal(nqt_wait_npeers(s, NCLIENTS, NQT_LONG_MS), NCLIENTS);
    nqt_put_str(s, "to all", NULL, 0);
    for (int i = 0; i < NCLIENTS; i++)
        nqt_expect_str(c[i], "to all", NULL);
    nqt_put_str(s, "only 2 and 4", (const uint8_t *)ids[2], 1);
    nqt_put_str(s, "only 2 and 4", (const uint8_t *)ids[4], 1);
    nqt_expect_str(c[2], "only 2 and 4", NULL);
    nqt_expect_str(c[4], "only 2 and 4", NULL);
    for (int i = 0; i < NCLIENTS; i++)
        if (i != 2 && i != 4)
            nqt_expect_none(c[i], NQT_SHORT_MS);
    for (int i = 0; i < NCLIENTS; i++)
        g_close_free(c[i], NQ_OK);
    g_close_free(s, NQ_OK);
}

#define NORDER 10000

static void put_numbered(nq_comm *from, const uint8_t *to)
{
    for (int i = 0; i < NORDER; i++) {
        char b[16];
        int n = snprintf(b, sizeof b, "m%05d", i);
        assert_int_equal(nq_comm_put(from, b, (size_t)n, to, to ? 1 : 0, NULL, NULL), NQ_OK);
    }
}

static void get_numbered(nq_comm *at)
{
    for (int i = 0; i < NORDER; i++) {
        char b[16];
        snprintf(b, sizeof b, "m%05d", i);
        nqt_expect_str(at, b, NULL);
    }
}

static void test_order_10000(void **state)
{
    int port;
    nq_comm *s = g_plain_server(&port);
    nq_comm *c = g_client(nqt_opts(port));
    uint8_t cid[16];
    nqt_id_of(c, cid);
    put_numbered(c, NULL);
    get_numbered(s);
    put_numbered(s, cid);
    get_numbered(c);
    g_close_free(c, NQ_OK);
    g_close_free(s, NQ_OK);
}

static nq_options *small_opts(int port)
{
    nq_options *o = nqt_opts(port);
    assert_int_equal(nq_options_set_transport_size(o, 64 * 1024), NQ_OK);
    return o;
}

/* One message is many gRPC messages when it exceeds the transport size. */
static void test_bigger_than_transport(void **state)
{
    nq_comm *s = g_server(small_opts(0));
    int port = nqt_port_of(s);
    nq_comm *c = g_client(small_opts(port));
    uint8_t cid[16];
    nqt_id_of(c, cid);
    size_t sizes[] = {64 * 1024, 64 * 1024 - 8, 1024 * 1024 + 3, 3 * 1024 * 1024};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        uint8_t *buf = malloc(sizes[i]);
        nqt_fill(buf, sizes[i], 100 + i);
        nqt_put(c, buf, sizes[i], NULL, 0);
        nqt_expect(s, buf, sizes[i], cid);
        nqt_put(s, buf, sizes[i], cid, 1);
        nqt_expect(c, buf, sizes[i], NULL);
        free(buf);
    }
    g_close_free(c, NQ_OK);
    g_close_free(s, NQ_OK);
}

static void test_empty_and_16(void **state)
{
    int port;
    nq_comm *s = g_plain_server(&port);
    nq_comm *c = g_client(nqt_opts(port));
    uint8_t cid[16], sixteen[16];
    nqt_id_of(c, cid);
    nqt_fill(sixteen, 16, 7);
    nqt_put(c, "", 0, NULL, 0);
    nqt_put(c, sixteen, 16, NULL, 0);
    nqt_put_str(c, "after", NULL, 0);
    nqt_expect(s, "", 0, cid);
    nqt_expect(s, sixteen, 16, cid);
    nqt_expect_str(s, "after", cid);
    nqt_put(s, "", 0, cid, 1);
    nqt_put(s, sixteen, 16, cid, 1);
    nqt_put_str(s, "after", cid, 1);
    nqt_expect(c, "", 0, NULL);
    nqt_expect(c, sixteen, 16, NULL);
    nqt_expect_str(c, "after", NULL);
    g_close_free(c, NQ_OK);
    g_close_free(s, NQ_OK);
}

#define NFLIGHT 200
#define FLIGHT_SIZE 10000

/* close right after many puts: all of them arrive, every future is OK */
static void test_close_in_flight(void **state)
{
    int port;
    nq_comm *s = g_plain_server(&port);
    nq_comm *c = g_client(nqt_opts(port));
    uint8_t *buf = malloc(FLIGHT_SIZE);
    nq_future *f[NFLIGHT];
    for (int i = 0; i < NFLIGHT; i++) {
        nqt_fill(buf, FLIGHT_SIZE, (uint64_t)i);
        assert_int_equal(nq_comm_put_future(c, buf, FLIGHT_SIZE, NULL, 0, &f[i]), NQ_OK);
    }
    g_close_free(c, NQ_OK);
    for (int i = 0; i < NFLIGHT; i++) {
        nq_status r = NQ_EIO;
        assert_int_equal(nq_future_wait(f[i], 0, &r), NQ_OK);
        assert_int_equal(r, NQ_OK);
        nq_future_free(f[i]);
        nqt_fill(buf, FLIGHT_SIZE, (uint64_t)i);
        nqt_expect(s, buf, FLIGHT_SIZE, NULL);
    }
    free(buf);
    assert_int_equal(nqt_wait_npeers(s, 0, NQT_LONG_MS), 0);
    g_close_free(s, NQ_OK);
}

/* The server closes while its puts to a client are still queued: the
 * client's polls carry them before its close completes. */
static void test_server_data_then_close(void **state)
{
    int port;
    nq_comm *s = g_plain_server(&port);
    nq_comm *c = g_client(nqt_opts(port));
    uint8_t cid[16];
    nqt_id_of(c, cid);
    nqt_put_str(c, "hi", NULL, 0);
    nqt_expect_str(s, "hi", cid);
    for (int i = 0; i < 50; i++)
        nqt_put_str(s, "queued", cid, 1);
    for (int i = 0; i < 50; i++)
        nqt_expect_str(c, "queued", NULL);
    g_close_free(c, NQ_OK);
    g_close_free(s, NQ_OK);
}

static void test_tls(void **state)
{
    nq_comm *s = g_server(nqt_tls_server_opts(0, "server.pem", "server.key"));
    int port = nqt_port_of(s);
    nq_comm *c = g_client(nqt_tls_client_opts(port, "ca.pem"));
    uint8_t cid[16];
    nqt_id_of(c, cid);
    nqt_put_str(c, "secret", NULL, 0);
    nqt_expect_str(s, "secret", cid);
    nqt_put_str(s, "secret back", cid, 1);
    nqt_expect_str(c, "secret back", NULL);
    size_t big = 300 * 1024;
    uint8_t *buf = malloc(big);
    nqt_fill(buf, big, 9);
    nqt_put(c, buf, big, NULL, 0);
    nqt_expect(s, buf, big, cid);
    free(buf);
    g_close_free(c, NQ_OK);
    g_close_free(s, NQ_OK);
}

/* A port in use fails the bind, as over TCP: gRPC's default SO_REUSEPORT
 * would let a second server start and take part of the connections. */
static void test_port_in_use(void **state)
{
    int port;
    nq_comm *s = g_plain_server(&port);
    nq_options *o = nqt_opts(port);
    nq_comm *second = NULL;
    assert_int_equal(nq_comm_new(&second, NQ_GRPC, NQ_SERVER, o), NQ_EADDR);
    assert_null(second);
    assert_non_null(strstr(nq_last_error(), "cannot listen"));
    nq_options_free(o);
    g_close_free(s, NQ_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_in_use),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_many_clients),
        cmocka_unit_test(test_order_10000),
        cmocka_unit_test(test_bigger_than_transport),
        cmocka_unit_test(test_empty_and_16),
        cmocka_unit_test(test_close_in_flight),
        cmocka_unit_test(test_server_data_then_close),
        cmocka_unit_test(test_tls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
