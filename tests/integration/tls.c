/*
 * C x C over TLS: round trip, 1 MiB message, verification failures (other
 * CA, wrong host, self-signed), verification off, plaintext and TLS
 * mismatches, bad key files. Certificates come from NQ_TEST_CERTS
 * (tests/support/make-certs.sh).
 */
#include "nqtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static nq_comm *tls_server(const char *cert, const char *key, nqt_log *log)
{
    nq_options *o = nqt_tls_server_opts(0, cert, key);
    if (log)
        nqt_log_attach(o, log);
    return nqt_server(o);
}

static nq_comm *good_client(int port)
{
    return nqt_client(nqt_tls_client_opts(port, "ca.pem"));
}

static void close_free(nq_comm *c, nq_status want)
{
    nq_status st = nq_comm_close(c, NQT_LONG_MS);
    if (st != want)
        print_message("close: %s (%s)\n", nq_strerror(st), nq_last_error());
    assert_int_equal(st, want);
    nq_comm_free(c);
}

static void test_tls_round_trip(void **state)
{
    nq_comm *s = tls_server("server.pem", "server.key", NULL);
    int port = nqt_port_of(s);
    nq_comm *c = good_client(port);
    nqt_round_trip(s, c, "over tls");
    /* A few more, both ways, including empty and id-sized. */
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    nqt_put(c, "", 0, NULL, 0);
    nqt_put(c, sid, 16, NULL, 0);
    nqt_expect(s, "", 0, cid);
    nqt_expect(s, sid, 16, cid);
    close_free(c, NQ_OK);
    assert_int_equal(nqt_wait_npeers(s, 0, NQT_LONG_MS), 0);
    close_free(s, NQ_OK);
}

/* Small messages to a client that stops reading: the server's writes stall
 * with plaintext staged for SSL_write, which then waits in a buffer of the
 * connection's own (the staging buffer is the I/O thread's) and is written
 * again, byte for byte, once the client reads: every message arrives, in
 * order, intact. */
static void test_tls_small_messages_stalled_reader(void **state)
{
    nq_comm *s = tls_server("server.pem", "server.key", NULL);
    nq_options *o = nqt_tls_client_opts(nqt_port_of(s), "ca.pem");
    assert_int_equal(nq_options_set_queue_limit(o, 64 * 1024), NQ_OK); /* reading pauses soon */
    nq_comm *c = nqt_client(o);
    nqt_round_trip(s, c, "ready");
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    enum { COUNT = 60000, SIZE = 100 }; /* 6 MB: far past the socket buffers */
    uint8_t msg[SIZE];
    for (uint32_t i = 0; i < COUNT; i++) {
        nqt_fill(msg, SIZE, i);
        nqt_put(s, msg, SIZE, cid, 1);
    }
    nqt_sleep_ms(300); /* the server's writes stall meanwhile */
    for (uint32_t i = 0; i < COUNT; i++) {
        nqt_fill(msg, SIZE, i);
        nqt_expect(c, msg, SIZE, sid);
    }
    close_free(c, NQ_OK);
    close_free(s, NQ_OK);
}

/* Host name check against set_tls_server_name. */
static void test_tls_server_name(void **state)
{
    nq_comm *s = tls_server("wronghost.pem", "wronghost.key", NULL);
    int port = nqt_port_of(s);
    nq_options *o = nqt_tls_client_opts(port, "ca.pem");
    assert_int_equal(nq_options_set_tls_server_name(o, "wrong.example"), NQ_OK);
    nq_comm *c = nqt_client(o);
    nqt_round_trip(s, c, "named");
    close_free(c, NQ_OK);
    close_free(s, NQ_OK);
}

#define MIB (1u << 20)

static void test_tls_1mib(void **state)
{
    nq_comm *s = tls_server("server.pem", "server.key", NULL);
    nq_comm *c = good_client(nqt_port_of(s));
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    uint8_t *a = malloc(MIB), *b = malloc(MIB);
    assert_non_null(a);
    assert_non_null(b);
    nqt_fill(a, MIB, 11);
    nqt_fill(b, MIB, 12);
    nqt_put(c, a, MIB, NULL, 0);
    nqt_put(c, b, MIB + 0 - 1, NULL, 0);
    nqt_expect(s, a, MIB, cid);
    nqt_expect(s, b, MIB - 1, cid);
    nqt_put(s, b, MIB, cid, 1);
    nqt_expect(c, b, MIB, sid);
    /* many small messages after the big ones, in order */
    for (int i = 0; i < 1000; i++) {
        char buf[16];
        int n = snprintf(buf, sizeof buf, "%d", i);
        nqt_put(c, buf, (size_t)n, NULL, 0);
    }
    for (int i = 0; i < 1000; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", i);
        nqt_expect_str(s, buf, cid);
    }
    free(a);
    free(b);
    close_free(c, NQ_OK);
    close_free(s, NQ_OK);
}

/*
 * A client that must fail (bad CA, wrong host, plaintext vs TLS...):
 * its put never completes with NQ_OK and is never delivered; the server
 * keeps serving a good client meanwhile; closing the bad client does not
 * hang past its timeout.
 */
static void bad_client_vs_server(nq_comm *s, int good_is_tls, nq_options *bad_opts,
                                 nqt_log *log)
{
    int port = nqt_port_of(s);
    nq_comm *bad = nqt_client(bad_opts);
    uint8_t badid[16];
    nqt_id_of(bad, badid);
    nq_future *f = NULL;
    assert_int_equal(nq_comm_put_future(bad, "must not arrive", 15, NULL, 0, &f), NQ_OK);

    nq_comm *good = good_is_tls ? good_client(port) : nqt_plain_client(port);
    nqt_round_trip(s, good, "good 1");
    /* Give the bad client time for some attempts, then check again. */
    nq_status r = NQ_OK;
    nq_status w = nq_future_wait(f, 2000, &r);
    if (w == NQ_OK) {
        print_message("bad client's put completed: %s\n", nq_strerror(r));
        assert_int_not_equal(r, NQ_OK);
    } else {
        print_message("bad client's put still pending after 2 s\n");
    }
    nqt_round_trip(s, good, "good 2");
    nqt_expect_none(s, NQT_SHORT_MS);
    /* The bad client is not a peer of the server. */
    assert_false(nqt_wait_peer(s, badid, 1, 0));

    nq_status st = nq_comm_close(bad, 2000);
    print_message("bad client close: %s\n", nq_strerror(st));
    assert_int_equal(nq_future_wait(f, 0, &r), NQ_OK);
    print_message("bad client's put: %s\n", nq_strerror(r));
    assert_int_not_equal(r, NQ_OK);
    nq_future_free(f);
    nq_comm_free(bad);

    nqt_round_trip(s, good, "good 3");
    close_free(good, NQ_OK);
    close_free(s, NQ_OK);
    if (log)
        nqt_log_print(log, "server");
}

static void test_tls_other_ca(void **state)
{
    nqt_log log;
    nqt_log_init(&log);
    nq_comm *s = tls_server("server.pem", "server.key", &log);
    bad_client_vs_server(s, 1, nqt_tls_client_opts(nqt_port_of(s), "other-ca.pem"), &log);
    nqt_log_destroy(&log);
}

static void test_tls_wrong_host(void **state)
{
    /* The server presents a certificate for wrong.example; we dial 127.0.0.1. */
    nq_comm *s = tls_server("wronghost.pem", "wronghost.key", NULL);
    int port = nqt_port_of(s);
    nq_options *bad = nqt_tls_client_opts(port, "ca.pem");
    /* The good client names the host the certificate is for. */
    nq_comm *good = NULL;
    {
        nq_options *o = nqt_tls_client_opts(port, "ca.pem");
        assert_int_equal(nq_options_set_tls_server_name(o, "wrong.example"), NQ_OK);
        good = nqt_client(o);
    }
    nq_comm *b = nqt_client(bad);
    nq_future *f = NULL;
    assert_int_equal(nq_comm_put_future(b, "no", 2, NULL, 0, &f), NQ_OK);
    nqt_round_trip(s, good, "right name");
    nqt_expect_none(s, NQT_SHORT_MS);
    nq_comm_close(b, 2000);
    nq_status r = NQ_OK;
    assert_int_equal(nq_future_wait(f, 0, &r), NQ_OK);
    assert_int_not_equal(r, NQ_OK);
    nq_future_free(f);
    nq_comm_free(b);

    /* And a server name that the (right) certificate does not carry. */
    nq_comm *s2 = tls_server("server.pem", "server.key", NULL);
    nq_options *o2 = nqt_tls_client_opts(nqt_port_of(s2), "ca.pem");
    assert_int_equal(nq_options_set_tls_server_name(o2, "not-localhost.example"), NQ_OK);
    bad_client_vs_server(s2, 1, o2, NULL);

    close_free(good, NQ_OK);
    close_free(s, NQ_OK);
}

static void test_tls_selfsigned_rejected(void **state)
{
    nq_comm *s = tls_server("selfsigned.pem", "selfsigned.key", NULL);
    int port = nqt_port_of(s);
    /* Verified against our CA: rejected. */
    nq_comm *b = nqt_client(nqt_tls_client_opts(port, "ca.pem"));
    nq_future *f = NULL;
    assert_int_equal(nq_comm_put_future(b, "no", 2, NULL, 0, &f), NQ_OK);
    /* Verification off: accepted (the --no-verify equivalent). */
    nq_options *o = nqt_tls_client_opts(port, NULL);
    assert_int_equal(nq_options_set_tls_verify(o, 0), NQ_OK);
    nq_comm *nv = nqt_client(o);
    nqt_round_trip(s, nv, "no verify");
    nqt_expect_none(s, NQT_SHORT_MS);
    nq_comm_close(b, 2000);
    nq_status r = NQ_OK;
    assert_int_equal(nq_future_wait(f, 0, &r), NQ_OK);
    assert_int_not_equal(r, NQ_OK);
    nq_future_free(f);
    nq_comm_free(b);
    close_free(nv, NQ_OK);
    close_free(s, NQ_OK);
}

/* Verification off also accepts a wrong-host certificate from another CA. */
static void test_tls_no_verify(void **state)
{
    nq_comm *s = tls_server("wronghost.pem", "wronghost.key", NULL);
    nq_options *o = nqt_tls_client_opts(nqt_port_of(s), "other-ca.pem");
    assert_int_equal(nq_options_set_tls_verify(o, 0), NQ_OK);
    nq_comm *c = nqt_client(o);
    nqt_round_trip(s, c, "no verify at all");
    close_free(c, NQ_OK);
    close_free(s, NQ_OK);
}

static void test_plain_client_on_tls_port(void **state)
{
    nqt_log log;
    nqt_log_init(&log);
    nq_comm *s = tls_server("server.pem", "server.key", &log);
    bad_client_vs_server(s, 1, nqt_opts(nqt_port_of(s)), &log);
    nqt_log_destroy(&log);
}

static void test_tls_client_on_plain_port(void **state)
{
    int port;
    nq_comm *s = nqt_plain_server(&port);
    bad_client_vs_server(s, 0, nqt_tls_client_opts(port, "ca.pem"), NULL);
}

static void expect_new_fails(nq_options *o, nq_purpose purpose, const char *what)
{
    nq_comm *x = NULL;
    nq_status st = nq_comm_new(&x, NQ_TCP, purpose, o);
    print_message("%s: %s (%s)\n", what, nq_strerror(st), nq_last_error());
    assert_int_equal(st, NQ_ETLS);
    assert_true(nq_last_error()[0] != '\0');
    assert_null(x);
    nq_options_free(o);
}

static void test_tls_bad_files(void **state)
{
    expect_new_fails(nqt_tls_server_opts(0, "server.pem", "garbage.pem"), NQ_SERVER,
                     "garbage key");
    expect_new_fails(nqt_tls_server_opts(0, "garbage.pem", "server.key"), NQ_SERVER,
                     "garbage certificate");
    expect_new_fails(nqt_tls_server_opts(0, "server.pem", "wronghost.key"), NQ_SERVER,
                     "key not matching the certificate");
    nq_options *o = nqt_tls_server_opts(0, "server.pem", "server.key");
    assert_int_equal(nq_options_set_tls_key(o, "/nonexistent/key.pem"), NQ_OK);
    expect_new_fails(o, NQ_SERVER, "missing key file");
    o = nqt_tls_client_opts(0, "garbage.pem");
    assert_int_equal(nq_options_set_port(o, nqt_free_port()), NQ_OK);
    expect_new_fails(o, NQ_CLIENT, "garbage CA");
    o = nqt_tls_client_opts(0, NULL);
    assert_int_equal(nq_options_set_port(o, nqt_free_port()), NQ_OK);
    assert_int_equal(nq_options_set_tls_ca(o, "/nonexistent/ca.pem"), NQ_OK);
    expect_new_fails(o, NQ_CLIENT, "missing CA file");

    /* TLS server with a certificate but no key. */
    o = nqt_opts(0);
    assert_int_equal(nq_options_set_tls(o, 1), NQ_OK);
    assert_int_equal(nq_options_set_tls_cert(o, nqt_cert("server.pem")), NQ_OK);
    nq_comm *x = NULL;
    nq_status st = nq_comm_new(&x, NQ_TCP, NQ_SERVER, o);
    print_message("TLS server without key: %s (%s)\n", nq_strerror(st), nq_last_error());
    assert_true(st == NQ_EINVAL || st == NQ_ETLS);
    assert_true(nq_last_error()[0] != '\0');
    assert_null(x);
    nq_options_free(o);
}

/* Several TLS clients at once, broadcast and targeted. */
static void test_tls_many_clients(void **state)
{
    nq_comm *s = tls_server("server.pem", "server.key", NULL);
    int port = nqt_port_of(s);
    enum { N = 8 };
    nq_comm *c[N];
    uint8_t ids[N][16], sid[16];
    nqt_id_of(s, sid);
    for (int i = 0; i < N; i++) {
        c[i] = good_client(port);
        nqt_id_of(c[i], ids[i]);
        nqt_put_str(c[i], "hi", NULL, 0);
    }
    for (int i = 0; i < N; i++)
        nqt_expect_str(s, "hi", NULL);
    assert_int_equal(nqt_wait_npeers(s, N, NQT_LONG_MS), N);
    nqt_put_str(s, "only 2", ids[2], 1);
    nqt_put_str(s, "all", NULL, 0);
    for (int i = 0; i < N; i++) {
        if (i == 2)
            nqt_expect_str(c[i], "only 2", sid);
        nqt_expect_str(c[i], "all", sid);
    }
    for (int i = 0; i < N; i++)
        close_free(c[i], NQ_OK);
    close_free(s, NQ_OK);
}

/* A TCP peer that never starts its TLS handshake, and one that sends
 * garbage instead of a ClientHello, do not stall the server (§9.5). */
static void test_tls_silent_and_garbage_peers(void **state)
{
    nqt_log log;
    nqt_log_init(&log);
    nq_comm *s = tls_server("server.pem", "server.key", &log);
    int port = nqt_port_of(s);
    int silent = nqt_raw_connect(port);
    assert_true(silent >= 0);
    int junk = nqt_raw_connect(port);
    assert_true(junk >= 0);
    uint8_t bytes[512];
    nqt_fill(bytes, sizeof bytes, 3);
    nqt_raw_send(junk, bytes, sizeof bytes);
    assert_int_equal(nqt_raw_wait_eof(junk, NQT_LONG_MS, NULL), 0);
    nqt_raw_close(junk);
    assert_true(nqt_log_wait_bad(&log, 1, NQT_LONG_MS) >= 1);

    nq_comm *c = good_client(port);
    nqt_round_trip(s, c, "past the silent peer");
    close_free(c, NQ_OK);
    nq_status st = nq_comm_close(s, 2000);
    print_message("TLS server close with a silent TCP peer: %s\n", nq_strerror(st));
    assert_true(st == NQ_OK || st == NQ_ETIMEDOUT);
    assert_int_equal(nqt_raw_wait_eof(silent, NQT_LONG_MS, NULL), 0);
    nqt_raw_close(silent);
    nq_comm_free(s);
    nqt_log_print(&log, "server");
    nqt_log_destroy(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_round_trip),
        cmocka_unit_test(test_tls_server_name),
        cmocka_unit_test(test_tls_1mib),
        cmocka_unit_test(test_tls_small_messages_stalled_reader),
        cmocka_unit_test(test_tls_other_ca),
        cmocka_unit_test(test_tls_wrong_host),
        cmocka_unit_test(test_tls_selfsigned_rejected),
        cmocka_unit_test(test_tls_no_verify),
        cmocka_unit_test(test_plain_client_on_tls_port),
        cmocka_unit_test(test_tls_client_on_plain_port),
        cmocka_unit_test(test_tls_bad_files),
        cmocka_unit_test(test_tls_many_clients),
        cmocka_unit_test(test_tls_silent_and_garbage_peers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
