/*
 * C x C over TCP, volume: 100,000 ordered messages each way, a 64 MiB
 * message each way, a zero-copy stream put, and a close while 1000 puts
 * are still in flight.
 */
#include "nqtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NMSG 100000

/* Message i: 8-byte big-endian sequence number + (i % 57) filler bytes. */
static size_t make_msg(uint8_t *buf, uint64_t i)
{
    nqt_header(buf, i);
    size_t extra = (size_t)(i % 57);
    for (size_t k = 0; k < extra; k++)
        buf[8 + k] = (uint8_t)(i + k);
    return 8 + extra;
}

static void get_ordered(nq_comm *to, const uint8_t *from)
{
    uint8_t want[8 + 64];
    for (uint64_t i = 0; i < NMSG; i++) {
        nq_msg *m = NULL;
        nq_status st = nq_comm_get(to, NULL, 0, NQT_LONG_MS, &m);
        if (st != NQ_OK)
            print_message("get #%llu: %s\n", (unsigned long long)i, nq_strerror(st));
        assert_int_equal(st, NQ_OK);
        size_t n = make_msg(want, i);
        if (nq_msg_size(m) < 8 || nqt_get_be64(nq_msg_data(m)) != i) {
            print_message("message %llu out of order: got seq %llu\n", (unsigned long long)i,
                          nq_msg_size(m) >= 8
                              ? (unsigned long long)nqt_get_be64(nq_msg_data(m)) : 0ULL);
            fail();
        }
        assert_int_equal(nq_msg_size(m), n);
        assert_memory_equal(nq_msg_data(m), want, n);
        if (i == 0 || i == NMSG - 1) {
            uint8_t peer[16];
            assert_int_equal(nq_msg_peer(m, peer), NQ_OK);
            assert_memory_equal(peer, from, 16);
        }
        nq_msg_free(m);
    }
    nqt_expect_none(to, 0);
}

static void test_ordered_100k(void **state)
{
    int port;
    nq_comm *s = nqt_plain_server(&port);
    nq_comm *c = nqt_plain_client(port);
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    uint8_t buf[8 + 64];

    for (uint64_t i = 0; i < NMSG; i++)
        nqt_put(c, buf, make_msg(buf, i), NULL, 0);
    get_ordered(s, cid);

    for (uint64_t i = 0; i < NMSG; i++)
        nqt_put(s, buf, make_msg(buf, i), cid, 1);
    get_ordered(c, sid);

    /* Both directions at once: a broadcast stream while the client sends. */
    for (uint64_t i = 0; i < NMSG; i++) {
        size_t n = make_msg(buf, i);
        nqt_put(c, buf, n, NULL, 0);
        nqt_put(s, buf, n, NULL, 0);
    }
    get_ordered(s, cid);
    get_ordered(c, sid);

    assert_int_equal(nq_comm_close(c, NQT_LONG_MS), NQ_OK);
    nq_comm_free(c);
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    nq_comm_free(s);
}

#define BIG (64u << 20)

/* Get one message of size bytes equal to want (from that peer, unless
 * from is NULL). */
static void expect_bytes(nq_comm *to, const uint8_t *want, size_t size, const uint8_t *from)
{
    nq_msg *m = NULL;
    nq_status st = nq_comm_get(to, NULL, 0, 60000, &m);
    if (st != NQ_OK)
        print_message("get %zu B: %s (%s)\n", size, nq_strerror(st), nq_last_error());
    assert_int_equal(st, NQ_OK);
    assert_int_equal(nq_msg_size(m), size);
    assert_true(memcmp(nq_msg_data(m), want, size) == 0);
    if (from) {
        uint8_t peer[16];
        assert_int_equal(nq_msg_peer(m, peer), NQ_OK);
        assert_memory_equal(peer, from, 16);
    }
    nq_msg_free(m);
}

static void expect_big(nq_comm *to, const uint8_t *want, const uint8_t *from)
{
    expect_bytes(to, want, BIG, from);
}

static void test_64mib(void **state)
{
    int port;
    nq_comm *s = nqt_plain_server(&port);
    nq_comm *c = nqt_plain_client(port);
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    uint8_t *a = malloc(BIG), *b = malloc(BIG);
    assert_non_null(a);
    assert_non_null(b);
    nqt_fill(a, BIG, 1);
    nqt_fill(b, BIG, 2);

    /* The bytes are copied by put: scribbling on the buffer afterwards
     * must not change what is sent. */
    nqt_put(c, a, BIG, NULL, 0);
    nqt_put_str(c, "after big", NULL, 0);
    nqt_fill(a, BIG, 99);
    nqt_fill(a, BIG, 1);
    expect_big(s, a, cid);
    nqt_expect_str(s, "after big", cid);

    nqt_put(s, b, BIG, cid, 1);
    nqt_put_str(s, "after big", cid, 1);
    nqt_fill(b, BIG, 98);
    nqt_fill(b, BIG, 2);
    expect_big(c, b, sid);
    nqt_expect_str(c, "after big", sid);

    assert_int_equal(nq_comm_close(c, 60000), NQ_OK);
    nq_comm_free(c);
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    nq_comm_free(s);
    free(a);
    free(b);
}

/* Big buffers are reused (bigbuf.h): a smaller big message that gets a
 * bigger buffer must end where its frame ends, not read on into the next
 * frame (it did, and the next message was never delivered). */
static void test_big_then_smaller(void **state)
{
    (void)state;
    int port;
    nq_comm *s = nqt_plain_server(&port);
    nq_comm *c = nqt_plain_client(port);
    uint8_t cid[16];
    nqt_id_of(c, cid);
    const size_t sizes[] = {BIG, 40u << 20, 33u << 20};
    uint8_t *a = malloc(BIG);
    assert_non_null(a);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        nqt_fill(a, sizes[i], (int)i + 3);
        nqt_put(c, a, sizes[i], NULL, 0);
        nqt_put_str(c, "next", NULL, 0);
        expect_bytes(s, a, sizes[i], NULL);
        nqt_expect_str(s, "next", cid);
    }
    assert_int_equal(nq_comm_close(c, 60000), NQ_OK);
    nq_comm_free(c);
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    nq_comm_free(s);
    free(a);
}

/* Transport size small: big messages are split into many writes, small ones merged. */
static void test_small_transport_size(void **state)
{
    nq_options *so = nqt_opts(0);
    assert_int_equal(nq_options_set_transport_size(so, 4096), NQ_OK);
    nq_comm *s = nqt_server(so);
    nq_options *co = nqt_opts(nqt_port_of(s));
    assert_int_equal(nq_options_set_transport_size(co, 4096), NQ_OK);
    assert_int_equal(nq_options_set_merge(co, 0), NQ_OK);
    nq_comm *c = nqt_client(co);
    uint8_t cid[16];
    nqt_id_of(c, cid);
    size_t sizes[] = { 0, 1, 4095, 4096, 4097, 100000, 3 };
    uint8_t *buf = malloc(100000);
    assert_non_null(buf);
    /* A broadcast reaches connected clients only: wait for this one. */
    assert_true(nqt_wait_peer(s, cid, 1, NQT_LONG_MS));
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        nqt_fill(buf, sizes[i], 100 + i);
        nqt_put(c, buf, sizes[i], NULL, 0);
        nqt_put(s, buf, sizes[i], NULL, 0);
    }
    uint8_t sid[16];
    nqt_id_of(s, sid);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        nqt_fill(buf, sizes[i], 100 + i);
        nqt_expect(s, buf, sizes[i], cid);
        nqt_expect(c, buf, sizes[i], sid);
    }
    free(buf);
    assert_int_equal(nq_comm_close(c, NQT_LONG_MS), NQ_OK);
    nq_comm_free(c);
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    nq_comm_free(s);
}

static int released[4];
static void release_cb(void *user, void *data, size_t size)
{
    __atomic_add_fetch(&released[(intptr_t)user], 1, __ATOMIC_SEQ_CST);
}

static int done_calls;
static nq_status done_status = NQ_EIO;
static void done_cb(void *user, nq_status st)
{
    done_status = st;
    __atomic_add_fetch(&done_calls, 1, __ATOMIC_SEQ_CST);
}

/* put_stream: chunks go out as one message; each chunk released once. */
static void test_stream_put(void **state)
{
    int port;
    nq_comm *s = nqt_plain_server(&port);
    nq_comm *c = nqt_plain_client(port);
    uint8_t cid[16];
    nqt_id_of(c, cid);
    static uint8_t parts[4][70000];
    size_t sizes[4] = { 10, 70000, 0, 12345 };
    uint8_t *all = malloc(10 + 70000 + 12345);
    size_t off = 0;
    nq_stream *st = NULL;
    assert_int_equal(nq_stream_new(&st), NQ_OK);
    for (int i = 0; i < 4; i++) {
        nqt_fill(parts[i], sizes[i], 7 + i);
        memcpy(all + off, parts[i], sizes[i]);
        off += sizes[i];
        nq_chunk *ch = NULL;
        assert_int_equal(nq_chunk_wrap(&ch, parts[i], sizes[i], release_cb, (void *)(intptr_t)i),
                         NQ_OK);
        assert_int_equal(nq_stream_write_chunk(st, ch), NQ_OK);
    }
    done_calls = 0;
    assert_int_equal(nq_comm_put_stream(c, st, NULL, 0, done_cb, NULL), NQ_OK);
    nqt_expect(s, all, off, cid);
    assert_int_equal(nq_comm_close(c, NQT_LONG_MS), NQ_OK);
    assert_int_equal(done_calls, 1);
    assert_int_equal(done_status, NQ_OK);
    nq_comm_free(c);
    for (int i = 0; i < 4; i++)
        assert_int_equal(released[i], 1);
    free(all);
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    nq_comm_free(s);
}

/* Close right after 1000 puts: all arrive, in order, then the session ends. */
static void test_close_in_flight(void **state)
{
    int port;
    nq_comm *s = nqt_plain_server(&port);
    nq_comm *c = nqt_plain_client(port);
    uint8_t cid[16];
    nqt_id_of(c, cid);
    uint8_t buf[4096];
    for (int i = 0; i < 1000; i++) {
        nqt_fill(buf, sizeof buf, (uint64_t)i);
        nqt_header(buf, (uint64_t)i);
        nqt_put(c, buf, (size_t)(8 + i * 4), NULL, 0);
    }
    nq_status st = nq_comm_close(c, NQT_LONG_MS);
    assert_int_equal(st, NQ_OK);
    /* Puts after close fail at once. */
    assert_int_equal(nq_comm_put(c, "x", 1, NULL, 0, NULL, NULL), NQ_ECLOSED);
    /* A second close returns at once. */
    assert_int_equal(nq_comm_close(c, NQT_LONG_MS), NQ_OK);
    /* A closed client with nothing queued: get says closed. */
    nq_msg *m = NULL;
    assert_int_equal(nq_comm_get(c, NULL, 0, 0, &m), NQ_ECLOSED);
    nq_comm_free(c);

    for (int i = 0; i < 1000; i++) {
        nqt_fill(buf, sizeof buf, (uint64_t)i);
        nqt_header(buf, (uint64_t)i);
        nqt_expect(s, buf, (size_t)(8 + i * 4), cid);
    }
    nqt_expect_none(s, 0);
    assert_int_equal(nqt_wait_npeers(s, 0, NQT_LONG_MS), 0);
    assert_int_equal(nq_comm_close(s, 2000), NQ_OK);
    nq_comm_free(s);
}

/* Messages queued at a server are still returned after its close. */
static void test_get_after_close(void **state)
{
    int port;
    nq_comm *s = nqt_plain_server(&port);
    nq_comm *c = nqt_plain_client(port);
    uint8_t cid[16];
    nqt_id_of(c, cid);
    nqt_put_str(c, "q1", NULL, 0);
    nqt_put_str(c, "q2", NULL, 0);
    assert_int_equal(nq_comm_close(c, NQT_LONG_MS), NQ_OK);
    nq_comm_free(c);
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    nqt_expect_str(s, "q1", cid);
    nqt_expect_str(s, "q2", cid);
    nq_msg *m = NULL;
    assert_int_equal(nq_comm_get(s, NULL, 0, NQ_FOREVER, &m), NQ_ECLOSED);
    nq_comm_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordered_100k),
        cmocka_unit_test(test_64mib),
        cmocka_unit_test(test_big_then_smaller),
        cmocka_unit_test(test_small_transport_size),
        cmocka_unit_test(test_stream_put),
        cmocka_unit_test(test_close_in_flight),
        cmocka_unit_test(test_get_after_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
