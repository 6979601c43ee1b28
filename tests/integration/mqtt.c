/*
 * C client x C server over MQTT, through a private mosquitto per test:
 * round trip, many clients (broadcast and targeted), 10,000 ordered
 * messages each way, messages bigger than the transport size, empty and
 * 16-byte messages, close with data in flight, a broker that is down at
 * start, garbage and bad topics, QoS 2 across a broker restart, TLS and
 * broker authentication.
 */
#include "nqtest.h"
#include "mosquitto.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Communicators a test made and did not free yet: after a failed assert,
 * teardown closes and frees them, so that paho's threads (shared by the
 * whole process) do not stay stuck on them into the next tests. */
#define MQ_LIVE 32
static nq_comm *mq_live[MQ_LIVE];

static void mq_track(nq_comm *c)
{
    for (int i = 0; i < MQ_LIVE; i++) {
        if (!mq_live[i]) {
            mq_live[i] = c;
            return;
        }
    }
}

static void mq_forget(nq_comm *c)
{
    for (int i = 0; i < MQ_LIVE; i++)
        if (mq_live[i] == c)
            mq_live[i] = NULL;
}

/* Each broker test gets its broker from the fixture: teardown stops it and
 * removes its folder whether the test passed or failed (a failed assert
 * jumps straight to teardown). */
static int mq_setup(void **state)
{
    nqt_broker *b = calloc(1, sizeof *b);
    if (!b)
        return -1;
    *state = b;
    return 0;
}

static int mq_teardown(void **state)
{
    nqt_broker *b = *state;
    for (int i = 0; i < MQ_LIVE; i++) {
        if (mq_live[i]) {
            nq_comm_close(mq_live[i], 1000);
            nq_comm_free(mq_live[i]);
            mq_live[i] = NULL;
        }
    }
    if (b) {
        nqt_broker_destroy(b);
        free(b);
    }
    *state = NULL;
    return 0;
}

static nq_options *mq_opts(int port, int qos)
{
    nq_options *o = nqt_opts(port);
    assert_int_equal(nq_options_set_mqtt_qos(o, qos), NQ_OK);
    return o;
}

/* A server's log: its subscription, and its warnings counted and kept.
 * MQTT has no way to hold a publish for a subscriber that is not there
 * yet, so a client must not speak before its server subscribed. */
struct mq_log {
    atomic_int subscribed;
    atomic_int bad;
    pthread_mutex_t mu;
    char text[4096];
};

static void mq_log_fn(void *user, nq_log_level level, const char *line)
{
    struct mq_log *l = user;
    if (getenv("NQT_DEBUG"))
        fprintf(stderr, "server: %s\n", line);
    if (strstr(line, "subscribed to c2s/+"))
        atomic_fetch_add(&l->subscribed, 1);
    if (level <= NQ_LOG_WARN) {
        atomic_fetch_add(&l->bad, 1);
        pthread_mutex_lock(&l->mu);
        size_t n = strlen(l->text);
        snprintf(l->text + n, sizeof l->text - n, "  %s\n", line);
        pthread_mutex_unlock(&l->mu);
    }
}

static int mq_wait(atomic_int *v, int n)
{
    int64_t end = nqt_now_ms() + NQT_LONG_MS;
    while (atomic_load(v) < n && nqt_now_ms() < end)
        nqt_sleep_ms(5);
    return atomic_load(v);
}

static struct mq_log *mq_log_new(nq_options *o)
{
    struct mq_log *l = calloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    assert_int_equal(nq_options_set_log(o, mq_log_fn, l, NQ_LOG_DEBUG), NQ_OK);
    return l;
}

static nq_comm *mq_new(nq_options *o, nq_purpose purpose);

/* A server that has subscribed; its log into *logp when wanted. */
static nq_comm *mq_server(nq_options *o, struct mq_log **logp)
{
    struct mq_log *l = mq_log_new(o);
    nq_comm *s = mq_new(o, NQ_SERVER);
    assert_true(mq_wait(&l->subscribed, 1) >= 1);
    *logp = l; /* the caller frees it after the server */
    return s;
}

static nq_comm *mq_new(nq_options *o, nq_purpose purpose)
{
    nq_comm *c = NULL;
    nq_status st = nq_comm_new(&c, NQ_MQTT, purpose, o);
    if (st != NQ_OK)
        print_message("nq_comm_new(MQTT): %s: %s\n", nq_strerror(st), nq_last_error());
    assert_int_equal(st, NQ_OK);
    nq_options_free(o);
    mq_track(c);
    return c;
}

static void close_free(nq_comm *c, nq_status want)
{
    nq_status st = nq_comm_close(c, NQT_LONG_MS);
    if (st != want)
        print_message("nq_comm_close: %s (%s)\n", nq_strerror(st), nq_last_error());
    assert_int_equal(st, want);
    mq_forget(c);
    nq_comm_free(c);
}

static void test_round_trip(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_start(b, 0, 0);
    struct mq_log *sl;
    nq_comm *s = mq_server(mq_opts(b->port, 0), &sl);
    nq_comm *c = mq_new(mq_opts(b->port, 0), NQ_CLIENT);
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    nqt_round_trip(s, c, "hello over mqtt");
    assert_true(nqt_wait_peer(s, cid, 1, NQT_LONG_MS));
    assert_true(nqt_wait_peer(c, sid, 1, NQT_LONG_MS));
    close_free(c, NQ_OK);
    assert_int_equal(nqt_wait_npeers(s, 0, NQT_LONG_MS), 0);
    close_free(s, NQ_OK);
    free(sl);
}

#define NCLIENTS 8

static void test_many_clients(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_start(b, 0, 0);
    struct mq_log *sl;
    nq_comm *s = mq_server(mq_opts(b->port, 0), &sl);
    nq_comm *c[NCLIENTS];
    uint8_t ids[NCLIENTS][16], sid[16];
    nqt_id_of(s, sid);
    for (int i = 0; i < NCLIENTS; i++) {
        c[i] = mq_new(mq_opts(b->port, 0), NQ_CLIENT);
        nqt_id_of(c[i], ids[i]);
        char hello[32];
        snprintf(hello, sizeof hello, "hello %d", i);
        nqt_put_str(c[i], hello, NULL, 0);
        nqt_expect_str(s, hello, ids[i]);
    }
    assert_int_equal(nqt_wait_npeers(s, NCLIENTS, NQT_LONG_MS), NCLIENTS);
    nqt_put_str(s, "to everyone", NULL, 0);
    for (int i = 0; i < NCLIENTS; i++)
        nqt_expect_str(c[i], "to everyone", sid);
    uint8_t two[32];
    memcpy(two, ids[2], 16);
    memcpy(two + 16, ids[5], 16);
    nqt_put_str(s, "to 2 and 5", two, 2);
    nqt_expect_str(c[2], "to 2 and 5", sid);
    nqt_expect_str(c[5], "to 2 and 5", sid);
    for (int i = 0; i < NCLIENTS; i++)
        if (i != 2 && i != 5)
            nqt_expect_none(c[i], NQT_SHORT_MS);
    for (int i = 0; i < NCLIENTS; i++)
        close_free(c[i], NQ_OK);
    close_free(s, NQ_OK);
    free(sl);
}

#define NORDER 10000

static void expect_sequence(nq_comm *c, int n, const uint8_t *from)
{
    for (int i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof want, "m%05d", i);
        nqt_expect_str(c, want, from);
    }
}

static void test_order_10000(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_start(b, 0, 0);
    struct mq_log *sl;
    nq_comm *s = mq_server(mq_opts(b->port, 0), &sl);
    nq_comm *c = mq_new(mq_opts(b->port, 0), NQ_CLIENT);
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    for (int i = 0; i < NORDER; i++) {
        char m[32];
        snprintf(m, sizeof m, "m%05d", i);
        nqt_put_str(c, m, NULL, 0);
    }
    expect_sequence(s, NORDER, cid);
    for (int i = 0; i < NORDER; i++) {
        char m[32];
        snprintf(m, sizeof m, "m%05d", i);
        nqt_put_str(s, m, cid, 1);
    }
    expect_sequence(c, NORDER, sid);
    close_free(c, NQ_OK);
    close_free(s, NQ_OK);
    free(sl);
}

/* 1 MiB over 64 KiB publishes, both ways; then empty and 16-byte ones. */
static void test_sizes(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_start(b, 0, 0);
    nq_options *so = mq_opts(b->port, 0), *co = mq_opts(b->port, 0);
    assert_int_equal(nq_options_set_transport_size(so, 64 * 1024), NQ_OK);
    assert_int_equal(nq_options_set_transport_size(co, 64 * 1024), NQ_OK);
    struct mq_log *sl;
    nq_comm *s = mq_server(so, &sl);
    nq_comm *c = mq_new(co, NQ_CLIENT);
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    size_t big = 1 << 20;
    uint8_t *buf = malloc(big);
    nqt_fill(buf, big, 42);
    nqt_put(c, buf, big, NULL, 0);
    nqt_expect(s, buf, big, cid);
    nqt_put(s, buf, big, cid, 1);
    nqt_expect(c, buf, big, sid);
    uint8_t sixteen[16];
    nqt_fill(sixteen, 16, 7);
    nqt_put(c, "", 0, NULL, 0);
    nqt_put(c, sixteen, 16, NULL, 0);
    nqt_put(c, "after", 5, NULL, 0);
    nqt_expect(s, "", 0, cid);
    nqt_expect(s, sixteen, 16, cid);
    nqt_expect(s, "after", 5, cid);
    nqt_put(s, "", 0, cid, 1);
    nqt_put(s, sixteen, 16, cid, 1);
    nqt_expect(c, "", 0, sid);
    nqt_expect(c, sixteen, 16, sid);
    free(buf);
    close_free(c, NQ_OK);
    close_free(s, NQ_OK);
    free(sl);
}

/* close right after many puts: close sends them all before its fin. */
static void test_close_in_flight(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_start(b, 0, 0);
    struct mq_log *sl;
    nq_comm *s = mq_server(mq_opts(b->port, 0), &sl);
    nq_comm *c = mq_new(mq_opts(b->port, 0), NQ_CLIENT);
    uint8_t cid[16];
    nqt_id_of(c, cid);
    for (int i = 0; i < 2000; i++) {
        char m[32];
        snprintf(m, sizeof m, "m%05d", i);
        nqt_put_str(c, m, NULL, 0);
    }
    close_free(c, NQ_OK);
    expect_sequence(s, 2000, cid);
    close_free(s, NQ_OK);
    free(sl);
}

/* Both sides start while the broker is down: puts queue, nothing blocks,
 * and everything flows once the broker is up. */
static void test_broker_late(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_start(b, 0, 0);
    /* QoS 1: the server's subscription is persistent, so the broker keeps
     * it across its restart even before the server reconnects */
    struct mq_log *sl;
    nq_comm *s = mq_server(mq_opts(b->port, 1), &sl);
    nqt_broker_stop(b);
    nqt_log log;
    nqt_log_init(&log);
    nq_options *co = mq_opts(b->port, 1);
    nqt_log_attach(co, &log);
    nq_comm *c = mq_new(co, NQ_CLIENT); /* returns at once, broker down */
    uint8_t cid[16];
    nqt_id_of(c, cid);
    nqt_put_str(c, "queued while the broker was down", NULL, 0);
    /* the client says once that it cannot reach the broker */
    assert_true(nqt_log_wait_bad(&log, 1, NQT_LONG_MS) >= 1);
    nqt_broker_restart(b);
    nqt_expect_str(s, "queued while the broker was down", cid);
    close_free(c, NQ_OK);
    close_free(s, NQ_OK);
    free(sl);
    nqt_log_destroy(&log);
}

/* Garbage on a client topic drops that link only; a topic that is not
 * c2s/<32 hex> is ignored; both with warnings. */
static void test_garbage(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_start(b, 0, 0);
    nq_options *so = mq_opts(b->port, 0);
    struct mq_log *sl;
    nq_comm *s = mq_server(so, &sl);
    nq_comm *c = mq_new(mq_opts(b->port, 0), NQ_CLIENT);
    uint8_t cid[16];
    nqt_id_of(c, cid);
    nqt_round_trip(s, c, "before");

    /* a first frame that is not a 16-byte ini */
    uint8_t bad[13] = {0, 0, 0, 0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
    assert_int_equal(nqt_mqtt_publish_raw(b->port, "c2s/0123456789abcdef0123456789abcdef", bad,
                                          sizeof bad, 0), 0);
    assert_true(mq_wait(&sl->bad, 1) >= 1);
    /* a frame header claiming 2^63 bytes after a valid ini */
    uint8_t huge[8 + 16 + 8] = {0, 0, 0, 0, 0, 0, 0, 16};
    memset(huge + 8, 0xab, 16);
    huge[24] = 0x80;
    assert_int_equal(nqt_mqtt_publish_raw(b->port, "c2s/abababababababababababababababab", huge,
                                          sizeof huge, 0), 0);
    assert_true(mq_wait(&sl->bad, 2) >= 2);
    assert_int_equal(nqt_mqtt_publish_raw(b->port, "c2s/not-a-hex-id", "zz", 2, 0), 0);
    assert_true(mq_wait(&sl->bad, 3) >= 3);
    assert_int_equal(nqt_mqtt_publish_raw(b->port, "c2s/0123456789ABCDEF0123456789ABCDEF", "zz", 2, 0), 0);
    assert_true(mq_wait(&sl->bad, 4) >= 4);
    print_message("server log:\n%s", sl->text);

    /* the good client is unaffected, and the server knows only it */
    nqt_round_trip(s, c, "after");
    assert_int_equal(nqt_npeers(s), 1);
    close_free(c, NQ_OK);
    close_free(s, NQ_OK);
    free(sl);
}

/* How many times text appears in the server's warnings, once it reached n. */
static int mq_wait_text(struct mq_log *l, const char *text, int n)
{
    int64_t end = nqt_now_ms() + NQT_LONG_MS;
    int count = 0;
    do {
        count = 0;
        pthread_mutex_lock(&l->mu);
        for (const char *p = l->text; (p = strstr(p, text)); p += strlen(text))
            count++;
        pthread_mutex_unlock(&l->mu);
        if (count >= n)
            break;
        nqt_sleep_ms(5);
    } while (nqt_now_ms() < end);
    return count;
}

/* ini frame naming id, then a data frame "spoofed", as one publish */
static size_t spoof_stream(uint8_t *out, const uint8_t id[16])
{
    nqt_header(out, 16);
    memcpy(out + 8, id, 16);
    nqt_header(out + 24, 7);
    memcpy(out + 32, "spoofed", 7);
    return 39;
}

/* A client whose ini names another id than its topic c2s/<hex> is a
 * protocol error for that link only: warning, link dropped, nothing it
 * sent delivered; in particular it cannot take over the session of the
 * client whose id it names. */
static void test_ini_topic_mismatch(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_start(b, 0, 0);
    struct mq_log *sl;
    nq_comm *s = mq_server(mq_opts(b->port, 0), &sl);
    nq_comm *c = mq_new(mq_opts(b->port, 0), NQ_CLIENT);
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    nqt_round_trip(s, c, "before");

    uint8_t buf[64];
    /* a third party names the live client's id on its own topic */
    size_t n = spoof_stream(buf, cid);
    assert_int_equal(nqt_mqtt_publish_raw(b->port, "c2s/0123456789abcdef0123456789abcdef", buf, n, 0), 0);
    assert_true(mq_wait_text(sl, "not the topic's id", 1) >= 1);
    /* an id nobody has, split over publishes inside the ini */
    uint8_t other[16];
    memset(other, 0x5a, sizeof other);
    n = spoof_stream(buf, other);
    const char *topic2 = "c2s/fedcba9876543210fedcba9876543210";
    assert_int_equal(nqt_mqtt_publish_raw(b->port, topic2, buf, 10, 0), 0);
    assert_int_equal(nqt_mqtt_publish_raw(b->port, topic2, buf + 10, n - 10, 0), 0);
    assert_true(mq_wait_text(sl, "not the topic's id", 2) >= 2);
    print_message("server log:\n%s", sl->text);

    /* the real client's session goes on, nothing spoofed came through */
    assert_true(nqt_wait_peer(s, cid, 1, NQT_LONG_MS));
    nqt_round_trip(s, c, "after");
    nqt_put_str(s, "still yours", cid, 1);
    nqt_expect_str(c, "still yours", sid);
    nqt_expect_none(s, NQT_SHORT_MS);
    assert_int_equal(nqt_npeers(s), 1);
    close_free(c, NQ_OK);
    close_free(s, NQ_OK);
    free(sl);
}

#define NRESTART 3000

/* QoS 2 with persistent sessions: the broker is stopped (saving its state)
 * and started again mid-stream; every message arrives once, in order. */
static void test_qos2_broker_restart(void **state)
{
    /* mosquitto 2.0.11 resends released QoS 2 messages after its restart
     * (docs/mqtt.md): this run checks that they are not delivered twice */
    nqt_broker *b = *state;
    nqt_broker_start(b, 0, 0);
    nq_options *so = mq_opts(b->port, 2), *co = mq_opts(b->port, 2);
    if (getenv("NQT_DEBUG")) {
        nq_options_set_log(so, NULL, NULL, NQ_LOG_DEBUG);
        nq_options_set_log(co, NULL, NULL, NQ_LOG_DEBUG);
    }
    struct mq_log *sl;
    nq_comm *s = mq_server(so, &sl);
    nq_comm *c = mq_new(co, NQ_CLIENT);
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    nqt_round_trip(s, c, "start");
    char *payload = malloc(2048);
    for (int i = 0; i < NRESTART; i++) {
        snprintf(payload, 2048, "m%05d", i);
        memset(payload + 6, 'x', 2000);
        nqt_put(c, payload, 2006, NULL, 0);
        if (i == NRESTART / 3)
            nqt_broker_restart(b);
    }
    for (int i = 0; i < NRESTART; i++) {
        snprintf(payload, 2048, "m%05d", i);
        memset(payload + 6, 'x', 2000);
        nqt_expect(s, payload, 2006, cid);
    }
    /* and the other way, restarting again */
    for (int i = 0; i < 500; i++) {
        snprintf(payload, 2048, "m%05d", i);
        nqt_put_str(s, payload, cid, 1);
        if (i == 100)
            nqt_broker_restart(b);
    }
    expect_sequence(c, 500, sid);
    free(payload);
    close_free(c, NQ_OK);
    close_free(s, NQ_OK);
    free(sl);
}

/* Both sides put big QoS 1 messages and get at once. It used to hang for
 * good: paho's receive thread waited in our message callback (inbox over
 * budget) holding paho's mutex, while our loop thread, the one that drains
 * the inbox, waited for that mutex in MQTTAsync_send (mqtt_worker.c).
 * Each side has a put thread and a get thread (the two communicators share
 * paho's one receive thread, so one reader for both would couple them);
 * the gets start late on purpose, so that the receive queues and inboxes
 * fill and the back-pressure engages. Every wait is bounded: a hang fails
 * the test, and the communicators are closed before anything is asserted. */
#define BULK_N 48
#define BULK_SIZE (1u << 20)

struct bulk_side {
    nq_comm *c;
    const uint8_t *peer; /* puts to it (NULL: the client's one server) */
    const uint8_t *from; /* gets must come from it */
    atomic_int put_done, get_done;
    nq_status put_st;
    atomic_int got;      /* messages received intact and in order */
    char why[160];
};

static void *bulk_put(void *arg)
{
    struct bulk_side *b = arg;
    uint8_t *buf = malloc(BULK_SIZE);
    b->put_st = buf ? NQ_OK : NQ_ENOMEM;
    for (int i = 0; i < BULK_N && b->put_st == NQ_OK; i++) {
        nqt_fill(buf, BULK_SIZE, 1000 + i);
        b->put_st = nq_comm_put(b->c, buf, BULK_SIZE, b->peer, b->peer ? 1 : 0, NULL, NULL);
    }
    free(buf);
    atomic_store(&b->put_done, 1);
    return NULL;
}

static void *bulk_get(void *arg)
{
    struct bulk_side *b = arg;
    uint8_t *want = malloc(BULK_SIZE);
    nqt_sleep_ms(500); /* let the queues fill before reading */
    for (int i = 0; want && i < BULK_N; i++) {
        nq_msg *m = NULL;
        nq_status st = nq_comm_get(b->c, NULL, 0, NQT_LONG_MS, &m);
        if (st != NQ_OK) {
            snprintf(b->why, sizeof b->why, "message %d: %s", i, nq_strerror(st));
            break;
        }
        nqt_fill(want, BULK_SIZE, 1000 + i);
        uint8_t peer[NQ_ID_SIZE];
        int ok = nq_msg_size(m) == BULK_SIZE && memcmp(nq_msg_data(m), want, BULK_SIZE) == 0 &&
                 nq_msg_peer(m, peer) == NQ_OK && memcmp(peer, b->from, NQ_ID_SIZE) == 0;
        nq_msg_free(m);
        if (!ok) {
            snprintf(b->why, sizeof b->why, "message %d: wrong content, size or peer", i);
            break;
        }
        atomic_fetch_add(&b->got, 1);
    }
    free(want);
    atomic_store(&b->get_done, 1);
    return NULL;
}

static nq_options *bulk_opts(int port)
{
    nq_options *o = mq_opts(port, 1);
    assert_int_equal(nq_options_set_transport_size(o, BULK_SIZE), NQ_OK);
    assert_int_equal(nq_options_set_message_limit(o, 2 * BULK_SIZE), NQ_OK);
    assert_int_equal(nq_options_set_queue_limit(o, 4 * BULK_SIZE), NQ_OK);
    assert_int_equal(nq_options_set_send_limit(o, 8 * BULK_SIZE), NQ_OK);
    return o;
}

static void test_qos1_two_way_bulk(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_start(b, 0, 0);
    struct mq_log *sl;
    nq_comm *s = mq_server(bulk_opts(b->port), &sl);
    nq_comm *c = mq_new(bulk_opts(b->port), NQ_CLIENT);
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    nqt_round_trip(s, c, "start"); /* the server knows the client */

    struct bulk_side side[2] = {{.c = s, .peer = cid, .from = cid}, {.c = c, .from = sid}};
    pthread_t th[4];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&th[2 * i], NULL, bulk_put, &side[i]), 0);
        assert_int_equal(pthread_create(&th[2 * i + 1], NULL, bulk_get, &side[i]), 0);
    }
    /* Watchdog on progress: a deadlock inside the library would also hang
     * close and free (its loop thread stuck in paho), so when nothing moves
     * for longer than a get waits, say so and end the process (ctest sees
     * the failure; the broker is stopped first). */
    int64_t last_move = nqt_now_ms();
    int last = -1, done = 0;
    while (!done) {
        int now = 0;
        done = 1;
        for (int i = 0; i < 2; i++) {
            now += atomic_load(&side[i].got) + atomic_load(&side[i].put_done) + atomic_load(&side[i].get_done);
            done &= atomic_load(&side[i].get_done) && atomic_load(&side[i].put_done);
        }
        if (now != last) {
            last = now;
            last_move = nqt_now_ms();
        } else if (nqt_now_ms() - last_move > NQT_LONG_MS + 5000) {
            fprintf(stderr, "test_qos1_two_way_bulk: stuck (got %d/%d server, %d/%d client; puts done %d/%d)\n",
                    atomic_load(&side[0].got), BULK_N, atomic_load(&side[1].got), BULK_N, atomic_load(&side[0].put_done),
                    atomic_load(&side[1].put_done));
            nqt_broker_destroy(b);
            _exit(1);
        }
        if (!done)
            nqt_sleep_ms(10);
    }
    /* closing fails puts still waiting for room (NQ_ECLOSED): joins return */
    nq_status cst = nq_comm_close(c, NQT_LONG_MS), sst = nq_comm_close(s, NQT_LONG_MS);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++)
        if (side[i].why[0])
            print_message("%s: %s\n", i ? "client" : "server", side[i].why);
    mq_forget(c);
    mq_forget(s);
    nq_comm_free(c);
    nq_comm_free(s);
    free(sl);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(side[i].put_st, NQ_OK);
        assert_int_equal(atomic_load(&side[i].got), BULK_N);
    }
    assert_int_equal(cst, NQ_OK);
    assert_int_equal(sst, NQ_OK);
}

static void test_tls(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_start(b, 1, 0);
    nq_options *so = mq_opts(b->tls_port, 0), *co = mq_opts(b->tls_port, 1);
    nq_options *opts[2] = {so, co};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(nq_options_set_tls(opts[i], 1), NQ_OK);
        assert_int_equal(nq_options_set_tls_ca(opts[i], nqt_cert("ca.pem")), NQ_OK);
    }
    struct mq_log *sl;
    nq_comm *s = mq_server(so, &sl);
    nq_comm *c = mq_new(co, NQ_CLIENT);
    nqt_round_trip(s, c, "hello over TLS");
    close_free(c, NQ_OK);
    close_free(s, NQ_OK);
    free(sl);
}

static void test_auth(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_start(b, 0, 1);
    nq_options *so = mq_opts(b->port, 0), *co = mq_opts(b->port, 0);
    nq_options *opts[2] = {so, co};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(nq_options_set_mqtt_username(opts[i], b->user), NQ_OK);
        assert_int_equal(nq_options_set_mqtt_password(opts[i], b->password), NQ_OK);
    }
    struct mq_log *sl;
    nq_comm *s = mq_server(so, &sl);
    nq_comm *c = mq_new(co, NQ_CLIENT);
    nqt_round_trip(s, c, "authenticated");
    close_free(c, NQ_OK);

    /* a wrong password: the client says so and keeps its puts queued */
    nqt_log log;
    nqt_log_init(&log);
    nq_options *bad = mq_opts(b->port, 0);
    nqt_log_attach(bad, &log);
    assert_int_equal(nq_options_set_mqtt_username(bad, b->user), NQ_OK);
    assert_int_equal(nq_options_set_mqtt_password(bad, "wrong"), NQ_OK);
    nq_comm *c2 = mq_new(bad, NQ_CLIENT);
    nqt_put_str(c2, "never", NULL, 0);
    assert_true(nqt_log_wait_bad(&log, 1, NQT_LONG_MS) >= 1);
    nqt_expect_none(s, NQT_SHORT_MS);
    assert_int_equal(nq_comm_close(c2, 200), NQ_ETIMEDOUT);
    mq_forget(c2);
    nq_comm_free(c2);
    nqt_log_destroy(&log);
    close_free(s, NQ_OK);
    free(sl);
}

static void test_bad_options(void **state)
{
    nq_options *o;
    assert_int_equal(nq_options_new(&o), NQ_OK);
    assert_int_equal(nq_options_set_mqtt_qos(o, 3), NQ_EINVAL);
    assert_int_equal(nq_options_set_mqtt_qos(o, -1), NQ_EINVAL);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(nq_options_set_mqtt_username(o, longname), NQ_EINVAL);
    assert_int_equal(nq_options_set_mqtt_password(o, longname), NQ_EINVAL);
    assert_int_equal(nq_options_set_mqtt_qos(NULL, 1), NQ_EINVAL);
    nq_options_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test_setup_teardown(test_round_trip, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_many_clients, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_order_10000, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_sizes, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_close_in_flight, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_broker_late, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_garbage, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_ini_topic_mismatch, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_qos2_broker_restart, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_qos1_two_way_bulk, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_tls, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_auth, mq_setup, mq_teardown),
    };
    if (getenv("NQT_ONLY")) /* run one test by name pattern */
        cmocka_set_test_filter(getenv("NQT_ONLY"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
