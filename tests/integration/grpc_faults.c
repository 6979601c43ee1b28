/*
 * gRPC faults: calls to an unknown method, a client that half-closes at
 * once or mid-frame, a first frame that is not an id, a message over the
 * transport size, a server restart under a live client, a plaintext
 * client against a TLS server. Each ends with a clear status or error,
 * and a regular client of the same server still works afterwards.
 * The bad calls are made with the gRPC core API directly.
 */
#include "grpc_common.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grpc_setup(void **state)
{
    grpc_init();
    return 0;
}

static int grpc_teardown(void **state)
{
    grpc_shutdown();
    return 0;
}

/* One call of method on 127.0.0.1:port: send msg (if len or send_empty),
 * half-close, read one message, return the status and its details. */
static grpc_status_code raw_call(int port, const char *method, const void *msg, size_t len,
                                 int send, char *details, size_t dn)
{
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    grpc_arg a[2] = {
        {GRPC_ARG_INTEGER, GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, {.integer = 1}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, {.integer = -1}},
    };
    grpc_channel_args args = {2, a};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, creds, &args);
    grpc_channel_credentials_release(creds);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                                         gpr_time_from_seconds(15, GPR_TIMESPAN));
    grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                               grpc_slice_from_static_string(method), NULL,
                                               deadline, NULL);
    grpc_slice sl = grpc_slice_from_copied_buffer(msg ? msg : "", len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    grpc_byte_buffer *got = NULL;
    grpc_metadata_array init, trail;
    grpc_metadata_array_init(&init);
    grpc_metadata_array_init(&trail);
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice sdetails = grpc_empty_slice();
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (send) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = bb;
    }
    ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[n++].data.recv_initial_metadata.recv_initial_metadata = &init;
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &got;
    ops[n].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[n].data.recv_status_on_client.trailing_metadata = &trail;
    ops[n].data.recv_status_on_client.status = &status;
    ops[n++].data.recv_status_on_client.status_details = &sdetails;
    assert_int_equal(grpc_call_start_batch(call, ops, n, (void *)1, NULL), GRPC_CALL_OK);
    grpc_event ev = grpc_completion_queue_pluck(cq, (void *)1, deadline, NULL);
    assert_int_equal(ev.type, GRPC_OP_COMPLETE);
    char *d = grpc_slice_to_c_string(sdetails);
    snprintf(details, dn, "%s", d);
    gpr_free(d);
    if (got)
        grpc_byte_buffer_destroy(got);
    grpc_byte_buffer_destroy(bb);
    grpc_slice_unref(sdetails);
    grpc_metadata_array_destroy(&init);
    grpc_metadata_array_destroy(&trail);
    grpc_call_unref(call);
    grpc_channel_destroy(ch);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    print_message("raw call %s: status %d (%s)\n", method, (int)status, details);
    return status;
}

/* A regular client still gets through. */
static void still_works(nq_comm *s, nq_options *copts)
{
    nq_comm *c = g_client(copts);
    uint8_t cid[16];
    nqt_id_of(c, cid);
    nqt_put_str(c, "still fine", NULL, 0);
    nqt_expect_str(s, "still fine", cid);
    nqt_put_str(s, "indeed", cid, 1);
    nqt_expect_str(c, "indeed", NULL);
    g_close_free(c, NQ_OK);
}

static void test_unknown_method(void **state)
{
    int port;
    nq_comm *s = g_plain_server(&port);
    char d[256];
    assert_int_equal(raw_call(port, "/grpc/other", "x", 1, 1, d, sizeof d), GRPC_STATUS_UNIMPLEMENTED);
    assert_non_null(strstr(d, "/grpc/comm"));
    assert_int_equal(raw_call(port, "/helloworld.Greeter/SayHello", NULL, 0, 0, d, sizeof d),
                     GRPC_STATUS_UNIMPLEMENTED);
    still_works(s, nqt_opts(port));
    g_close_free(s, NQ_OK);
}

static void test_early_half_close(void **state)
{
    int port;
    nq_comm *s = g_plain_server(&port);
    char d[256];
    /* half-closed before saying anything: an empty round, status OK */
    assert_int_equal(raw_call(port, "/grpc/comm", NULL, 0, 0, d, sizeof d), GRPC_STATUS_OK);
    /* half-closed inside a frame header, then inside a frame: the stream
     * may go on in a later round of that client; this one ends OK */
    uint8_t part[12] = {0, 0, 0, 0, 0, 0, 0, 16, 'a', 'b', 'c', 'd'};
    assert_int_equal(raw_call(port, "/grpc/comm", part, 5, 1, d, sizeof d), GRPC_STATUS_OK);
    assert_int_equal(raw_call(port, "/grpc/comm", part, 12, 1, d, sizeof d), GRPC_STATUS_OK);
    /* an empty gRPC message */
    assert_int_equal(raw_call(port, "/grpc/comm", NULL, 0, 1, d, sizeof d), GRPC_STATUS_OK);
    still_works(s, nqt_opts(port));
    g_close_free(s, NQ_OK);
}

static void test_bad_first_frame(void **state)
{
    int port;
    nq_comm *s = g_plain_server(&port);
    char d[256];
    uint8_t bad[11] = {0, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c'};
    assert_int_equal(raw_call(port, "/grpc/comm", bad, sizeof bad, 1, d, sizeof d),
                     GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(d, "protocol error"));
    still_works(s, nqt_opts(port));
    g_close_free(s, NQ_OK);
}

static void test_oversized(void **state)
{
    nq_options *o = nqt_opts(0);
    assert_int_equal(nq_options_set_transport_size(o, 64 * 1024), NQ_OK);
    nq_comm *s = g_server(o);
    int port = nqt_port_of(s);
    size_t big = 200 * 1024;
    uint8_t *buf = calloc(1, big);
    char d[256];
    assert_int_equal(raw_call(port, "/grpc/comm", buf, big, 1, d, sizeof d),
                     GRPC_STATUS_RESOURCE_EXHAUSTED);
    free(buf);
    nq_options *co = nqt_opts(port);
    assert_int_equal(nq_options_set_transport_size(co, 64 * 1024), NQ_OK);
    still_works(s, co);
    g_close_free(s, NQ_OK);
}

static void test_server_restart(void **state)
{
    int port;
    nq_comm *s1 = g_plain_server(&port);
    nq_comm *c = g_client(nqt_opts(port));
    uint8_t cid[16];
    nqt_id_of(c, cid);
    nqt_put_str(c, "before", NULL, 0);
    nqt_expect_str(s1, "before", cid);
    /* once the server's ini is in, "before" is acknowledged (not resent) */
    uint8_t sid[16];
    nqt_id_of(s1, sid);
    assert_true(nqt_wait_peer(c, sid, 1, NQT_LONG_MS));
    /* the server goes away without a word */
    assert_int_equal(nq_comm_close(s1, 0), NQ_ETIMEDOUT);
    nq_comm_free(s1);
    nq_options *o = nqt_opts(port);
    nq_comm *s2 = g_server(o);
    /* the client's next round fails, it starts over with its ini */
    nqt_put_str(c, "after", NULL, 0);
    nqt_expect_str(s2, "after", cid);
    nqt_put_str(s2, "welcome back", cid, 1);
    nqt_expect_str(c, "welcome back", NULL);
    g_close_free(c, NQ_OK);
    g_close_free(s2, NQ_OK);
}

static void wait_put(nq_comm *c, const char *text, nq_status want_not)
{
    nq_future *f = NULL;
    assert_int_equal(nq_comm_put_future(c, text, strlen(text), NULL, 0, &f), NQ_OK);
    nq_status r = NQ_OK;
    assert_int_equal(nq_future_wait(f, NQT_LONG_MS, &r), NQ_OK);
    print_message("put over a plaintext channel to a TLS server: %s\n", nq_strerror(r));
    assert_int_not_equal(r, want_not);
    nq_future_free(f);
}

static void test_plain_client_tls_server(void **state)
{
    nq_comm *s = g_server(nqt_tls_server_opts(0, "server.pem", "server.key"));
    int port = nqt_port_of(s);
    nq_options *o = nqt_opts(port);
    assert_int_equal(nq_options_set_connect_timeout(o, 500), NQ_OK);
    nq_comm *plain = g_client(o);
    wait_put(plain, "in the clear", NQ_OK);
    nq_status st = nq_comm_close(plain, 300);
    assert_int_not_equal(st, NQ_OK);
    nq_comm_free(plain);
    nqt_expect_none(s, NQT_SHORT_MS);
    still_works(s, nqt_tls_client_opts(port, "ca.pem"));
    g_close_free(s, NQ_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_method),
        cmocka_unit_test(test_early_half_close),
        cmocka_unit_test(test_bad_first_frame),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_server_restart),
        cmocka_unit_test(test_plain_client_tls_server),
    };
    return cmocka_run_group_tests(tests, grpc_setup, grpc_teardown);
}
