/* Helpers shared by the gRPC integration tests: communicators over
 * NQ_GRPC on loopback, plain or TLS (certificates from NQ_TEST_CERTS). */
#ifndef NQ_TEST_GRPC_COMMON_H
#define NQ_TEST_GRPC_COMMON_H

#include "nqtest.h"

static nq_comm *g_make(nq_options *opts, nq_purpose purpose)
{
    nq_comm *c = NULL;
    nq_status st = nq_comm_new(&c, NQ_GRPC, purpose, opts);
    if (st != NQ_OK)
        print_message("nq_comm_new(grpc %s): %s: %s\n", purpose == NQ_SERVER ? "server" : "client",
                      nq_strerror(st), nq_last_error());
    nq_options_free(opts);
    assert_int_equal(st, NQ_OK);
    return c;
}

static inline nq_comm *g_server(nq_options *o) { return g_make(o, NQ_SERVER); }
static inline nq_comm *g_client(nq_options *o) { return g_make(o, NQ_CLIENT); }

static inline nq_comm *g_plain_server(int *port)
{
    nq_comm *s = g_server(nqt_opts(0));
    *port = nqt_port_of(s);
    return s;
}

static inline void g_close_free(nq_comm *c, nq_status want)
{
    nq_status st = nq_comm_close(c, NQT_LONG_MS);
    if (st != want)
        print_message("nq_comm_close: %s (%s)\n", nq_strerror(st), nq_last_error());
    assert_int_equal(st, want);
    nq_comm_free(c);
}

#endif
