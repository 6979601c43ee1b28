/*
 * Mutual TLS over gRPC (nq_options_set_tls_client_ca on a gRPC server): a
 * client presenting a certificate from the CA gets through, both ways; one
 * with no certificate, or with one from another CA, is refused: nothing it
 * puts is delivered, it never becomes a peer, its puts fail with NQ_EADDR
 * after its connect timeout, and the server keeps serving good clients.
 * A server without a client CA accepts a client that presents a
 * certificate. Option errors. (gRPC does its handshakes inside: unlike
 * TCP, the server cannot log the refused client's address and reason.)
 */
#include "grpc_common.h"

#include <stdio.h>
#include <string.h>

static nq_comm *mtls_server(void)
{
    nq_options *o = nqt_tls_server_opts(0, "server.pem", "server.key");
    assert_int_equal(nq_options_set_tls_client_ca(o, nqt_cert("ca.pem")), NQ_OK);
    return g_server(o);
}

static nq_options *client_opts(int port, const char *cert, const char *key)
{
    nq_options *o = nqt_tls_client_opts(port, "ca.pem");
    if (cert)
        assert_int_equal(nq_options_set_tls_cert(o, nqt_cert(cert)), NQ_OK);
    if (key)
        assert_int_equal(nq_options_set_tls_key(o, nqt_cert(key)), NQ_OK);
    return o;
}

/* A put that must fail: the client is refused. */
static void put_refused(nq_comm *x)
{
    nq_future *f = NULL;
    assert_int_equal(nq_comm_put_future(x, "refused", 7, NULL, 0, &f), NQ_OK);
    nq_status r = NQ_OK;
    assert_int_equal(nq_future_wait(f, NQT_LONG_MS, &r), NQ_OK);
    assert_int_equal(r, NQ_EADDR);
    nq_future_free(f);
}

/* The server asks for a certificate (a client without one is refused), and
 * messages flow both ways with a client whose certificate the CA signed. */
static void test_grpc_mtls_good_client(void **state)
{
    nq_comm *s = mtls_server();
    int port = nqt_port_of(s);
    nq_options *no = client_opts(port, NULL, NULL);
    assert_int_equal(nq_options_set_connect_timeout(no, 500), NQ_OK);
    nq_comm *nocert = g_client(no);
    put_refused(nocert);
    nq_comm_close(nocert, 500);
    nq_comm_free(nocert);

    nq_comm *c = g_client(client_opts(port, "client.pem", "client.key"));
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    nqt_round_trip(s, c, "mutual tls over grpc");
    assert_true(nqt_wait_peer(s, cid, 1, NQT_LONG_MS));
    nqt_put_str(s, "to the client", cid, 1);
    nqt_expect_str(c, "to the client", sid);
    nqt_put_str(c, "to the server", NULL, 0);
    nqt_expect_str(s, "to the server", cid);
    nqt_expect_none(s, NQT_SHORT_MS); /* nothing from the refused client */
    g_close_free(c, NQ_OK);
    g_close_free(s, NQ_OK);
}

/* A client the server must refuse (its options: port set here). */
static void refused(nq_options *bad_opts)
{
    nq_comm *s = mtls_server();
    int port = nqt_port_of(s);
    nq_comm *good = g_client(client_opts(port, "client.pem", "client.key"));
    nqt_round_trip(s, good, "good before");

    nqt_log blog;
    nqt_log_init(&blog);
    nqt_log_attach(bad_opts, &blog);
    assert_int_equal(nq_options_set_port(bad_opts, port), NQ_OK);
    assert_int_equal(nq_options_set_connect_timeout(bad_opts, 1000), NQ_OK);
    nq_comm *bad = g_client(bad_opts);
    uint8_t badid[16];
    nqt_id_of(bad, badid);
    nq_future *f = NULL;
    assert_int_equal(nq_comm_put_future(bad, "must not arrive", 15, NULL, 0, &f), NQ_OK);
    nq_status r = NQ_OK;
    nq_status w = nq_future_wait(f, NQT_LONG_MS, &r);
    print_message("refused client's put: %s\n", w == NQ_OK ? nq_strerror(r) : "still pending");
    nqt_log_print(&blog, "refused client");
    assert_int_equal(w, NQ_OK);
    assert_int_equal(r, NQ_EADDR);
    nq_future_free(f);

    nqt_round_trip(s, good, "good during");
    nqt_expect_none(s, NQT_SHORT_MS);
    assert_false(nqt_wait_peer(s, badid, 1, 0));
    nq_comm_close(bad, 1000);
    nq_comm_free(bad);
    nqt_log_destroy(&blog);

    nq_comm *late = g_client(client_opts(port, "client.pem", "client.key"));
    nqt_round_trip(s, late, "a good client after");
    g_close_free(late, NQ_OK);
    g_close_free(good, NQ_OK);
    g_close_free(s, NQ_OK);
}

static void test_grpc_mtls_no_client_cert(void **state)
{
    refused(client_opts(0, NULL, NULL));
}

static void test_grpc_mtls_other_ca_client_cert(void **state)
{
    refused(client_opts(0, "otherclient.pem", "otherclient.key"));
}

/* server.pem: from the right CA, but for server authentication only */
static void test_grpc_mtls_server_cert_as_client_cert(void **state)
{
    refused(client_opts(0, "server.pem", "server.key"));
}

/* Without a client CA, a client presenting a certificate is served; with
 * one, the same client is not. */
static void test_grpc_no_client_ca_accepts_client_cert(void **state)
{
    nq_comm *s = g_server(nqt_tls_server_opts(0, "server.pem", "server.key"));
    nq_comm *c = g_client(client_opts(nqt_port_of(s), "otherclient.pem", "otherclient.key"));
    nqt_round_trip(s, c, "certificate not asked for");
    g_close_free(c, NQ_OK);
    g_close_free(s, NQ_OK);

    nq_comm *m = mtls_server();
    nq_options *o = client_opts(nqt_port_of(m), "otherclient.pem", "otherclient.key");
    assert_int_equal(nq_options_set_connect_timeout(o, 500), NQ_OK);
    nq_comm *x = g_client(o);
    put_refused(x);
    nqt_expect_none(m, NQT_SHORT_MS);
    nq_comm_close(x, 500);
    nq_comm_free(x);
    g_close_free(m, NQ_OK);
}

static void expect_new(nq_options *o, nq_purpose purpose, nq_status want, const char *what)
{
    nq_comm *x = NULL;
    nq_status st = nq_comm_new(&x, NQ_GRPC, purpose, o);
    print_message("%s: %s (%s)\n", what, nq_strerror(st), nq_last_error());
    assert_int_equal(st, want);
    assert_null(x);
    nq_options_free(o);
}

static void test_grpc_mtls_option_errors(void **state)
{
    nq_options *o = nqt_tls_server_opts(0, "server.pem", "server.key");
    assert_int_equal(nq_options_set_tls_client_ca(o, nqt_cert("garbage.pem")), NQ_OK);
    expect_new(o, NQ_SERVER, NQ_ETLS, "garbage client CA");
    o = nqt_tls_server_opts(0, "server.pem", "server.key");
    assert_int_equal(nq_options_set_tls_client_ca(o, "/nonexistent/ca.pem"), NQ_OK);
    expect_new(o, NQ_SERVER, NQ_ETLS, "missing client CA");
    o = client_opts(nqt_free_port(), NULL, NULL);
    assert_int_equal(nq_options_set_tls_client_ca(o, nqt_cert("ca.pem")), NQ_OK);
    expect_new(o, NQ_CLIENT, NQ_EINVAL, "client CA on a client");
    expect_new(client_opts(nqt_free_port(), "client.pem", NULL), NQ_CLIENT, NQ_ETLS,
               "client certificate without key");
    expect_new(client_opts(nqt_free_port(), "garbage.pem", "client.key"), NQ_CLIENT, NQ_ETLS,
               "garbage client certificate");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grpc_mtls_good_client),
        cmocka_unit_test(test_grpc_mtls_no_client_cert),
        cmocka_unit_test(test_grpc_mtls_other_ca_client_cert),
        cmocka_unit_test(test_grpc_mtls_server_cert_as_client_cert),
        cmocka_unit_test(test_grpc_no_client_ca_accepts_client_cert),
        cmocka_unit_test(test_grpc_mtls_option_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
