/*
 * Statistics (abi/netqueue/stats.h) against what was actually sent: exact
 * message and byte counts in and out over TCP, TLS and in-process, per
 * communicator and per peer; receive-queue depth while the application has
 * not read; reconnections after a server restart; errors by kind from a
 * garbage peer and an oversized frame; failed puts by status; unknown keys
 * and peers.
 */
#include "nqtest.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum transport { T_TCP, T_TLS, T_INPROC, T_GRPC };

static uint64_t stat_of(nq_stats *s, const char *key)
{
    uint64_t v = 0;
    nq_status st = nq_stats_get(s, key, &v);
    if (st != NQ_OK)
        print_message("nq_stats_get(%s): %s (%s)\n", key, nq_strerror(st), nq_last_error());
    assert_int_equal(st, NQ_OK);
    return v;
}

/* One value of a fresh snapshot of comm (or of its peer, when peer is set). */
static uint64_t stat_now(nq_comm *c, const uint8_t *peer, const char *key)
{
    nq_stats *s = NULL;
    nq_status st = peer ? nq_comm_peer_stats(c, peer, &s) : nq_comm_stats(c, &s);
    if (st != NQ_OK)
        print_message("stats: %s (%s)\n", nq_strerror(st), nq_last_error());
    assert_int_equal(st, NQ_OK);
    uint64_t v = stat_of(s, key);
    nq_stats_free(s);
    return v;
}

/* Wait until key reaches want (counters only grow, queues fill; a peer
 * may not be known yet), or with at_least until it is at least want;
 * returns the last value seen. */
static uint64_t wait_stat(nq_comm *c, const uint8_t *peer, const char *key, uint64_t want,
                          int at_least)
{
    int64_t end = nqt_now_ms() + NQT_LONG_MS;
    uint64_t v = UINT64_MAX;
    for (;;) {
        nq_stats *s = NULL;
        nq_status st = peer ? nq_comm_peer_stats(c, peer, &s) : nq_comm_stats(c, &s);
        if (st == NQ_OK) {
            v = stat_of(s, key);
            nq_stats_free(s);
        } else {
            assert_int_equal(st, NQ_ENOPEER);
        }
        int reached = at_least ? v != UINT64_MAX && v >= want : v == want;
        if (reached || nqt_now_ms() >= end)
            break;
        nqt_sleep_ms(5);
    }
    if (at_least ? v == UINT64_MAX || v < want : v != want)
        print_message("%s: %llu, expected %s%llu\n", key, (unsigned long long)v,
                      at_least ? "at least " : "", (unsigned long long)want);
    return v;
}

static uint64_t stat_wait(nq_comm *c, const uint8_t *peer, const char *key, uint64_t want)
{
    return wait_stat(c, peer, key, want, 0);
}

static uint64_t stat_wait_at_least(nq_comm *c, const uint8_t *peer, const char *key, uint64_t want)
{
    return wait_stat(c, peer, key, want, 1);
}

static nq_comm *make(enum transport t, nq_purpose purpose, int port)
{
    nq_options *o;
    if (t == T_TLS)
        o = purpose == NQ_SERVER ? nqt_tls_server_opts(port, "server.pem", "server.key")
                                 : nqt_tls_client_opts(port, "ca.pem");
    else
        o = nqt_opts(port);
    if (t == T_TCP || t == T_TLS)
        return purpose == NQ_SERVER ? nqt_server(o) : nqt_client(o);
    nq_comm *c = NULL;
    nq_status st = nq_comm_new(&c, t == T_GRPC ? NQ_GRPC : NQ_INPROC, purpose, o);
    if (st != NQ_OK)
        print_message("nq_comm_new: %s (%s)\n", nq_strerror(st), nq_last_error());
    assert_int_equal(st, NQ_OK);
    nq_options_free(o);
    return c;
}

static void put_wait(nq_comm *c, const void *data, size_t size, const uint8_t *peers,
                     size_t npeers)
{
    nq_future *f = NULL;
    assert_int_equal(nq_comm_put_future(c, data, size, peers, npeers, &f), NQ_OK);
    nq_status result = NQ_ECANCELED;
    assert_int_equal(nq_future_wait(f, NQT_LONG_MS, &result), NQ_OK);
    assert_int_equal(result, NQ_OK);
    nq_future_free(f);
}

#define NMSG 7

/* Message i is 10*(i+1) bytes: 280 bytes in all. */
static size_t size_of(int i) { return (size_t)(10 * (i + 1)); }

static void check_counts(enum transport t)
{
    nq_comm *s = make(t, NQ_SERVER, 0);
    nq_comm *c = make(t, NQ_CLIENT, nqt_port_of(s));
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);

    uint8_t buf[NMSG * 10];
    uint64_t total = 0;
    for (int i = 0; i < NMSG; i++) {
        nqt_fill(buf, size_of(i), (uint64_t)i + 1);
        put_wait(c, buf, size_of(i), NULL, 0);
        total += size_of(i);
    }
    /* the client: every put written, and nothing else */
    nq_stats *cs = NULL;
    assert_int_equal(nq_comm_stats(c, &cs), NQ_OK);
    assert_int_equal(stat_of(cs, "msgs_out"), NMSG);
    assert_int_equal(stat_of(cs, "bytes_out"), total);
    assert_int_equal(stat_of(cs, "puts_ok"), NMSG);
    assert_int_equal(stat_of(cs, "puts_failed"), 0);
    /* frames: the ini (8 + 16) and each message with its 8-byte header */
    assert_int_equal(stat_of(cs, "frame_bytes_out"), 24 + NMSG * 8 + total);
    assert_int_equal(stat_of(cs, "send_queue_msgs"), 0);
    assert_int_equal(stat_of(cs, "send_queue_bytes"), 0);
    assert_int_equal(stat_of(cs, "msgs_in"), 0);
    assert_int_equal(stat_of(cs, "sessions_live"), 1);
    assert_int_equal(stat_of(cs, "sessions_opened"), 1);
    assert_int_equal(stat_of(cs, "reconnects"), 0);
    assert_int_equal(stat_of(cs, "connect_failures"), 0);
    if (t != T_GRPC) /* a gRPC channel's connections are gRPC's own */
        assert_int_equal(stat_of(cs, "connections"), 1);
    nq_stats_free(cs);

    /* the server has read nothing yet: all of it is queued */
    assert_int_equal(stat_wait(s, NULL, "recv_queue_msgs", NMSG), NMSG);
    nq_stats *ss = NULL;
    assert_int_equal(nq_comm_stats(s, &ss), NQ_OK);
    assert_int_equal(stat_of(ss, "msgs_in"), NMSG);
    assert_int_equal(stat_of(ss, "bytes_in"), total);
    assert_int_equal(stat_of(ss, "recv_queue_bytes"), total);
    assert_true(stat_of(ss, "recv_queue_charged") > total); /* bookkeeping counts too */
    assert_int_equal(stat_of(ss, "frame_bytes_in"), 24 + NMSG * 8 + total);
    assert_int_equal(stat_of(ss, "msgs_out"), 0);
    assert_int_equal(stat_of(ss, "sessions"), 1);
    assert_int_equal(stat_of(ss, "sessions_live"), 1);
    assert_int_equal(stat_of(ss, "sessions_lingering"), 0);
    assert_int_equal(stat_of(ss, "sessions_opened"), 1);
    assert_int_equal(stat_of(ss, "handshake_failures"), 0);
    assert_int_equal(stat_of(ss, "partial_bytes"), 0);
    nq_stats_free(ss);
    nq_stats *ps = NULL;
    assert_int_equal(nq_comm_peer_stats(s, cid, &ps), NQ_OK);
    assert_int_equal(stat_of(ps, "msgs_in"), NMSG);
    assert_int_equal(stat_of(ps, "bytes_in"), total);
    assert_int_equal(stat_of(ps, "recv_queue_msgs"), NMSG);
    assert_int_equal(stat_of(ps, "recv_queue_bytes"), total);
    assert_int_equal(stat_of(ps, "connected"), 1);
    assert_int_equal(stat_of(ps, "lingering"), 0);
    nq_stats_free(ps);

    /* two got: the queue holds the other five */
    for (int i = 0; i < 2; i++) {
        nq_msg *m = NULL;
        assert_int_equal(nq_comm_get(s, NULL, 0, NQT_LONG_MS, &m), NQ_OK);
        assert_int_equal(nq_msg_size(m), size_of(i));
        nq_msg_free(m);
    }
    uint64_t rest = total - size_of(0) - size_of(1);
    assert_int_equal(stat_now(s, NULL, "recv_queue_msgs"), NMSG - 2);
    assert_int_equal(stat_now(s, NULL, "recv_queue_bytes"), rest);
    assert_int_equal(stat_now(s, cid, "recv_queue_msgs"), NMSG - 2);
    assert_int_equal(stat_now(s, cid, "recv_queue_bytes"), rest);
    assert_int_equal(stat_now(s, NULL, "msgs_in"), NMSG); /* got is not "in" again */

    /* three answers back: out at the server, in at the client */
    put_wait(s, "abc", 3, cid, 1);
    put_wait(s, "defg", 4, cid, 1);
    put_wait(s, "", 0, NULL, 0);
    assert_int_equal(stat_now(s, NULL, "msgs_out"), 3);
    assert_int_equal(stat_now(s, NULL, "bytes_out"), 7);
    assert_int_equal(stat_now(s, cid, "msgs_out"), 3);
    assert_int_equal(stat_now(s, cid, "bytes_out"), 7);
    assert_int_equal(stat_wait(c, NULL, "msgs_in", 3), 3);
    assert_int_equal(stat_now(c, NULL, "bytes_in"), 7);
    assert_int_equal(stat_now(c, sid, "msgs_in"), 3);
    assert_int_equal(stat_now(c, sid, "recv_queue_msgs"), 3);
    assert_int_equal(stat_now(c, sid, "msgs_out"), NMSG);
    assert_int_equal(stat_now(c, sid, "bytes_out"), total);

    /* figures stay readable after close, and final */
    assert_int_equal(nq_comm_close(c, NQT_LONG_MS), NQ_OK);
    assert_int_equal(stat_now(c, NULL, "msgs_out"), NMSG);
    assert_int_equal(stat_now(c, NULL, "sessions_live"), 0);
    assert_int_equal(stat_now(c, NULL, "conn_lost"), 0);
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    assert_int_equal(stat_now(s, NULL, "msgs_in"), NMSG);
    assert_int_equal(stat_now(s, NULL, "sessions"), 0); /* finished cleanly: forgotten */
    assert_int_equal(stat_now(s, NULL, "conn_lost"), 0);
    nq_stats *last = NULL;
    assert_int_equal(nq_comm_stats(s, &last), NQ_OK);
    nq_comm_free(c);
    nq_comm_free(s);
    /* a snapshot outlives its communicator */
    assert_int_equal(stat_of(last, "bytes_in"), total);
    nq_stats_free(last);
}

static void test_counts_tcp(void **state) { check_counts(T_TCP); }
static void test_counts_tls(void **state) { check_counts(T_TLS); }
static void test_counts_inproc(void **state) { check_counts(T_INPROC); }
#ifdef NQT_HAVE_GRPC
static void test_counts_grpc(void **state) { check_counts(T_GRPC); }
#endif

/* Two clients: each peer's figures are its own, the communicator's the sum;
 * a broadcast counts once per target. */
static void test_two_peers(void **state)
{
    int port;
    nq_comm *s = nqt_plain_server(&port);
    nq_comm *a = nqt_plain_client(port), *b = nqt_plain_client(port);
    uint8_t aid[16], bid[16];
    nqt_id_of(a, aid);
    nqt_id_of(b, bid);
    for (int i = 0; i < 3; i++)
        put_wait(a, "aaaa", 4, NULL, 0);
    for (int i = 0; i < 5; i++)
        put_wait(b, "bbbbbbbbbb", 10, NULL, 0);
    assert_int_equal(stat_wait(s, NULL, "msgs_in", 8), 8);
    assert_int_equal(stat_now(s, NULL, "bytes_in"), 3 * 4 + 5 * 10);
    assert_int_equal(stat_now(s, aid, "msgs_in"), 3);
    assert_int_equal(stat_now(s, aid, "bytes_in"), 12);
    assert_int_equal(stat_now(s, bid, "msgs_in"), 5);
    assert_int_equal(stat_now(s, bid, "bytes_in"), 50);
    assert_int_equal(stat_now(s, aid, "recv_queue_msgs"), 3);
    assert_int_equal(stat_now(s, bid, "recv_queue_bytes"), 50);
    assert_int_equal(stat_now(s, NULL, "sessions_live"), 2);

    nqt_wait_npeers(s, 2, NQT_LONG_MS);
    put_wait(s, "to all", 6, NULL, 0);
    assert_int_equal(stat_now(s, NULL, "msgs_out"), 2);
    assert_int_equal(stat_now(s, NULL, "bytes_out"), 12);
    assert_int_equal(stat_now(s, NULL, "puts_ok"), 1);
    assert_int_equal(stat_now(s, aid, "msgs_out"), 1);
    assert_int_equal(stat_now(s, bid, "msgs_out"), 1);
    assert_int_equal(stat_now(s, bid, "bytes_out"), 6);

    assert_int_equal(nq_comm_close(a, NQT_LONG_MS), NQ_OK);
    assert_int_equal(nq_comm_close(b, NQT_LONG_MS), NQ_OK);
    nq_comm_free(a);
    nq_comm_free(b);
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    nq_comm_free(s);
}

/* A client whose server restarts on the same port: one reconnection, one
 * lost connection, two sessions opened. */
static void test_reconnect(void **state)
{
    int port = nqt_free_port();
    nq_comm *s = nqt_server(nqt_opts(port));
    nq_comm *c = nqt_plain_client(port);
    nqt_round_trip(s, c, "first");
    assert_int_equal(stat_now(c, NULL, "reconnects"), 0);
    assert_int_equal(stat_now(s, NULL, "reconnects"), 0);
    /* the server goes without waiting for its client's fin */
    assert_int_equal(nq_comm_close(s, 0), NQ_ETIMEDOUT);
    nq_comm_free(s);
    assert_int_equal(stat_wait(c, NULL, "conn_lost", 1), 1);
    assert_int_equal(stat_now(c, NULL, "sessions_live"), 0);

    s = nqt_server(nqt_opts(port));
    nqt_round_trip(s, c, "second");
    assert_int_equal(stat_now(c, NULL, "reconnects"), 1);
    assert_int_equal(stat_now(c, NULL, "sessions_opened"), 2);
    assert_int_equal(stat_now(c, NULL, "sessions_live"), 1);
    assert_true(stat_now(c, NULL, "connections") >= 2);
    /* 2 messages each way over the two servers */
    assert_int_equal(stat_now(c, NULL, "msgs_out"), 2);
    assert_int_equal(stat_now(c, NULL, "msgs_in"), 2);
    /* for the new server the client is a new peer */
    assert_int_equal(stat_now(s, NULL, "sessions_opened"), 1);
    assert_int_equal(stat_now(s, NULL, "reconnects"), 0);

    assert_int_equal(nq_comm_close(c, NQT_LONG_MS), NQ_OK);
    nq_comm_free(c);
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    nq_comm_free(s);
}

/* A peer that vanishes without fin lingers; when it comes back under the
 * same id the server counts a reconnection of that peer. */
static void test_lingering_peer(void **state)
{
    int port;
    nq_comm *s = nqt_plain_server(&port);
    uint8_t id[16];
    assert_int_equal(nq_id_random(id), NQ_OK);
    int fd = nqt_raw_connect(port);
    assert_true(fd >= 0);
    assert_int_equal(nqt_raw_send_frame(fd, id, 16), 0);
    assert_int_equal(nqt_raw_send_frame(fd, "hi", 2), 0);
    assert_int_equal(stat_wait(s, id, "msgs_in", 1), 1);
    nqt_raw_abort(fd);
    assert_int_equal(stat_wait(s, NULL, "sessions_lingering", 1), 1);
    assert_int_equal(stat_now(s, NULL, "sessions_live"), 0);
    assert_int_equal(stat_now(s, NULL, "conn_lost"), 1);
    assert_int_equal(stat_now(s, id, "lingering"), 1);
    assert_int_equal(stat_now(s, id, "connected"), 0);
    assert_int_equal(stat_now(s, id, "conn_lost"), 1);

    fd = nqt_raw_connect(port);
    assert_true(fd >= 0);
    assert_int_equal(nqt_raw_send_frame(fd, id, 16), 0);
    assert_int_equal(stat_wait(s, id, "connected", 1), 1);
    assert_int_equal(stat_now(s, id, "reconnects"), 1);
    assert_int_equal(stat_now(s, NULL, "reconnects"), 1);
    assert_int_equal(stat_now(s, NULL, "sessions_lingering"), 0);
    assert_int_equal(stat_now(s, NULL, "sessions_opened"), 1);
    assert_int_equal(stat_now(s, NULL, "handshake_failures"), 0);
    nqt_raw_close(fd);
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    nq_comm_free(s);
}

/* Garbage: a bad first frame is a handshake failure, a frame over the
 * message limit is counted as such; both connections are cut. */
static void test_errors_by_kind(void **state)
{
    nq_options *o = nqt_opts(0);
    assert_int_equal(nq_options_set_message_limit(o, 1024), NQ_OK);
    nqt_log log;
    nqt_log_init(&log);
    nqt_log_attach(o, &log);
    nq_comm *s = nqt_server(o);
    int port = nqt_port_of(s);

    int fd = nqt_raw_connect(port);
    assert_true(fd >= 0);
    assert_int_equal(nqt_raw_send_frame(fd, "not an id", 9), 0);
    assert_int_equal(nqt_raw_wait_eof(fd, NQT_LONG_MS, NULL), 0);
    nqt_raw_close(fd);
    assert_int_equal(stat_wait(s, NULL, "handshake_failures", 1), 1);
    assert_int_equal(stat_now(s, NULL, "sessions"), 0);

    uint8_t id[16], hdr[8];
    assert_int_equal(nq_id_random(id), NQ_OK);
    fd = nqt_raw_connect(port);
    assert_true(fd >= 0);
    assert_int_equal(nqt_raw_send_frame(fd, id, 16), 0);
    nqt_header(hdr, 1u << 20);
    assert_int_equal(nqt_raw_send(fd, hdr, 8), 0);
    assert_int_equal(nqt_raw_wait_eof(fd, NQT_LONG_MS, NULL), 0);
    nqt_raw_close(fd);
    assert_int_equal(stat_wait(s, NULL, "frames_too_big", 1), 1);
    assert_int_equal(stat_wait(s, NULL, "conn_lost", 1), 1);
    assert_int_equal(stat_now(s, NULL, "handshake_failures"), 1);
    assert_int_equal(stat_now(s, NULL, "msgs_in"), 0);
    assert_int_equal(stat_now(s, NULL, "connections"), 2);
    assert_int_equal(stat_now(s, NULL, "frames_truncated"), 0);

    /* a connection cut inside a frame */
    uint8_t id2[16];
    assert_int_equal(nq_id_random(id2), NQ_OK);
    fd = nqt_raw_connect(port);
    assert_true(fd >= 0);
    assert_int_equal(nqt_raw_send_frame(fd, id2, 16), 0);
    nqt_header(hdr, 100);
    assert_int_equal(nqt_raw_send(fd, hdr, 8), 0);
    assert_int_equal(nqt_raw_send(fd, "half", 4), 0);
    /* every byte read so far: (8 + 9) + (24 + 8) + (24 + 8 + 4) */
    assert_int_equal(stat_wait(s, NULL, "frame_bytes_in", 85), 85);
    /* (a server with several I/O threads moves the partial frame to its
     * session's thread after the bytes were counted: wait for it there) */
    assert_true(stat_wait_at_least(s, NULL, "partial_bytes", 4) >= 4);
    nqt_raw_abort(fd);
    assert_int_equal(stat_wait(s, NULL, "frames_truncated", 1), 1);
    assert_int_equal(stat_now(s, NULL, "partial_bytes"), 0);

    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    nq_comm_free(s);
    nqt_log_destroy(&log);
}

/* Failed puts are counted by their completion status, connection attempts
 * by their failures. */
static void test_failed_puts(void **state)
{
    int port = nqt_free_port(); /* nobody listens there */
    nq_options *o = nqt_opts(port);
    assert_int_equal(nq_options_set_connect_timeout(o, 200), NQ_OK);
    nqt_log log;
    nqt_log_init(&log);
    nqt_log_attach(o, &log); /* the expected warnings stay out of the output */
    nq_comm *c = nqt_client(o);
    nq_future *f = NULL;
    assert_int_equal(nq_comm_put_future(c, "x", 1, NULL, 0, &f), NQ_OK);
    nq_status result = NQ_OK;
    assert_int_equal(nq_future_wait(f, NQT_LONG_MS, &result), NQ_OK);
    assert_int_equal(result, NQ_EADDR);
    nq_future_free(f);
    assert_int_equal(stat_now(c, NULL, "puts_failed_eaddr"), 1);
    assert_int_equal(stat_now(c, NULL, "puts_failed"), 1);
    assert_int_equal(stat_now(c, NULL, "puts_ok"), 0);
    assert_int_equal(stat_now(c, NULL, "msgs_out"), 0);
    assert_true(stat_now(c, NULL, "connect_failures") >= 1);
    /* one more, cancelled by a close that cannot wait */
    assert_int_equal(nq_comm_put(c, "y", 1, NULL, 0, NULL, NULL), NQ_OK);
    nq_comm_close(c, 0);
    assert_int_equal(stat_now(c, NULL, "puts_failed_ecanceled"), 1);
    assert_int_equal(stat_now(c, NULL, "puts_failed"), 2);
    nq_comm_free(c);
    nqt_log_destroy(&log);
}

/* A drop policy's drops are counted, and the figures still add up:
 * received = got + queued + dropped. */
static void test_dropped(void **state)
{
    nq_options *o = nqt_opts(0);
    assert_int_equal(nq_options_set_queue_limit(o, 1024), NQ_OK);
    assert_int_equal(nq_options_set_queue_policy(o, NQ_QUEUE_DROP_OLDEST), NQ_OK);
    nqt_log log;
    nqt_log_init(&log);
    nqt_log_attach(o, &log); /* the drop warnings stay out of the output */
    nq_comm *s = nqt_server(o);
    nq_comm *c = nqt_plain_client(nqt_port_of(s));
    uint8_t buf[100];
    memset(buf, 'd', sizeof buf);
    for (int i = 0; i < 50; i++)
        put_wait(c, buf, sizeof buf, NULL, 0);
    assert_int_equal(stat_wait(s, NULL, "msgs_in", 50), 50);
    nq_msg *m = NULL;
    assert_int_equal(nq_comm_get(s, NULL, 0, NQT_LONG_MS, &m), NQ_OK);
    nq_msg_free(m);
    nq_stats *st = NULL;
    assert_int_equal(nq_comm_stats(s, &st), NQ_OK);
    uint64_t dropped = stat_of(st, "recv_dropped"), queued = stat_of(st, "recv_queue_msgs");
    assert_true(dropped > 0);
    assert_true(queued > 0);
    assert_int_equal(1 + queued + dropped, 50);
    assert_int_equal(stat_of(st, "recv_queue_bytes"), queued * 100);
    assert_true(stat_of(st, "recv_queue_charged") <= 1024);
    nq_stats_free(st);
    assert_int_equal(nq_comm_close(c, NQT_LONG_MS), NQ_OK);
    nq_comm_free(c);
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    nq_comm_free(s);
    nqt_log_destroy(&log);
}

/* The API's edges: unknown key, unknown peer, NULLs, positions. */
static void test_api_edges(void **state)
{
    int port;
    nq_comm *s = nqt_plain_server(&port);
    nq_stats *st = NULL;
    assert_int_equal(nq_comm_stats(s, &st), NQ_OK);
    size_t n = nq_stats_count(st);
    assert_true(n >= 30);
    for (size_t i = 0; i < n; i++) {
        const char *k = nq_stats_key(st, i);
        assert_non_null(k);
        uint64_t v = 1234567;
        assert_int_equal(nq_stats_get(st, k, &v), NQ_OK);
        assert_true(v == nq_stats_value(st, i));
        for (size_t j = 0; j < i; j++) /* each key once */
            assert_string_not_equal(k, nq_stats_key(st, j));
    }
    assert_null(nq_stats_key(st, n));
    assert_int_equal(nq_stats_value(st, n), 0);
    uint64_t v = 99;
    assert_int_equal(nq_stats_get(st, "no_such_key", &v), NQ_EINVAL);
    assert_non_null(strstr(nq_last_error(), "no_such_key"));
    assert_int_equal(v, 99);
    assert_int_equal(nq_stats_get(st, NULL, &v), NQ_EINVAL);
    assert_int_equal(nq_stats_get(st, "msgs_in", NULL), NQ_EINVAL);
    assert_int_equal(nq_stats_get(NULL, "msgs_in", &v), NQ_EINVAL);
    nq_stats_free(st);
    assert_int_equal(nq_stats_count(NULL), 0);
    assert_null(nq_stats_key(NULL, 0));
    nq_stats_free(NULL);
    assert_int_equal(nq_comm_stats(NULL, &st), NQ_EINVAL);
    assert_int_equal(nq_comm_stats(s, NULL), NQ_EINVAL);

    uint8_t nobody[16];
    assert_int_equal(nq_id_random(nobody), NQ_OK);
    st = (nq_stats *)1;
    assert_int_equal(nq_comm_peer_stats(s, nobody, &st), NQ_ENOPEER);
    assert_int_equal(nq_comm_peer_stats(s, NULL, &st), NQ_EINVAL);

    /* a peer's snapshot has no per-communicator keys */
    nq_comm *c = nqt_plain_client(port);
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    nqt_round_trip(s, c, "hello");
    assert_int_equal(nq_comm_peer_stats(s, cid, &st), NQ_OK);
    assert_int_equal(nq_stats_get(st, "handshake_failures", &v), NQ_EINVAL);
    assert_int_equal(nq_stats_get(st, "msgs_in", &v), NQ_OK);
    assert_int_equal(v, 1);
    nq_stats_free(st);
    /* a client knows only its server */
    assert_int_equal(nq_comm_peer_stats(c, cid, &st), NQ_ENOPEER);
    assert_int_equal(stat_now(c, sid, "msgs_out"), 1);
    assert_int_equal(nq_comm_close(c, NQT_LONG_MS), NQ_OK);
    nq_comm_free(c);
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    nq_comm_free(s);
}

/* A snapshot from a put's completion callback (the I/O thread) works and
 * does not deadlock. */
static nq_comm *cb_comm;
static atomic_ullong cb_seen = UINT64_MAX;
static atomic_int cb_done;
static void snapshot_in_callback(void *user, nq_status st)
{
    nq_stats *s = NULL;
    if (nq_comm_stats(cb_comm, &s) == NQ_OK) {
        uint64_t v = 0;
        if (nq_stats_get(s, "puts_ok", &v) == NQ_OK)
            atomic_store(&cb_seen, v);
        nq_stats_free(s);
    }
    atomic_store(&cb_done, 1);
}

static void test_from_callback(void **state)
{
    int port;
    nq_comm *s = nqt_plain_server(&port);
    nq_comm *c = nqt_plain_client(port);
    cb_comm = c;
    nqt_round_trip(s, c, "warm");
    assert_int_equal(nq_comm_put(c, "z", 1, NULL, 0, snapshot_in_callback, NULL), NQ_OK);
    int64_t end = nqt_now_ms() + NQT_LONG_MS;
    while (!atomic_load(&cb_done) && nqt_now_ms() < end)
        nqt_sleep_ms(2);
    assert_true(atomic_load(&cb_done));
    /* counted before the callback runs */
    assert_int_equal(atomic_load(&cb_seen), 2);
    assert_int_equal(nq_comm_close(c, NQT_LONG_MS), NQ_OK);
    nq_comm_free(c);
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    nq_comm_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_tcp),
        cmocka_unit_test(test_counts_tls),
        cmocka_unit_test(test_counts_inproc),
#ifdef NQT_HAVE_GRPC
        cmocka_unit_test(test_counts_grpc),
#endif
        cmocka_unit_test(test_two_peers),
        cmocka_unit_test(test_reconnect),
        cmocka_unit_test(test_lingering_peer),
        cmocka_unit_test(test_errors_by_kind),
        cmocka_unit_test(test_failed_puts),
        cmocka_unit_test(test_dropped),
        cmocka_unit_test(test_api_edges),
        cmocka_unit_test(test_from_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
