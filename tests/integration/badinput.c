/*
 * Bad input from a raw scripted peer against a C server. For each case:
 * the server drops (or keeps, where the protocol allows) that connection,
 * logs a warning or error for it where it is a protocol violation, stays
 * up, and a well-behaved client still round-trips.
 */
#include "nqtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT (1u << 20)

typedef struct fixture {
    nqt_log log;
    nq_comm *s;
    int port;
    uint8_t sid[16];
    nq_comm *good;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    nqt_log_init(&f->log);
    nq_options *o = nqt_opts(0);
    assert_int_equal(nq_options_set_message_limit(o, LIMIT), NQ_OK);
    nqt_log_attach(o, &f->log);
    f->s = nqt_server(o);
    f->port = nqt_port_of(f->s);
    nqt_id_of(f->s, f->sid);
    f->good = nqt_plain_client(f->port);
    nqt_round_trip(f->s, f->good, "before");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->good) {
        nqt_round_trip(f->s, f->good, "after");
        assert_int_equal(nq_comm_close(f->good, NQT_LONG_MS), NQ_OK);
        nq_comm_free(f->good);
    }
    nq_status st = nq_comm_close(f->s, 3000);
    if (st != NQ_OK)
        print_message("server close: %s\n", nq_strerror(st));
    nq_comm_free(f->s);
    nqt_log_print(&f->log, "server");
    nqt_log_destroy(&f->log);
    free(f);
    return 0;
}

/* Connect and send a valid ini with a fresh id; returns the fd. */
static int raw_with_ini(fixture *f, uint8_t id[16])
{
    int fd = nqt_raw_connect(f->port);
    assert_true(fd >= 0);
    assert_int_equal(nq_id_random(id), NQ_OK);
    assert_int_equal(nqt_raw_send_frame(fd, id, 16), 0);
    return fd;
}

/* The server must close this connection (EOF within the long timeout). */
static void expect_dropped(int fd)
{
    size_t n = 0;
    int r = nqt_raw_wait_eof(fd, NQT_LONG_MS, &n);
    if (r != 0)
        print_message("server did not close the connection (read %zu bytes)\n", n);
    assert_int_equal(r, 0);
    nqt_raw_close(fd);
}

static void expect_logged(fixture *f, int before)
{
    int now = nqt_log_wait_bad(&f->log, before + 1, NQT_LONG_MS);
    if (now <= before)
        print_message("no warning or error was logged for the bad connection\n");
    assert_true(now > before);
}

static void big_header(void **state, uint64_t len)
{
    fixture *f = *state;
    int before = nqt_log_bad(&f->log);
    uint8_t id[16];
    int fd = raw_with_ini(f, id);
    uint8_t h[8];
    nqt_header(h, len);
    assert_int_equal(nqt_raw_send(fd, h, 8), 0);
    /* a little payload, as if it were coming */
    uint8_t junk[4096];
    memset(junk, 0x5a, sizeof junk);
    nqt_raw_send(fd, junk, sizeof junk);
    expect_dropped(fd);
    expect_logged(f, before);
    nqt_expect_none(f->s, 0);
}

static void test_header_over_limit(void **state) { big_header(state, 2u << 20); }
static void test_header_limit_plus_one(void **state) { big_header(state, LIMIT + 1); }
static void test_header_2_63(void **state) { big_header(state, 1ULL << 63); }
static void test_header_2_64_minus_1(void **state) { big_header(state, UINT64_MAX); }

/* A frame of exactly the limit is fine. */
static void test_frame_at_limit(void **state)
{
    fixture *f = *state;
    uint8_t id[16];
    int fd = raw_with_ini(f, id);
    uint8_t *buf = malloc(LIMIT);
    nqt_fill(buf, LIMIT, 5);
    assert_int_equal(nqt_raw_send_frame(fd, buf, LIMIT), 0);
    nqt_expect(f->s, buf, LIMIT, id);
    free(buf);
    /* fin: the server answers with ini and fin, then closes. */
    assert_int_equal(nqt_raw_send_frame(fd, id, 16), 0);
    uint8_t *p;
    uint64_t n;
    assert_int_equal(nqt_raw_read_frame(fd, &p, &n, 64, NQT_LONG_MS), 0);
    assert_int_equal(n, 16);
    assert_memory_equal(p, f->sid, 16);
    free(p);
    assert_int_equal(nqt_raw_read_frame(fd, &p, &n, 64, NQT_LONG_MS), 0);
    assert_int_equal(n, 16);
    assert_memory_equal(p, f->sid, 16);
    free(p);
    expect_dropped(fd);
}

/* Header, then half the payload, then close. */
static void test_truncated_frame(void **state)
{
    fixture *f = *state;
    int before = nqt_log_bad(&f->log);
    uint8_t id[16];
    int fd = raw_with_ini(f, id);
    assert_int_equal(nqt_raw_send_frame(fd, "whole", 5), 0);
    uint8_t h[8], half[500];
    nqt_header(h, 1000);
    memset(half, 'h', sizeof half);
    assert_int_equal(nqt_raw_send(fd, h, 8), 0);
    assert_int_equal(nqt_raw_send(fd, half, sizeof half), 0);
    nqt_sleep_ms(50);
    nqt_raw_close(fd);
    /* The whole frame before it is delivered; the partial one never is. */
    nqt_expect_str(f->s, "whole", id);
    expect_logged(f, before);
    nqt_expect_none(f->s, NQT_SHORT_MS);
}

/* Truncated inside the header. */
static void test_truncated_header(void **state)
{
    fixture *f = *state;
    uint8_t id[16];
    int fd = raw_with_ini(f, id);
    uint8_t h[8];
    nqt_header(h, 10);
    assert_int_equal(nqt_raw_send(fd, h, 5), 0);
    nqt_sleep_ms(50);
    nqt_raw_abort(fd);
    nqt_expect_none(f->s, NQT_SHORT_MS);
}

static void first_frame_not_16(void **state, uint64_t len)
{
    fixture *f = *state;
    int before = nqt_log_bad(&f->log);
    int fd = nqt_raw_connect(f->port);
    assert_true(fd >= 0);
    uint8_t payload[64];
    nqt_fill(payload, sizeof payload, len);
    assert_int_equal(nqt_raw_send_frame(fd, payload, len), 0);
    uint8_t id[16];
    assert_int_equal(nq_id_random(id), NQ_OK);
    nqt_raw_send_frame(fd, "data", 4);
    expect_dropped(fd);
    expect_logged(f, before);
    nqt_expect_none(f->s, 0);
}

static void test_first_frame_5(void **state) { first_frame_not_16(state, 5); }
static void test_first_frame_0(void **state) { first_frame_not_16(state, 0); }
static void test_first_frame_17(void **state) { first_frame_not_16(state, 17); }

static void test_garbage(void **state)
{
    fixture *f = *state;
    int before = nqt_log_bad(&f->log);
    int fd = nqt_raw_connect(f->port);
    assert_true(fd >= 0);
    const char *http = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    assert_int_equal(nqt_raw_send(fd, http, strlen(http)), 0);
    expect_dropped(fd);
    expect_logged(f, before);

    /* Random bytes after a valid ini. */
    before = nqt_log_bad(&f->log);
    uint8_t id[16];
    fd = raw_with_ini(f, id);
    uint8_t junk[4096];
    nqt_fill(junk, sizeof junk, 77);
    junk[0] = 0xff; /* a header way over the limit */
    nqt_raw_send(fd, junk, sizeof junk);
    expect_dropped(fd);
    expect_logged(f, before);
    nqt_expect_none(f->s, 0);
}

/* A peer that connects and says nothing does not disturb anyone. */
static void test_silent_peer(void **state)
{
    fixture *f = *state;
    int fd = nqt_raw_connect(f->port);
    assert_true(fd >= 0);
    for (int i = 0; i < 5; i++)
        nqt_round_trip(f->s, f->good, "meanwhile");
    /* The server sends nothing to a peer that sent nothing. */
    uint8_t b;
    assert_int_equal(nqt_raw_read(fd, &b, 1, NQT_SHORT_MS), -2);
    /* It is not a peer (no ini). */
    assert_int_equal(nqt_npeers(f->s), 1);

    /* Close everything, the silent peer still connected: the server's
     * close returns (OK or after its timeout), and the socket is closed. */
    assert_int_equal(nq_comm_close(f->good, NQT_LONG_MS), NQ_OK);
    nq_comm_free(f->good);
    f->good = NULL;
    nq_status st = nq_comm_close(f->s, 1000);
    print_message("server close with a silent peer: %s\n", nq_strerror(st));
    assert_true(st == NQ_OK || st == NQ_ETIMEDOUT);
    expect_dropped(fd);
}

/* ini, data and fin sent one byte at a time: the server reassembles them. */
static void test_byte_at_a_time(void **state)
{
    fixture *f = *state;
    uint8_t id[16];
    assert_int_equal(nq_id_random(id), NQ_OK);
    uint8_t wire[24 + 8 + 11 + 8 + 0 + 24];
    size_t off = 0;
    nqt_header(wire + off, 16);
    memcpy(wire + off + 8, id, 16);
    off += 24;
    nqt_header(wire + off, 11);
    memcpy(wire + off + 8, "byte a time", 11);
    off += 19;
    nqt_header(wire + off, 0);
    off += 8;
    size_t fin_at = off;
    nqt_header(wire + off, 16);
    memcpy(wire + off + 8, id, 16);
    off += 24;
    int fd = nqt_raw_connect(f->port);
    assert_true(fd >= 0);
    assert_int_equal(nqt_raw_send_steps(fd, wire, fin_at, 1, 2), 0);
    nqt_expect_str(f->s, "byte a time", id);
    nqt_expect(f->s, "", 0, id);
    /* The server's reply, then our fin one byte at a time. */
    nqt_put_str(f->s, "reply", id, 1);
    assert_int_equal(nqt_raw_send_steps(fd, wire + fin_at, off - fin_at, 1, 2), 0);
    uint8_t *p;
    uint64_t n;
    assert_int_equal(nqt_raw_read_frame(fd, &p, &n, 64, NQT_LONG_MS), 0);
    assert_int_equal(n, 16);
    assert_memory_equal(p, f->sid, 16); /* ini */
    free(p);
    assert_int_equal(nqt_raw_read_frame(fd, &p, &n, 64, NQT_LONG_MS), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(p, "reply", 5);
    free(p);
    assert_int_equal(nqt_raw_read_frame(fd, &p, &n, 64, NQT_LONG_MS), 0);
    assert_int_equal(n, 16);
    assert_memory_equal(p, f->sid, 16); /* fin */
    free(p);
    expect_dropped(fd);
}

/* Every cut position of a two-frame stream, each on its own connection. */
static void test_every_cut(void **state)
{
    fixture *f = *state;
    uint8_t wire[24 + 8 + 5];
    for (size_t cut = 1; cut < sizeof wire; cut++) {
        uint8_t id[16];
        assert_int_equal(nq_id_random(id), NQ_OK);
        nqt_header(wire, 16);
        memcpy(wire + 8, id, 16);
        nqt_header(wire + 24, 5);
        memcpy(wire + 32, "cut!!", 5);
        int fd = nqt_raw_connect(f->port);
        assert_true(fd >= 0);
        assert_int_equal(nqt_raw_send_cuts(fd, wire, sizeof wire, &cut, 1, 3), 0);
        nqt_expect_str(f->s, "cut!!", id);
        assert_int_equal(nqt_raw_send_frame(fd, id, 16), 0); /* fin */
        size_t n;
        assert_int_equal(nqt_raw_wait_eof(fd, NQT_LONG_MS, &n), 0);
        assert_int_equal(n, 48); /* server ini + fin */
        nqt_raw_close(fd);
    }
}

/* Disconnect without fin: data before it is delivered, the server goes on. */
static void test_disconnect_without_fin(void **state)
{
    fixture *f = *state;
    uint8_t id[16];
    int fd = raw_with_ini(f, id);
    assert_int_equal(nqt_raw_send_frame(fd, "no fin", 6), 0);
    nqt_expect_str(f->s, "no fin", id);
    nqt_raw_close(fd);
    assert_true(nqt_wait_peer(f->s, id, 0, NQT_LONG_MS));
    /* And with a reset instead of a FIN. */
    fd = raw_with_ini(f, id);
    assert_int_equal(nqt_raw_send_frame(fd, "rst", 3), 0);
    nqt_expect_str(f->s, "rst", id);
    nqt_raw_abort(fd);
    assert_true(nqt_wait_peer(f->s, id, 0, NQT_LONG_MS));
    nqt_expect_none(f->s, NQT_SHORT_MS);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_header_over_limit),
        T(test_header_limit_plus_one),
        T(test_header_2_63),
        T(test_header_2_64_minus_1),
        T(test_frame_at_limit),
        T(test_truncated_frame),
        T(test_truncated_header),
        T(test_first_frame_5),
        T(test_first_frame_0),
        T(test_first_frame_17),
        T(test_garbage),
        T(test_silent_peer),
        T(test_byte_at_a_time),
        T(test_every_cut),
        T(test_disconnect_without_fin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
