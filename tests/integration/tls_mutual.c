/*
 * Mutual TLS over TCP (nq_options_set_tls_client_ca): a client with a
 * certificate from the CA gets through, both ways; one with no certificate,
 * or one from another CA, or one not meant for client authentication, is
 * refused: nothing it puts is delivered, it never becomes a peer, the
 * server logs why (naming its address) and keeps serving good clients, and
 * the refused client's own log says the server refused it. A server
 * without a client CA accepts a client that presents a certificate. Option
 * errors: a client CA on a client, without TLS, unreadable; a client
 * certificate without its key, or with the wrong key.
 * Certificates come from NQ_TEST_CERTS (tests/support/make-certs.sh).
 */
#include "nqtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A TLS server requiring client certificates from ca.pem. */
static nq_comm *mtls_server(nqt_log *log)
{
    nq_options *o = nqt_tls_server_opts(0, "server.pem", "server.key");
    assert_int_equal(nq_options_set_tls_client_ca(o, nqt_cert("ca.pem")), NQ_OK);
    if (log)
        nqt_log_attach(o, log);
    return nqt_server(o);
}

/* Client options verifying the server against ca.pem and presenting
 * cert/key (names in NQ_TEST_CERTS; NULL: no certificate). */
static nq_options *client_opts(int port, const char *cert, const char *key, nqt_log *log)
{
    nq_options *o = nqt_tls_client_opts(port, "ca.pem");
    if (cert)
        assert_int_equal(nq_options_set_tls_cert(o, nqt_cert(cert)), NQ_OK);
    if (key)
        assert_int_equal(nq_options_set_tls_key(o, nqt_cert(key)), NQ_OK);
    if (log)
        nqt_log_attach(o, log);
    return o;
}

static void close_free(nq_comm *c, nq_status want)
{
    nq_status st = nq_comm_close(c, NQT_LONG_MS);
    if (st != want)
        print_message("close: %s (%s)\n", nq_strerror(st), nq_last_error());
    assert_int_equal(st, want);
    nq_comm_free(c);
}

/* Wait until log holds text (on one line with also, when not NULL). */
static int log_wait(nqt_log *log, const char *text, const char *also, int64_t timeout_ms)
{
    int64_t end = nqt_now_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&log->mu);
        int hit = 0;
        for (const char *p = log->text; (p = strstr(p, text)) != NULL; p++) {
            const char *bol = p, *eol = strchr(p, '\n');
            while (bol > log->text && bol[-1] != '\n')
                bol--;
            if (!also) {
                hit = 1;
                break;
            }
            const char *a = strstr(bol, also);
            if (a && (!eol || a < eol)) {
                hit = 1;
                break;
            }
        }
        pthread_mutex_unlock(&log->mu);
        if (hit)
            return 1;
        if (nqt_now_ms() >= end)
            return 0;
        nqt_sleep_ms(10);
    }
}

/* The server asks for a certificate (a client without one is refused),
 * and messages flow both ways between it and a client whose certificate
 * the CA signed; only the refusal is logged. */
static void test_mtls_good_client(void **state)
{
    nqt_log slog, clog;
    nqt_log_init(&slog);
    nqt_log_init(&clog);
    nq_comm *s = mtls_server(&slog);
    nq_comm *nocert = nqt_client(client_opts(nqt_port_of(s), NULL, NULL, NULL));
    nqt_put_str(nocert, "refused", NULL, 0);
    assert_true(log_wait(&slog, "client presented no certificate", NULL, NQT_LONG_MS));
    nq_comm_close(nocert, 0);
    nq_comm_free(nocert);
    int refusals = nqt_log_bad(&slog);

    nq_comm *c = nqt_client(client_opts(nqt_port_of(s), "client.pem", "client.key", &clog));
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    nqt_round_trip(s, c, "mutual tls");
    nqt_put_str(c, "from the client", NULL, 0);
    nqt_expect_str(s, "from the client", cid);
    assert_true(nqt_wait_peer(s, cid, 1, NQT_LONG_MS));
    nqt_put_str(s, "to the client", cid, 1);
    nqt_expect_str(c, "to the client", sid);
    nqt_expect_none(s, NQT_SHORT_MS); /* nothing from the refused client */
    close_free(c, NQ_OK);
    assert_int_equal(nqt_wait_npeers(s, 0, NQT_LONG_MS), 0);
    close_free(s, NQ_OK);
    nqt_log_print(&slog, "server");
    nqt_log_print(&clog, "client");
    assert_int_equal(nqt_log_bad(&slog), refusals);
    assert_int_equal(nqt_log_bad(&clog), 0);
    nqt_log_destroy(&slog);
    nqt_log_destroy(&clog);
}

/*
 * A client the server must refuse: its put is never delivered, it never
 * becomes a peer, the server logs a warning with the client's address and
 * server_says, the refused client logs client_says, and the server keeps
 * serving a good client before, during and after.
 */
static void refused_client(nq_options *bad_opts, nqt_log *blog, const char *server_says,
                           const char *client_says)
{
    nqt_log slog;
    nqt_log_init(&slog);
    nq_comm *s = mtls_server(&slog);
    int port = nqt_port_of(s);
    nq_comm *good = nqt_client(client_opts(port, "client.pem", "client.key", NULL));
    nqt_round_trip(s, good, "good before");

    assert_int_equal(nq_options_set_port(bad_opts, port), NQ_OK);
    nq_comm *bad = nqt_client(bad_opts);
    uint8_t badid[16];
    nqt_id_of(bad, badid);
    nq_future *f = NULL;
    assert_int_equal(nq_comm_put_future(bad, "must not arrive", 15, NULL, 0, &f), NQ_OK);

    /* the server says why, naming where the client came from */
    int said = log_wait(&slog, server_says, "127.0.0.1:", NQT_LONG_MS);
    int told = log_wait(blog, client_says, NULL, NQT_LONG_MS);
    nqt_log_print(&slog, "server");
    nqt_log_print(blog, "refused client");
    assert_true(said);
    assert_true(told);
    assert_true(nqt_log_has(&slog, "TLS handshake failed"));

    nqt_round_trip(s, good, "good during");
    nqt_expect_none(s, NQT_SHORT_MS);
    assert_false(nqt_wait_peer(s, badid, 1, 0));
    assert_int_equal(nqt_npeers(s), 1);

    nq_status st = nq_comm_close(bad, 2000);
    print_message("refused client close: %s\n", nq_strerror(st));
    nq_status r = NQ_OK;
    assert_int_equal(nq_future_wait(f, 0, &r), NQ_OK);
    print_message("refused client's put: %s\n", nq_strerror(r));
    nq_future_free(f);
    nq_comm_free(bad);

    /* still nothing from it, and the server goes on */
    nqt_expect_none(s, NQT_SHORT_MS);
    nqt_round_trip(s, good, "good after");
    nq_comm *late = nqt_client(client_opts(port, "client.pem", "client.key", NULL));
    nqt_round_trip(s, late, "a new good client after");
    close_free(late, NQ_OK);
    close_free(good, NQ_OK);
    close_free(s, NQ_OK);
    nqt_log_destroy(&slog);
}

static void test_mtls_no_client_cert(void **state)
{
    nqt_log blog;
    nqt_log_init(&blog);
    refused_client(client_opts(0, NULL, NULL, &blog), &blog, "client presented no certificate",
                   "the server requires a client certificate and we presented none");
    nqt_log_destroy(&blog);
}

static void test_mtls_other_ca_client_cert(void **state)
{
    nqt_log blog;
    nqt_log_init(&blog);
    refused_client(client_opts(0, "otherclient.pem", "otherclient.key", &blog), &blog,
                   "client certificate verification failed: unable to get local issuer certificate",
                   "the server rejected our client certificate");
    nqt_log_destroy(&blog);
}

/* server.pem comes from the right CA but its extended key usage is
 * serverAuth only: not a client certificate. */
static void test_mtls_server_cert_as_client_cert(void **state)
{
    nqt_log blog;
    nqt_log_init(&blog);
    refused_client(client_opts(0, "server.pem", "server.key", &blog), &blog,
                   "client certificate verification failed: unsuitable certificate purpose",
                   "the server rejected our client certificate");
    nqt_log_destroy(&blog);
}

/* Without a client CA the server neither asks for nor checks client
 * certificates: a client that presents one (even from another CA, which a
 * server with the CA refuses) is served as any other. */
static void test_no_client_ca_accepts_client_cert(void **state)
{
    nqt_log slog;
    nqt_log_init(&slog);
    {
        nqt_log mlog;
        nqt_log_init(&mlog);
        nq_comm *m = mtls_server(&mlog);
        nq_comm *x = nqt_client(client_opts(nqt_port_of(m), "otherclient.pem", "otherclient.key",
                                            NULL));
        nqt_put_str(x, "refused here", NULL, 0);
        assert_true(log_wait(&mlog, "client certificate verification failed", NULL, NQT_LONG_MS));
        nqt_expect_none(m, NQT_SHORT_MS);
        nq_comm_close(x, 0);
        nq_comm_free(x);
        close_free(m, NQ_OK);
        nqt_log_destroy(&mlog);
    }
    nq_options *so = nqt_tls_server_opts(0, "server.pem", "server.key");
    nqt_log_attach(so, &slog);
    nq_comm *s = nqt_server(so);
    int port = nqt_port_of(s);
    nq_comm *a = nqt_client(client_opts(port, "client.pem", "client.key", NULL));
    nq_comm *b = nqt_client(client_opts(port, "otherclient.pem", "otherclient.key", NULL));
    nqt_round_trip(s, a, "with a certificate");
    nqt_round_trip(s, b, "with another CA's certificate");
    close_free(a, NQ_OK);
    close_free(b, NQ_OK);
    close_free(s, NQ_OK);
    assert_int_equal(nqt_log_bad(&slog), 0);
    nqt_log_destroy(&slog);
}

static void expect_new(nq_options *o, nq_protocol protocol, nq_purpose purpose, nq_status want,
                       const char *detail, const char *what)
{
    nq_comm *x = NULL;
    nq_status st = nq_comm_new(&x, protocol, purpose, o);
    print_message("%s: %s (%s)\n", what, nq_strerror(st), nq_last_error());
    assert_int_equal(st, want);
    assert_non_null(strstr(nq_last_error(), detail));
    assert_null(x);
    nq_options_free(o);
}

static nq_options *with_client_ca(nq_options *o, const char *name)
{
    assert_int_equal(nq_options_set_tls_client_ca(o, nqt_cert(name)), NQ_OK);
    return o;
}

static void test_mtls_option_errors(void **state)
{
    /* the setter */
    nq_options *o = nqt_opts(0);
    assert_int_equal(nq_options_set_tls_client_ca(NULL, "x"), NQ_EINVAL);
    assert_int_equal(nq_options_set_tls_client_ca(o, ""), NQ_EINVAL);
    assert_int_equal(nq_options_set_tls_client_ca(o, NULL), NQ_OK);
    nq_options_free(o);

    /* a server option: a client with one fails, and so does a copy of it */
    o = with_client_ca(client_opts(nqt_free_port(), NULL, NULL, NULL), "ca.pem");
    nq_options *copy = NULL;
    assert_int_equal(nq_options_copy(&copy, o), NQ_OK);
    expect_new(o, NQ_TCP, NQ_CLIENT, NQ_EINVAL, "server option", "client CA on a client");
    expect_new(copy, NQ_TCP, NQ_CLIENT, NQ_EINVAL, "server option", "copied, on a client");
    /* ...that needs TLS on */
    expect_new(with_client_ca(nqt_opts(0), "ca.pem"), NQ_TCP, NQ_SERVER, NQ_EINVAL, "needs TLS",
               "client CA without TLS");
    /* unreadable or not PEM */
    expect_new(with_client_ca(nqt_tls_server_opts(0, "server.pem", "server.key"), "garbage.pem"),
               NQ_TCP, NQ_SERVER, NQ_ETLS, "garbage.pem", "garbage client CA");
    o = nqt_tls_server_opts(0, "server.pem", "server.key");
    assert_int_equal(nq_options_set_tls_client_ca(o, "/nonexistent/ca.pem"), NQ_OK);
    expect_new(o, NQ_TCP, NQ_SERVER, NQ_ETLS, "/nonexistent/ca.pem", "missing client CA");
    /* MQTT has no such option (built in or not, the answer is the same) */
    expect_new(with_client_ca(nqt_tls_server_opts(0, "server.pem", "server.key"), "ca.pem"),
               NQ_MQTT, NQ_SERVER, NQ_EUNSUPPORTED, "", "client CA over MQTT");
    expect_new(with_client_ca(nqt_tls_server_opts(0, "server.pem", "server.key"), "ca.pem"),
               NQ_INPROC, NQ_SERVER, NQ_EUNSUPPORTED, "inproc", "client CA in process");

    /* a client certificate needs its key, and the right one */
    expect_new(client_opts(nqt_free_port(), "client.pem", NULL, NULL), NQ_TCP, NQ_CLIENT, NQ_ETLS,
               "key", "client certificate without key");
    expect_new(client_opts(nqt_free_port(), NULL, "client.key", NULL), NQ_TCP, NQ_CLIENT, NQ_ETLS,
               "certificate", "client key without certificate");
    expect_new(client_opts(nqt_free_port(), "client.pem", "server.key", NULL), NQ_TCP, NQ_CLIENT,
               NQ_ETLS, "server.key", "client key not matching its certificate");
    expect_new(client_opts(nqt_free_port(), "garbage.pem", "client.key", NULL), NQ_TCP, NQ_CLIENT,
               NQ_ETLS, "garbage.pem", "garbage client certificate");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mtls_good_client),
        cmocka_unit_test(test_mtls_no_client_cert),
        cmocka_unit_test(test_mtls_other_ca_client_cert),
        cmocka_unit_test(test_mtls_server_cert_as_client_cert),
        cmocka_unit_test(test_no_client_ca_accepts_client_cert),
        cmocka_unit_test(test_mtls_option_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
