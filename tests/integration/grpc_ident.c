/*
 * The gRPC client identity headers (nq-client-id, nq-link) as the server
 * checks them, with calls made through the gRPC core API on ONE channel
 * (one HTTP/2 connection, as a proxy's upstream connection): two clients
 * on it stay apart; a header that lies about the ini's id, a malformed
 * header, and an unknown link's empty first round are refused with a
 * clear status and a log line; calls without headers are keyed by
 * address as before. A regular client still works afterwards.
 */
#include "grpc_common.h"

#include <grpc/byte_buffer_reader.h>
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

struct conn {
    grpc_channel *ch;
    grpc_completion_queue *cq;
};

static void conn_open(struct conn *k, int port)
{
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    grpc_arg a[1] = {{GRPC_ARG_INTEGER, GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, {.integer = 1}}};
    grpc_channel_args args = {1, a};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    k->ch = grpc_channel_create(target, creds, &args);
    grpc_channel_credentials_release(creds);
    k->cq = grpc_completion_queue_create_for_pluck(NULL);
}

static void conn_close(struct conn *k)
{
    grpc_channel_destroy(k->ch);
    grpc_completion_queue_shutdown(k->cq);
    while (grpc_completion_queue_pluck(k->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(k->cq);
}

/* What one call brought back. */
struct reply {
    grpc_status_code status;
    char details[256];
    uint8_t data[4096]; /* the server's bytes of this round */
    size_t len;
};

/* One round on k: initial metadata id/link (either may be NULL: not
 * sent), the bytes msg (none when len is 0), half-close, read the
 * server's messages to the end. */
static void call(struct conn *k, const char *id, const char *link, const void *msg, size_t len,
                 struct reply *out)
{
    memset(out, 0, sizeof *out);
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_seconds(15, GPR_TIMESPAN));
    grpc_call *c = grpc_channel_create_call(k->ch, NULL, GRPC_PROPAGATE_DEFAULTS, k->cq,
                                            grpc_slice_from_static_string("/grpc/comm"), NULL, deadline, NULL);
    assert_non_null(c);
    grpc_metadata md[2];
    size_t nmd = 0;
    if (id) {
        md[nmd].key = grpc_slice_from_static_string("nq-client-id");
        md[nmd++].value = grpc_slice_from_copied_string(id);
    }
    if (link) {
        md[nmd].key = grpc_slice_from_static_string("nq-link");
        md[nmd++].value = grpc_slice_from_copied_string(link);
    }
    grpc_metadata_array init, trail;
    grpc_metadata_array_init(&init);
    grpc_metadata_array_init(&trail);
    grpc_slice sdetails = grpc_empty_slice();
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n].data.send_initial_metadata.count = nmd;
    ops[n++].data.send_initial_metadata.metadata = md;
    grpc_byte_buffer *bb = NULL;
    if (len) {
        grpc_slice sl = grpc_slice_from_copied_buffer(msg, len);
        bb = grpc_raw_byte_buffer_create(&sl, 1);
        grpc_slice_unref(sl);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = bb;
    }
    ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[n++].data.recv_initial_metadata.recv_initial_metadata = &init;
    assert_int_equal(grpc_call_start_batch(c, ops, n, (void *)1, NULL), GRPC_CALL_OK);
    grpc_event ev = grpc_completion_queue_pluck(k->cq, (void *)1, deadline, NULL);
    assert_int_equal(ev.type, GRPC_OP_COMPLETE);
    for (;;) { /* the server's messages, until its stream ends */
        grpc_byte_buffer *got = NULL;
        grpc_op r = {0};
        r.op = GRPC_OP_RECV_MESSAGE;
        r.data.recv_message.recv_message = &got;
        assert_int_equal(grpc_call_start_batch(c, &r, 1, (void *)2, NULL), GRPC_CALL_OK);
        ev = grpc_completion_queue_pluck(k->cq, (void *)2, deadline, NULL);
        assert_int_equal(ev.type, GRPC_OP_COMPLETE);
        if (!ev.success || !got)
            break;
        grpc_byte_buffer_reader rd;
        assert_true(grpc_byte_buffer_reader_init(&rd, got));
        grpc_slice sl;
        while (grpc_byte_buffer_reader_next(&rd, &sl)) {
            size_t sn = GRPC_SLICE_LENGTH(sl);
            assert_true(out->len + sn <= sizeof out->data);
            memcpy(out->data + out->len, GRPC_SLICE_START_PTR(sl), sn);
            out->len += sn;
            grpc_slice_unref(sl);
        }
        grpc_byte_buffer_reader_destroy(&rd);
        grpc_byte_buffer_destroy(got);
    }
    grpc_op st = {0};
    st.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    st.data.recv_status_on_client.trailing_metadata = &trail;
    st.data.recv_status_on_client.status = &out->status;
    st.data.recv_status_on_client.status_details = &sdetails;
    assert_int_equal(grpc_call_start_batch(c, &st, 1, (void *)3, NULL), GRPC_CALL_OK);
    ev = grpc_completion_queue_pluck(k->cq, (void *)3, deadline, NULL);
    assert_int_equal(ev.type, GRPC_OP_COMPLETE);
    char *d = grpc_slice_to_c_string(sdetails);
    snprintf(out->details, sizeof out->details, "%s", d);
    gpr_free(d);
    for (size_t i = 0; i < nmd; i++)
        grpc_slice_unref(md[i].value);
    if (bb)
        grpc_byte_buffer_destroy(bb);
    grpc_slice_unref(sdetails);
    grpc_metadata_array_destroy(&init);
    grpc_metadata_array_destroy(&trail);
    grpc_call_unref(c);
    print_message("call id=%.8s link=%s: status %d (%s), %zu bytes back\n", id ? id : "-", link ? link : "-",
                  (int)out->status, out->details, out->len);
}

/* frames: header + payload, appended at out + *n */
static void frame(uint8_t *out, size_t *n, const void *payload, size_t len)
{
    nqt_header(out + *n, len);
    memcpy(out + *n + 8, payload, len);
    *n += 8 + len;
}

/* A client's id: its hex form (the header) and bytes (the ini). */
struct who {
    char hex[33];
    uint8_t id[NQ_ID_SIZE];
};

static void who_new(struct who *w, uint8_t seed)
{
    for (int i = 0; i < NQ_ID_SIZE; i++)
        w->id[i] = (uint8_t)(seed * 17 + i);
    nq_id_format(w->id, w->hex);
}

/* ini, then the text as a message */
static size_t ini_and(const struct who *w, const char *text, uint8_t *buf)
{
    size_t n = 0;
    frame(buf, &n, w->id, NQ_ID_SIZE);
    if (text)
        frame(buf, &n, text, strlen(text));
    return n;
}

static int contains(const struct reply *r, const char *text)
{
    size_t tl = strlen(text);
    for (size_t i = 0; i + tl <= r->len; i++)
        if (memcmp(r->data + i, text, tl) == 0)
            return 1;
    return 0;
}

/* Two clients on one connection (by address they would be one) are two
 * sessions: each one's message reaches the server as its own, and a put
 * targeted at one comes only in that one's rounds. */
static void test_two_clients_one_connection(void **state)
{
    nqt_log log;
    nqt_log_init(&log);
    nq_options *o = nqt_opts(0);
    nqt_log_attach(o, &log);
    nq_comm *s = g_server(o);
    struct conn k;
    conn_open(&k, nqt_port_of(s));
    struct who a, b;
    who_new(&a, 1);
    who_new(&b, 2);
    uint8_t buf[256];
    struct reply r;
    call(&k, a.hex, "00000000000000aa", buf, ini_and(&a, "from a", buf), &r);
    assert_int_equal(r.status, GRPC_STATUS_OK);
    call(&k, b.hex, "00000000000000bb", buf, ini_and(&b, "from b", buf), &r);
    assert_int_equal(r.status, GRPC_STATUS_OK);
    nqt_expect_str(s, "from a", a.id);
    nqt_expect_str(s, "from b", b.id);
    assert_int_equal(nqt_wait_npeers(s, 2, NQT_LONG_MS), 2);
    nqt_put_str(s, "to a only", a.id, 1);
    /* the put is queued at once for a's next round; give it a moment */
    int64_t end = nqt_now_ms() + NQT_LONG_MS;
    int got_a = 0;
    while (!got_a && nqt_now_ms() < end) {
        call(&k, b.hex, "00000000000000bb", NULL, 0, &r);
        assert_int_equal(r.status, GRPC_STATUS_OK);
        assert_false(contains(&r, "to a only"));
        call(&k, a.hex, "00000000000000aa", NULL, 0, &r);
        assert_int_equal(r.status, GRPC_STATUS_OK);
        got_a = contains(&r, "to a only");
    }
    assert_true(got_a);
    assert_int_equal(nqt_log_bad(&log), 0);
    conn_close(&k);
    /* they never say fin, but their connection is gone: not waited for */
    g_close_free(s, NQ_OK);
    nqt_log_destroy(&log);
}

/* One open round (call) of a raw client: started with its headers and
 * bytes, not yet half-closed. */
struct open_call {
    grpc_call *c;
    grpc_metadata md[2];
    grpc_metadata_array init, trail;
    grpc_byte_buffer *bb;
    grpc_status_code status;
    grpc_slice details;
};

static gpr_timespec soon(void)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_seconds(15, GPR_TIMESPAN));
}

static void wait_tag(struct conn *k, void *tag)
{
    grpc_event ev = grpc_completion_queue_pluck(k->cq, tag, soon(), NULL);
    assert_int_equal(ev.type, GRPC_OP_COMPLETE);
    assert_true(ev.success);
}

static void open_call(struct conn *k, struct open_call *o, const char *id, const char *link,
                      const uint8_t *msg, size_t len, void *tag)
{
    memset(o, 0, sizeof *o);
    o->c = grpc_channel_create_call(k->ch, NULL, GRPC_PROPAGATE_DEFAULTS, k->cq,
                                    grpc_slice_from_static_string("/grpc/comm"), NULL, soon(), NULL);
    assert_non_null(o->c);
    o->md[0].key = grpc_slice_from_static_string("nq-client-id");
    o->md[0].value = grpc_slice_from_copied_string(id);
    o->md[1].key = grpc_slice_from_static_string("nq-link");
    o->md[1].value = grpc_slice_from_copied_string(link);
    grpc_metadata_array_init(&o->init);
    grpc_metadata_array_init(&o->trail);
    o->details = grpc_empty_slice();
    grpc_slice sl = grpc_slice_from_copied_buffer((const char *)msg, len);
    o->bb = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = 2;
    ops[0].data.send_initial_metadata.metadata = o->md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = o->bb;
    assert_int_equal(grpc_call_start_batch(o->c, ops, 2, tag, NULL), GRPC_CALL_OK);
    wait_tag(k, tag);
}

/* Half-close, then the status (the server's messages are not read: a
 * first round carries none). */
static grpc_status_code close_call(struct conn *k, struct open_call *o, void *tag)
{
    grpc_op ops[3];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[1].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[1].data.recv_initial_metadata.recv_initial_metadata = &o->init;
    ops[2].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[2].data.recv_status_on_client.trailing_metadata = &o->trail;
    ops[2].data.recv_status_on_client.status = &o->status;
    ops[2].data.recv_status_on_client.status_details = &o->details;
    assert_int_equal(grpc_call_start_batch(o->c, ops, 3, tag, NULL), GRPC_CALL_OK);
    wait_tag(k, tag);
    grpc_status_code st = o->status;
    for (int i = 0; i < 2; i++)
        grpc_slice_unref(o->md[i].value);
    grpc_byte_buffer_destroy(o->bb);
    grpc_slice_unref(o->details);
    grpc_metadata_array_destroy(&o->init);
    grpc_metadata_array_destroy(&o->trail);
    grpc_call_unref(o->c);
    return st;
}

/* Two clients with a round open AT THE SAME TIME on one connection (as
 * Envoy multiplexes the calls of its clients on one upstream connection):
 * each one's bytes are its own, whichever round ends first. */
static void test_two_clients_concurrent_rounds(void **state)
{
    nq_comm *s = g_server(nqt_opts(0));
    struct conn k;
    conn_open(&k, nqt_port_of(s));
    struct who a, b;
    who_new(&a, 8);
    who_new(&b, 9);
    uint8_t ba[256], bb[256];
    struct open_call ca, cb;
    open_call(&k, &ca, a.hex, "00000000000000a8", ba, ini_and(&a, "a, first", ba), (void *)1);
    open_call(&k, &cb, b.hex, "00000000000000b9", bb, ini_and(&b, "b, first", bb), (void *)2);
    /* b's round ends before a's; the server reads both as they come, so
     * the two messages may arrive in either order */
    assert_int_equal(close_call(&k, &cb, (void *)3), GRPC_STATUS_OK);
    assert_int_equal(close_call(&k, &ca, (void *)4), GRPC_STATUS_OK);
    int seen_a = 0, seen_b = 0;
    for (int i = 0; i < 2; i++) {
        nq_msg *m = NULL;
        assert_int_equal(nq_comm_get(s, NULL, 0, NQT_LONG_MS, &m), NQ_OK);
        uint8_t from[NQ_ID_SIZE];
        nq_msg_peer(m, from);
        const struct who *w = nq_msg_size(m) == 8 && memcmp(nq_msg_data(m), "a, first", 8) == 0 ? &a
                              : nq_msg_size(m) == 8 && memcmp(nq_msg_data(m), "b, first", 8) == 0 ? &b
                                                                                                   : NULL;
        assert_non_null(w);
        assert_memory_equal(from, w->id, NQ_ID_SIZE);
        seen_a += w == &a;
        seen_b += w == &b;
        nq_msg_free(m);
    }
    assert_int_equal(seen_a, 1);
    assert_int_equal(seen_b, 1);
    assert_int_equal(nqt_wait_npeers(s, 2, NQT_LONG_MS), 2);
    conn_close(&k);
    g_close_free(s, NQ_OK);
}

/* The header says a, the ini says b: refused before the core sees the
 * ini (no session for b), PERMISSION_DENIED naming both, a warning. */
static void test_lying_client(void **state)
{
    nqt_log log;
    nqt_log_init(&log);
    nq_options *o = nqt_opts(0);
    nqt_log_attach(o, &log);
    nq_comm *s = g_server(o);
    struct conn k;
    conn_open(&k, nqt_port_of(s));
    struct who a, b;
    who_new(&a, 3);
    who_new(&b, 4);
    uint8_t buf[256];
    struct reply r;
    call(&k, a.hex, "0123456789abcdef", buf, ini_and(&b, "as b", buf), &r);
    assert_int_equal(r.status, GRPC_STATUS_PERMISSION_DENIED);
    assert_non_null(strstr(r.details, a.hex));
    assert_non_null(strstr(r.details, b.hex));
    assert_true(nqt_log_has(&log, "link refused: nq-client-id header says"));
    nqt_expect_none(s, NQT_SHORT_MS);
    assert_int_equal(nqt_npeers(s), 0);
    /* the ini cut over two calls is checked all the same */
    size_t n = ini_and(&b, NULL, buf);
    call(&k, a.hex, "1123456789abcdef", buf, 10, &r);
    assert_int_equal(r.status, GRPC_STATUS_OK);
    call(&k, a.hex, "1123456789abcdef", buf + 10, n - 10, &r);
    assert_int_equal(r.status, GRPC_STATUS_PERMISSION_DENIED);
    assert_int_equal(nqt_npeers(s), 0);
    conn_close(&k);
    nq_options *co = nqt_opts(nqt_port_of(s));
    nq_comm *c = g_client(co);
    nqt_round_trip(s, c, "still fine");
    g_close_free(c, NQ_OK);
    g_close_free(s, NQ_OK);
    nqt_log_destroy(&log);
}

/* Malformed headers: INVALID_ARGUMENT with what is wrong, and a warning. */
static void test_bad_headers(void **state)
{
    nqt_log log;
    nqt_log_init(&log);
    nq_options *o = nqt_opts(0);
    nqt_log_attach(o, &log);
    nq_comm *s = g_server(o);
    struct conn k;
    conn_open(&k, nqt_port_of(s));
    struct who a;
    who_new(&a, 5);
    char upper[33];
    for (int i = 0; i < 33; i++)
        upper[i] = (char)(a.hex[i] >= 'a' && a.hex[i] <= 'f' ? a.hex[i] - 32 : a.hex[i]);
    uint8_t buf[256];
    size_t n = ini_and(&a, "x", buf);
    struct reply r;
    const char *cases[][2] = {
        {upper, "0123456789abcdef"},         /* uppercase id */
        {"abc", "0123456789abcdef"},         /* too short */
        {a.hex, NULL},                       /* id without link */
        {NULL, "0123456789abcdef"},          /* link without id */
        {a.hex, "0123456789ABCDEF"},         /* uppercase link */
        {a.hex, "0123456789abcdef0"},        /* link too long */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        call(&k, cases[i][0], cases[i][1], buf, n, &r);
        assert_int_equal(r.status, GRPC_STATUS_INVALID_ARGUMENT);
        assert_non_null(strstr(r.details, "nq-client-id"));
    }
    assert_true(nqt_log_has(&log, "call refused: nq-client-id"));
    nqt_expect_none(s, NQT_SHORT_MS);
    conn_close(&k);
    g_close_free(s, NQ_OK);
    nqt_log_destroy(&log);
}

/* A link the server does not know whose round brings nothing (a client
 * a proxy moved here from a dead backend, polling), or bytes that are not
 * an ini: FAILED_PRECONDITION at once, so that it starts a new link with
 * its ini; with its ini it is served. No headers: keyed by address, an empty round is fine. */
static void test_unknown_link(void **state)
{
    nq_comm *s = g_server(nqt_opts(0));
    struct conn k;
    conn_open(&k, nqt_port_of(s));
    struct who a;
    who_new(&a, 6);
    struct reply r;
    call(&k, a.hex, "00000000000000cc", NULL, 0, &r);
    assert_int_equal(r.status, GRPC_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(r.details, "ini"));
    /* a round with data that does not begin with an ini: the same */
    uint8_t buf[256];
    size_t n = 0;
    frame(buf, &n, "in the middle", 13);
    call(&k, a.hex, "00000000000000ce", buf, n, &r);
    assert_int_equal(r.status, GRPC_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(r.details, "unknown nq-link"));
    nqt_expect_none(s, NQT_SHORT_MS);
    call(&k, a.hex, "00000000000000cd", buf, ini_and(&a, "hello", buf), &r);
    assert_int_equal(r.status, GRPC_STATUS_OK);
    nqt_expect_str(s, "hello", a.id);
    call(&k, NULL, NULL, NULL, 0, &r);
    assert_int_equal(r.status, GRPC_STATUS_OK);
    conn_close(&k);
    g_close_free(s, NQ_OK);
}

/* A second link claiming the same id (the client started over, or another
 * process with that id): the same-id rule of every transport, the newer
 * link takes the session over, from whatever connection; the older link
 * is dropped, so its next round is an unknown link's. */
static void test_same_id_new_link(void **state)
{
    nq_comm *s = g_server(nqt_opts(0));
    struct conn k;
    conn_open(&k, nqt_port_of(s));
    struct who a;
    who_new(&a, 7);
    uint8_t buf[256];
    struct reply r;
    call(&k, a.hex, "000000000000000a", buf, ini_and(&a, "first", buf), &r);
    assert_int_equal(r.status, GRPC_STATUS_OK);
    nqt_expect_str(s, "first", a.id);
    /* from another connection: the connection does not matter */
    struct conn k2;
    conn_open(&k2, nqt_port_of(s));
    call(&k2, a.hex, "000000000000000b", buf, ini_and(&a, "second", buf), &r);
    assert_int_equal(r.status, GRPC_STATUS_OK);
    nqt_expect_str(s, "second", a.id);
    conn_close(&k2);
    assert_int_equal(nqt_npeers(s), 1);
    size_t n = 0;
    frame(buf, &n, "old link", 8);
    call(&k, a.hex, "000000000000000a", buf, n, &r);
    assert_int_equal(r.status, GRPC_STATUS_FAILED_PRECONDITION);
    nqt_expect_none(s, NQT_SHORT_MS);
    conn_close(&k);
    g_close_free(s, NQ_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_clients_one_connection),
        cmocka_unit_test(test_two_clients_concurrent_rounds),
        cmocka_unit_test(test_lying_client),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_unknown_link),
        cmocka_unit_test(test_same_id_new_link),
    };
    return cmocka_run_group_tests(tests, grpc_setup, grpc_teardown);
}
