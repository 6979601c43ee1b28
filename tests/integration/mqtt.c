/*
 * C client x C server over MQTT, through a private mosquitto per test:
 * round trip, many clients (broadcast and targeted), 10,000 ordered
 * messages each way, messages bigger than the transport size, empty and
 * 16-byte messages, close with data in flight, a broker that is down at
 * start, garbage and bad topics, QoS 2 across a broker restart, a client
 * that receives while a relay holds its publishes, TLS and broker
 * authentication, the keep-alive the broker sees.
 *
 * Built a second time with NQT_MQTT_FAULT as it_mqtt_fault (labels
 * mqtt;fault): a rogue broker client's garbage flood (rate-limited
 * warnings), broker ACLs against impersonation (patterns on the client id,
 * per-client accounts), broker TLS with client certificates, QoS 2 across
 * a broker restarted without persistence.
 */
#include "nqtest.h"
#include "mosquitto.h"
#include "tcpproxy.h"

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

/* a test's relay in front of the broker (stopped after its communicators) */
static nqt_proxy *mq_proxy;

static int mq_teardown(void **state)
{
    nqt_broker *b = *state;
    if (mq_proxy)
        nqt_proxy_hold_up(mq_proxy, 0); /* a failed test may have left it holding */
    for (int i = 0; i < MQ_LIVE; i++) {
        if (mq_live[i]) {
            nq_comm_close(mq_live[i], 1000);
            nq_comm_free(mq_live[i]);
            mq_live[i] = NULL;
        }
    }
    nqt_proxy_stop(mq_proxy);
    mq_proxy = NULL;
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

/* ---- reads while our publishes are stuck ---- */

/* A QoS 0 client whose publishes cannot go out (a relay in front of the
 * broker stops reading what the client sends: its socket buffer fills and
 * paho is left half-way through a publish) still gets what its server
 * sends. paho.mqtt.c 1.3.12 never reads a socket that has a pending write
 * (Socket.c isReady), so with one connection for both directions nothing
 * arrived until the publishes could go on again (this test failed so);
 * publishes on a connection of their own (mqtt_writer.c) leave the
 * subscribed one readable. Then the relay goes on and the client's
 * messages arrive whole and in order. No timing is asserted: the waits are
 * the usual generous gets. */
#define STUCK_N 24
#define STUCK_SIZE (1u << 20)
#define STUCK_BACK 8

static void test_reads_while_writes_stuck(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_start(b, 0, 0);
    mq_proxy = nqt_proxy_start(b->port);
    assert_non_null(mq_proxy);
    struct mq_log *sl;
    nq_comm *s = mq_server(mq_opts(b->port, 0), &sl);
    nq_comm *c = mq_new(mq_opts(nqt_proxy_port(mq_proxy), 0), NQ_CLIENT);
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    nqt_round_trip(s, c, "start");

    nqt_proxy_hold_up(mq_proxy, 1);
    uint8_t *big = malloc(STUCK_SIZE);
    assert_non_null(big);
    for (int i = 0; i < STUCK_N; i++) {
        nqt_fill(big, STUCK_SIZE, (uint64_t)i + 1);
        nqt_put(c, big, STUCK_SIZE, NULL, 0);
    }
    /* let paho take its window (4 MiB) and fill the socket buffer: more
     * than the relay's small receive buffer and the client's send buffer
     * take while nothing is read (not an assertion: only a head start) */
    nqt_sleep_ms(500);
    size_t up = nqt_proxy_up_bytes(mq_proxy);

    char text[32];
    for (int i = 0; i < STUCK_BACK; i++) {
        snprintf(text, sizeof text, "back %d", i);
        nqt_put_str(s, text, cid, 1);
    }
    for (int i = 0; i < STUCK_BACK; i++) {
        snprintf(text, sizeof text, "back %d", i);
        nqt_expect_str(c, text, sid);
    }
    /* the client's publishes were held all along: nothing went up */
    assert_int_equal(nqt_proxy_up_bytes(mq_proxy), up);

    nqt_proxy_hold_up(mq_proxy, 0);
    for (int i = 0; i < STUCK_N; i++) {
        nqt_fill(big, STUCK_SIZE, (uint64_t)i + 1);
        nqt_expect(s, big, STUCK_SIZE, cid);
    }
    free(big);
    close_free(c, NQ_OK);
    close_free(s, NQ_OK);
    free(sl);
}

/* A broker that refuses the publishing connection's client id (here:
 * mosquitto's clientid_prefixes lets only our main ids in, CONNACK 2 for
 * "nqp<hex>" and the waker's "nqw<hex>"): both sides say so once and
 * publish on their main connection, and the stream flows both ways. Had
 * they waited for the publishing connection, nothing would go out. */
static void test_publishing_refused(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_cfg cfg = {.extra = "clientid_prefixes ab"};
    nqt_broker_start_cfg(b, &cfg);
    uint8_t sid[16], cid[16];
    for (int k = 0; k < 16; k++) {
        sid[k] = (uint8_t)(k ? 0x10 + k : 0xab);
        cid[k] = (uint8_t)(k ? 0x20 + k : 0xab);
    }
    nq_options *so = mq_opts(b->port, 0), *co = mq_opts(b->port, 0);
    assert_int_equal(nq_options_set_id(so, sid), NQ_OK);
    assert_int_equal(nq_options_set_id(co, cid), NQ_OK);
    nqt_log clog;
    nqt_log_init(&clog);
    nqt_log_attach(co, &clog);
    struct mq_log *sl;
    nq_comm *s = mq_server(so, &sl);
    nq_comm *c = mq_new(co, NQ_CLIENT);
    nqt_round_trip(s, c, "one connection");
    nqt_put_str(s, "and back", cid, 1);
    nqt_expect_str(c, "and back", sid);
    pthread_mutex_lock(&sl->mu);
    int server_said = strstr(sl->text, "refused the publishing connection") != NULL;
    pthread_mutex_unlock(&sl->mu);
    assert_true(server_said);
    assert_true(nqt_log_has(&clog, "refused the publishing connection"));
    close_free(c, NQ_OK);
    close_free(s, NQ_OK);
    nqt_log_destroy(&clog);
    free(sl);
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

/* ---- keepalive ---- */

/* How many times text appears in the broker's log. */
static int broker_log_count(nqt_broker *b, const char *text)
{
    char *log = nqt_broker_log(b);
    int n = 0;
    for (const char *p = log; p && (p = strstr(p, text)); p += strlen(text))
        n++;
    free(log);
    return n;
}

/* The keep-alive each connection asks for, as the broker logs it
 * ("New client connected ... as <id> (p2, c1, k30)"): the option's
 * seconds rounded up, 0 for off, 30 by default. */
static void test_keepalive(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_start(b, 0, 0);
    struct { int64_t ms; const char *want; } cases[] = {
        {-1, "k30)"}, {1500, "k2)"}, {0, "k0)"}, {5000, "k5)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nq_options *o = mq_opts(b->port, 1);
        if (cases[i].ms >= 0)
            assert_int_equal(nq_options_set_keepalive(o, cases[i].ms), NQ_OK);
        uint8_t id[16];
        char hex[40], text[64];
        nq_comm *c = mq_new(o, NQ_CLIENT);
        nqt_id_of(c, id);
        for (int k = 0; k < 16; k++)
            snprintf(hex + 2 * k, 3, "%02x", id[k]);
        snprintf(text, sizeof text, "as %s (p2, c0, %s", hex, cases[i].want);
        int64_t end = nqt_now_ms() + NQT_LONG_MS;
        while (broker_log_count(b, text) < 1 && nqt_now_ms() < end)
            nqt_sleep_ms(20);
        if (broker_log_count(b, text) < 1) {
            char *log = nqt_broker_log(b);
            print_message("no '%s' in the broker log:\n%s\n", text, log ? log : "(none)");
            free(log);
        }
        assert_int_equal(broker_log_count(b, text), 1);
        nq_comm_close(c, 0); /* no server: nobody to say fin to */
        mq_forget(c);
        nq_comm_free(c);
    }
}

/* ---- security and faults (it_mqtt_fault: labels mqtt;fault) ---- */
#ifdef NQT_MQTT_FAULT

/* Warning lines a log callback got, and whether "suppressed" was said. */
struct count_log {
    atomic_int warn, suppressed, subscribed;
};

static void count_log_fn(void *user, nq_log_level level, const char *line)
{
    struct count_log *l = user;
    if (getenv("NQT_DEBUG"))
        fprintf(stderr, "server: %s\n", line);
    if (strstr(line, "subscribed to c2s/+"))
        atomic_fetch_add(&l->subscribed, 1);
    if (level <= NQ_LOG_WARN) {
        atomic_fetch_add(&l->warn, 1);
        if (strstr(line, "suppressed"))
            atomic_fetch_add(&l->suppressed, 1);
    }
}

static void hex_of(const uint8_t id[16], char *out)
{
    for (int k = 0; k < 16; k++)
        snprintf(out + 2 * k, 3, "%02x", id[k]);
}

/* A rogue broker client floods the server with 1000 bad publishes of every
 * kind a broker client can send at will: the server logs a few lines (one a
 * second per kind of warning, saying how many it suppressed), not one or
 * two per publish, and goes on serving its good client. */
#define FLOOD 1000

static void test_garbage_flood(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_start(b, 0, 0);
    struct count_log cl = {0};
    nq_options *so = mq_opts(b->port, 0);
    assert_int_equal(nq_options_set_log(so, count_log_fn, &cl, NQ_LOG_DEBUG), NQ_OK);
    nq_comm *s = mq_new(so, NQ_SERVER);
    assert_true(mq_wait(&cl.subscribed, 1) >= 1);
    nq_comm *c = mq_new(mq_opts(b->port, 0), NQ_CLIENT);
    uint8_t cid[16];
    nqt_id_of(c, cid);
    nqt_round_trip(s, c, "before");
    int before = atomic_load(&cl.warn);

    nqt_mqtt *r = nqt_mqtt_connect(b->port, "rogue", NULL, NULL);
    assert_non_null(r);
    int64_t t0 = nqt_now_ms();
    uint8_t buf[64];
    for (int i = 0; i < FLOOD; i++) {
        char topic[64];
        uint8_t id[16];
        memset(id, 0, sizeof id);
        memcpy(id, &i, sizeof i);
        id[15] = 0x77;
        char hex[33];
        hex_of(id, hex);
        snprintf(topic, sizeof topic, "c2s/%s", hex);
        size_t n;
        switch (i % 6) {
        case 0: /* a first frame that is no ini */
            nqt_header(buf, 5);
            memcpy(buf + 8, "hello", 5);
            n = 13;
            break;
        case 1: /* a valid ini, then a header over the message limit */
            nqt_header(buf, 16);
            memcpy(buf + 8, id, 16);
            nqt_header(buf + 24, UINT64_C(1) << 62);
            n = 32;
            break;
        case 2: /* an ini naming another id than the topic's */
            n = spoof_stream(buf, cid);
            break;
        case 3: /* not a client topic */
            snprintf(topic, sizeof topic, "c2s/rogue-%d", i);
            memcpy(buf, "zz", 2);
            n = 2;
            break;
        case 5: /* a whole session, then a message after its fin */
            nqt_header(buf, 16);
            memcpy(buf + 8, id, 16);
            nqt_header(buf + 24, 16);
            memcpy(buf + 32, id, 16);
            nqt_header(buf + 48, 3);
            memcpy(buf + 56, "bye", 3);
            n = 59;
            break;
        default: /* a topic one level too deep */
            snprintf(topic, sizeof topic, "c2s/%s/x", hex);
            memcpy(buf, "zz", 2);
            n = 2;
            break;
        }
        assert_int_equal(nqt_mqtt_send(r, topic, buf, n, 1, i == FLOOD - 1), 0);
    }
    /* after everything else (one connection: the broker keeps its order):
     * a well-formed stream from a fresh id; once it arrived, the flood has
     * been handled */
    uint8_t last[16];
    memset(last, 0x42, sizeof last);
    char lhex[33], ltopic[40];
    hex_of(last, lhex);
    snprintf(ltopic, sizeof ltopic, "c2s/%s", lhex);
    nqt_header(buf, 16);
    memcpy(buf + 8, last, 16);
    nqt_header(buf + 24, 4);
    memcpy(buf + 32, "last", 4);
    nqt_header(buf + 36, 16); /* and its fin: the server's close need not wait for it */
    memcpy(buf + 44, last, 16);
    assert_int_equal(nqt_mqtt_send(r, ltopic, buf, 60, 1, 1), 0);
    /* messages after a fin are delivered (the core's rule): skip them */
    for (int found = 0; !found;) {
        nq_msg *m = NULL;
        assert_int_equal(nq_comm_get(s, NULL, 0, NQT_LONG_MS, &m), NQ_OK);
        found = nq_msg_size(m) == 4 && memcmp(nq_msg_data(m), "last", 4) == 0;
        nq_msg_free(m);
    }
    int64_t secs = (nqt_now_ms() - t0) / 1000 + 1;
    int lines = atomic_load(&cl.warn) - before;
    print_message("%d bad publishes in %lld s: %d warning lines (%d saying what they suppressed)\n",
                  FLOOD, (long long)secs, lines, atomic_load(&cl.suppressed));
    nqt_mqtt_close(r);
    /* a handful of limiters, one line a second each */
    assert_true(lines >= 1);
    assert_true(lines <= 4 * (secs + 1));
    assert_true(lines < FLOOD / 20);

    /* the good client is still served */
    nqt_round_trip(s, c, "after");
    close_free(c, NQ_OK);
    close_free(s, NQ_OK);
}

/* Broker ACLs against impersonation (docs/mqtt.md, "Security"): a server
 * account reads every c2s/ topic and writes every s2c/ topic; every other
 * account may only write c2s/<its MQTT client id> and read s2c/<its client
 * id> (netqueue's client id is the topic's hex id, as the reference's). */
static const char acl_text[] =
    "# the server's account\n"
    "user nq-server\n"
    "topic read c2s/+\n"
    "topic write s2c/+\n"
    "\n"
    "# every client, whatever its account: its own topics only\n"
    "pattern write c2s/%c\n"
    "pattern read s2c/%c\n"
    "pattern readwrite nq-wake/%c\n";

static nq_options *acl_opts(int port, int qos, const char *user, const char *password)
{
    nq_options *o = mq_opts(port, qos);
    assert_int_equal(nq_options_set_mqtt_username(o, user), NQ_OK);
    assert_int_equal(nq_options_set_mqtt_password(o, password), NQ_OK);
    return o;
}

/* A rogue client, authenticated as another user, writes frames on a real
 * client's c2s/ topic and on its s2c/ topic, and subscribes to every c2s/
 * and s2c/ topic: the server never sees the rogue's frames, the client
 * never gets them, the rogue reads nothing; the real traffic flows. */
static void test_acl_impersonation(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_cfg cfg = {
        .users = "nq-server:server-pw\nnq-client:client-pw\nmallory:mallory-pw\n",
        .acl = acl_text,
    };
    nqt_broker_start_cfg(b, &cfg);
    struct mq_log *sl;
    nq_comm *s = mq_server(acl_opts(b->port, 1, "nq-server", "server-pw"), &sl);
    nq_comm *c = mq_new(acl_opts(b->port, 1, "nq-client", "client-pw"), NQ_CLIENT);
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    nqt_round_trip(s, c, "before");
    char chex[33], c2s[40], s2c[40];
    hex_of(cid, chex);
    snprintf(c2s, sizeof c2s, "c2s/%s", chex);
    snprintf(s2c, sizeof s2c, "s2c/%s", chex);

    nqt_mqtt *r = nqt_mqtt_connect(b->port, "mallory-1", "mallory", "mallory-pw");
    assert_non_null(r);
    int sub1 = nqt_mqtt_subscribe(r, "s2c/#", 1), sub2 = nqt_mqtt_subscribe(r, "c2s/#", 1);
    print_message("rogue subscriptions: s2c/# -> %d, c2s/# -> %d (0x80: refused)\n", sub1, sub2);
    /* a data frame that continues the client's stream, then a new ini
     * naming the client and a data frame */
    uint8_t buf[64];
    nqt_header(buf, 7);
    memcpy(buf + 8, "spoofed", 7);
    assert_int_equal(nqt_mqtt_send(r, c2s, buf, 15, 1, 1), 0);
    size_t n = spoof_stream(buf, cid);
    assert_int_equal(nqt_mqtt_send(r, c2s, buf, n, 1, 1), 0);
    /* and to the client, as if from its server */
    nqt_header(buf, 7);
    memcpy(buf + 8, "spoofed", 7);
    if (nqt_mqtt_connected(r))
        nqt_mqtt_send(r, s2c, buf, 15, 1, 1);

    /* the real stream goes on both ways; nothing of the rogue's arrives */
    nqt_put_str(c, "after", NULL, 0);
    nqt_expect_str(s, "after", cid);
    nqt_put_str(s, "to you", cid, 1);
    nqt_expect_str(c, "to you", sid);
    nqt_expect_none(s, NQT_SHORT_MS);
    nqt_expect_none(c, NQT_SHORT_MS);
    assert_int_equal(nqt_npeers(s), 1);
    assert_int_equal(nqt_mqtt_received(r), 0);
    nqt_mqtt_close(r);

    /* and without the server's account one cannot play the server */
    nqt_log log;
    nqt_log_init(&log);
    nq_options *fo = acl_opts(b->port, 1, "mallory", "mallory-pw");
    nqt_log_attach(fo, &log);
    nq_comm *fake = mq_new(fo, NQ_SERVER);
    nqt_put_str(c, "for the real server", NULL, 0);
    nqt_expect_str(s, "for the real server", cid);
    nqt_expect_none(fake, NQT_SHORT_MS);
    nq_comm_close(fake, 0);
    mq_forget(fake);
    nq_comm_free(fake);
    nqt_log_destroy(&log);

    close_free(c, NQ_OK);
    close_free(s, NQ_OK);
    free(sl);
}

/* The stronger set-up: the client's id is fixed and bound to its own
 * account by topic lines (no patterns). A rogue account that even connects
 * with that very client id (the broker then disconnects the real client)
 * still cannot write its c2s/ topic or read its s2c/ topic; the real
 * client comes back and goes on. QoS 0 (clean sessions): at QoS 1/2 such a
 * takeover on a clean session also wipes the client's broker session,
 * which breaks its stream (docs/mqtt.md, Security). */
static void test_acl_per_client_account(void **state)
{
    nqt_broker *b = *state;
    uint8_t cid[16];
    memset(cid, 0, sizeof cid);
    for (int k = 0; k < 16; k++)
        cid[k] = (uint8_t)(0xa0 + k);
    char chex[33], acl[1024];
    hex_of(cid, chex);
    snprintf(acl, sizeof acl,
             "user nq-server\ntopic read c2s/+\ntopic write s2c/+\n\n"
             "user client-a\ntopic write c2s/%s\ntopic read s2c/%s\ntopic readwrite nq-wake/nqw%s\n",
             chex, chex, chex);
    nqt_broker_cfg cfg = {
        .users = "nq-server:server-pw\nclient-a:a-pw\nmallory:mallory-pw\n",
        .acl = acl,
    };
    nqt_broker_start_cfg(b, &cfg);
    struct mq_log *sl;
    nq_comm *s = mq_server(acl_opts(b->port, 0, "nq-server", "server-pw"), &sl);
    nq_options *co = acl_opts(b->port, 0, "client-a", "a-pw");
    assert_int_equal(nq_options_set_id(co, cid), NQ_OK);
    nq_comm *c = mq_new(co, NQ_CLIENT);
    uint8_t sid[16];
    nqt_id_of(s, sid);
    nqt_round_trip(s, c, "before");

    char c2s[40], s2c[40];
    snprintf(c2s, sizeof c2s, "c2s/%s", chex);
    snprintf(s2c, sizeof s2c, "s2c/%s", chex);
    nqt_mqtt *r = nqt_mqtt_connect(b->port, chex, "mallory", "mallory-pw");
    assert_non_null(r);
    int sub = nqt_mqtt_subscribe(r, s2c, 1);
    uint8_t buf[64];
    nqt_header(buf, 7);
    memcpy(buf + 8, "spoofed", 7);
    nqt_mqtt_send(r, c2s, buf, 15, 1, 1);
    size_t n = spoof_stream(buf, cid);
    nqt_mqtt_send(r, c2s, buf, n, 1, 1);
    nqt_sleep_ms(200);
    print_message("rogue with the client's id: subscription %d, still connected %d\n", sub,
                  nqt_mqtt_connected(r));
    int rogue_got = nqt_mqtt_received(r);
    nqt_mqtt_close(r);

    /* the real client is back and its stream goes on both ways */
    nqt_put_str(c, "after", NULL, 0);
    nqt_expect_str(s, "after", cid);
    nqt_put_str(s, "to you", cid, 1);
    nqt_expect_str(c, "to you", sid);
    nqt_expect_none(s, NQT_SHORT_MS);
    nqt_expect_none(c, NQT_SHORT_MS);
    assert_int_equal(rogue_got, 0);
    close_free(c, NQ_OK);
    close_free(s, NQ_OK);
    free(sl);
}

/* A client certificate signed by the test CA: NQ_TEST_CERTS' client.pem if
 * there is one, else one made here with openssl into dir. */
static void client_cert(const char *dir, char *cert, char *key, size_t size)
{
    const char *certs = getenv("NQ_TEST_CERTS");
    assert_non_null(certs);
    snprintf(cert, size, "%s/client.pem", certs);
    snprintf(key, size, "%s/client.key", certs);
    if (access(cert, R_OK) == 0 && access(key, R_OK) == 0)
        return;
    snprintf(cert, size, "%s/client.pem", dir);
    snprintf(key, size, "%s/client.key", dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=clientAuth\\n"
             "keyUsage=critical,digitalSignature,keyEncipherment\\nsubjectKeyIdentifier=hash\\n"
             "authorityKeyIdentifier=keyid\\n' > client.ext && "
             "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr "
             "-subj '/CN=netqueue test client' 2>/dev/null && "
             "openssl x509 -req -in client.csr -CA '%s/ca.pem' -CAkey '%s/ca.key' -CAcreateserial "
             "-CAserial client.srl -out client.pem -days 30 -extfile client.ext 2>/dev/null",
             dir, certs, certs);
    assert_int_equal(system(cmd), 0);
}

/* mosquitto with require_certificate: a client with a certificate signed
 * by the CA gets in; one without is refused (and says so). */
static void test_tls_client_cert(void **state)
{
    nqt_broker *b = *state;
    nqt_broker_cfg cfg = {.tls = 1, .require_cert = 1};
    nqt_broker_start_cfg(b, &cfg);
    char cert[256], key[256];
    client_cert(b->dir, cert, key, sizeof cert);
    nq_options *so = mq_opts(b->tls_port, 0), *co = mq_opts(b->tls_port, 1);
    nq_options *opts[2] = {so, co};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(nq_options_set_tls(opts[i], 1), NQ_OK);
        assert_int_equal(nq_options_set_tls_ca(opts[i], nqt_cert("ca.pem")), NQ_OK);
        assert_int_equal(nq_options_set_tls_cert(opts[i], cert), NQ_OK);
        assert_int_equal(nq_options_set_tls_key(opts[i], key), NQ_OK);
    }
    struct mq_log *sl;
    nq_comm *s = mq_server(so, &sl);
    nq_comm *c = mq_new(co, NQ_CLIENT);
    nqt_round_trip(s, c, "with a client certificate");
    close_free(c, NQ_OK);

    /* a broker whose certificate we do not trust: the log says why (paho
     * alone says "TCP/TLS connect failure"; the reason is OpenSSL's) */
    {
        nqt_log lg;
        nqt_log_init(&lg);
        nq_options *w = mq_opts(b->tls_port, 0);
        nqt_log_attach(w, &lg);
        assert_int_equal(nq_options_set_tls(w, 1), NQ_OK);
        assert_int_equal(nq_options_set_tls_ca(w, nqt_cert("other-ca.pem")), NQ_OK);
        assert_int_equal(nq_options_set_tls_cert(w, cert), NQ_OK);
        assert_int_equal(nq_options_set_tls_key(w, key), NQ_OK);
        nq_comm *x = mq_new(w, NQ_CLIENT);
        assert_true(nqt_log_wait_bad(&lg, 1, NQT_LONG_MS) >= 1);
        nqt_log_print(&lg, "client that does not trust the broker");
        pthread_mutex_lock(&lg.mu);
        int says = strstr(lg.text, "certificate verify failed") != NULL;
        pthread_mutex_unlock(&lg.mu);
        assert_true(says);
        nq_comm_close(x, 0);
        mq_forget(x);
        nq_comm_free(x);
        nqt_log_destroy(&lg);
    }

    /* no certificate: refused by the broker */
    nqt_log log;
    nqt_log_init(&log);
    nq_options *bad = mq_opts(b->tls_port, 0);
    nqt_log_attach(bad, &log);
    assert_int_equal(nq_options_set_tls(bad, 1), NQ_OK);
    assert_int_equal(nq_options_set_tls_ca(bad, nqt_cert("ca.pem")), NQ_OK);
    nq_comm *c2 = mq_new(bad, NQ_CLIENT);
    nqt_put_str(c2, "never", NULL, 0);
    assert_true(nqt_log_wait_bad(&log, 1, NQT_LONG_MS) >= 1);
    nqt_log_print(&log, "client without a certificate");
    nqt_expect_none(s, NQT_SHORT_MS);
    assert_int_equal(nq_comm_close(c2, 200), NQ_ETIMEDOUT);
    mq_forget(c2);
    nq_comm_free(c2);
    nqt_log_destroy(&log);

    /* a certificate from another CA (make-certs.sh's otherclient.pem): refused too */
    char other[512], other_key[512];
    snprintf(other, sizeof other, "%s/otherclient.pem", getenv("NQ_TEST_CERTS"));
    snprintf(other_key, sizeof other_key, "%s/otherclient.key", getenv("NQ_TEST_CERTS"));
    if (access(other, R_OK) == 0 && access(other_key, R_OK) == 0) {
        nqt_log_init(&log);
        bad = mq_opts(b->tls_port, 0);
        nqt_log_attach(bad, &log);
        assert_int_equal(nq_options_set_tls(bad, 1), NQ_OK);
        assert_int_equal(nq_options_set_tls_ca(bad, nqt_cert("ca.pem")), NQ_OK);
        assert_int_equal(nq_options_set_tls_cert(bad, other), NQ_OK);
        assert_int_equal(nq_options_set_tls_key(bad, other_key), NQ_OK);
        c2 = mq_new(bad, NQ_CLIENT);
        nqt_put_str(c2, "never", NULL, 0);
        assert_true(nqt_log_wait_bad(&log, 1, NQT_LONG_MS) >= 1);
        nqt_log_print(&log, "client with another CA's certificate");
        nqt_expect_none(s, NQT_SHORT_MS);
        assert_int_equal(nq_comm_close(c2, 200), NQ_ETIMEDOUT);
        mq_forget(c2);
        nq_comm_free(c2);
        nqt_log_destroy(&log);
    }
    close_free(s, NQ_OK);
    free(sl);
}

/* QoS 2 against a broker restarted WITHOUT persistence mid-stream: it comes
 * back without our sessions and subscriptions (sessionPresent 0), and what
 * it had accepted and not yet delivered is gone with it, puts that had
 * completed included: no MQTT client can get that back (docs/mqtt.md), so
 * both sides say so at error level, as TCP's peers cannot either for bytes
 * a lost connection had taken (docs/protocol.md 6.1). What we guarantee and
 * check here: every put settles; those pending at the loss are sent again,
 * and every put that completed after the broker was back arrived; what the
 * server delivers is intact, in order, and only repeats (once) messages
 * that were pending at the loss; the client's close completes, in time.
 * Before: the client's fin after the restart was dropped as a "resend" of
 * its ini (the same 24 bytes, packet id 1 both times), the stream went on
 * mid-frame into a server that had lost its place (garbage, refused), and
 * close timed out. */
#define NP_N 3000
#define NP_SIZE 2006
#define NP_IDLE_MS 15000 /* > the client's ini retries (2 s + 4 s) after the server's 3 s */
static atomic_int np_status[NP_N];
static atomic_int np_phase[NP_N]; /* np_now when it completed */
static atomic_int np_now;         /* 0 before the restart, 1 once the broker is back */

static void np_done(void *user, nq_status st)
{
    atomic_store(&np_phase[(intptr_t)user], atomic_load(&np_now));
    atomic_store(&np_status[(intptr_t)user], (int)st + 1);
}

static int np_index(const nq_msg *m)
{
    const char *d = nq_msg_data(m);
    if (nq_msg_size(m) != NP_SIZE || d[0] != 'm')
        return -1;
    int i = atoi(d + 1);
    for (size_t k = 6; k < NP_SIZE; k++)
        if (d[k] != 'x')
            return -1;
    return i;
}

/* server_late_ms > 0: the broker comes back without the server's account
 * and gets it back (reloaded, sessions kept) that much later, so that the
 * client's new ini is published before the server subscribed again */
static void qos2_no_persistence(nqt_broker *b, int s2c, int restart_at, int down_ms,
                                int server_late_ms)
{
    static const char both[] = "nq-server:server-pw\nnq-client:client-pw\n";
    nqt_broker_cfg cfg = {.no_persistence = 1, .users = both};
    nqt_broker_start_cfg(b, &cfg);
    nq_options *so = acl_opts(b->port, 2, "nq-server", "server-pw");
    nq_options *co = acl_opts(b->port, 2, "nq-client", "client-pw");
    nqt_log clog;
    nqt_log_init(&clog);
    if (!getenv("NQT_DEBUG"))
        nqt_log_attach(co, &clog);
    if (getenv("NQT_DEBUG"))
        nq_options_set_log(co, NULL, NULL, NQ_LOG_DEBUG);
    struct mq_log *sl;
    nq_comm *s = mq_server(so, &sl); /* NQT_DEBUG=1: its log on stderr too */
    nq_comm *c = mq_new(co, NQ_CLIENT);
    uint8_t cid[16], sid[16];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    nqt_round_trip(s, c, "start");
    nq_comm *tx = s2c ? s : c, *rx = s2c ? c : s;
    const uint8_t *from = s2c ? sid : cid;
    char *payload = malloc(NP_SIZE);
    atomic_store(&np_now, 0);
    for (int i = 0; i < NP_N; i++) {
        atomic_store(&np_status[i], 0);
        atomic_store(&np_phase[i], 0);
    }
    static int pending_at_stop[NP_N];
    memset(pending_at_stop, 0, sizeof pending_at_stop);
    for (int i = 0; i < NP_N; i++) {
        snprintf(payload, NP_SIZE, "m%05d", i);
        memset(payload + 6, 'x', NP_SIZE - 6);
        assert_int_equal(nq_comm_put(tx, payload, NP_SIZE, s2c ? cid : NULL, s2c ? 1 : 0, np_done,
                                     (void *)(intptr_t)i), NQ_OK);
        if (i == restart_at) {
            nqt_sleep_ms(100); /* mid-stream: some delivered, some in the broker, some in flight */
            nqt_broker_stop(b);
            for (int k = 0; k < NP_N; k++)
                pending_at_stop[k] = atomic_load(&np_status[k]) == 0;
            nqt_sleep_ms(down_ms); /* both sides back off: who is back first varies */
            if (server_late_ms)
                nqt_broker_set_users(b, "nq-client:client-pw\n");
            nqt_broker_restart(b);
            atomic_store(&np_now, 1);
            if (server_late_ms) {
                nqt_sleep_ms(server_late_ms);
                nqt_broker_set_users(b, both);
            }
        }
    }
    free(payload);
    /* the client's close: every put settles, the fin exchange completes
     * (client to server: right away, while the stream still goes) */
    int64_t t0 = 0, close_ms = 0;
    nq_status cst = NQ_OK;
    if (!s2c) {
        t0 = nqt_now_ms();
        cst = nq_comm_close(c, NQT_LONG_MS);
        close_ms = nqt_now_ms() - t0;
    }
    /* what the server got: each message intact, in order; a message
     * pending at the loss may come a second time, on the new stream */
    int last = -1, got = 0, bad = 0, again = 0;
    static char seen[NP_N];
    memset(seen, 0, sizeof seen);
    for (;;) {
        /* Until every message came, wait out the recovery: a peer that
         * reconnected before the other subscribed again repeats its ini
         * after 2 s, then 4 s (mqtt_client.c), and nothing flows till
         * then. Once all came, a short wait for anything more (a repeat, a
         * stray). */
        nq_msg *m = NULL;
        if (nq_comm_get(rx, NULL, 0, got < NP_N ? NP_IDLE_MS : 500, &m) != NQ_OK)
            break;
        int i = np_index(m);
        if (getenv("NQT_DEBUG") && i != last + 1)
            fprintf(stderr, "server: got %d after %d\n", i, last);
        uint8_t peer[16];
        nq_msg_peer(m, peer);
        nq_msg_free(m);
        if (i >= 0 && i < NP_N && i <= last && seen[i] && pending_at_stop[i] && again++ < NP_N / 2) {
            last = i; /* the new stream resends from here */
            continue;
        }
        if (i < 0 || i >= NP_N || i <= last || memcmp(peer, from, 16) != 0) {
            if (bad++ < 5)
                print_message("server got a bad or out-of-order message (index %d after %d)\n", i, last);
            continue;
        }
        seen[i] = 1;
        last = i;
        got++;
    }
    if (s2c) {
        t0 = nqt_now_ms();
        cst = nq_comm_close(c, NQT_LONG_MS);
        close_ms = nqt_now_ms() - t0;
    }
    if (cst != NQ_OK)
        print_message("client close: %s (%s) after %lld ms\n", nq_strerror(cst), nq_last_error(),
                      (long long)close_ms);
    mq_forget(c);
    nq_comm_free(c);
    int ok = 0, failed = 0, pending = 0, lost_before = 0, lost_after = 0;
    for (int i = 0; i < NP_N; i++) {
        int st = atomic_load(&np_status[i]);
        if (st == 0)
            pending++;
        else if (st == NQ_OK + 1)
            ok++;
        else
            failed++;
        if (st == NQ_OK + 1 && !seen[i]) {
            if (atomic_load(&np_phase[i]) == 0) {
                lost_before++; /* accepted by the broker that lost it */
            } else if (lost_after++ < 5) {
                print_message("message %d: put completed OK after the restart, never arrived\n", i);
            }
        }
    }
    print_message("receiver got %d of %d (%d again); puts ok %d, failed %d, pending %d; completed "
                  "before the restart and lost with the broker %d, after it %d; bad %d; client "
                  "close %lld ms\n", got, NP_N, again, ok, failed, pending, lost_before, lost_after,
                  bad, (long long)close_ms);
    print_message("server log:\n%s", sl->text);
    nqt_log_print(&clog, "client");
    close_free(s, NQ_OK);
    free(sl);
    /* the client said why the stream started over */
    if (!getenv("NQT_DEBUG")) {
        pthread_mutex_lock(&clog.mu);
        int said = strstr(clog.text, "came back without our MQTT session") != NULL;
        int retried = strstr(clog.text, "no answer from the server to our ini") != NULL;
        pthread_mutex_unlock(&clog.mu);
        assert_true(said);
        if (server_late_ms)
            assert_true(retried);
    }
    nqt_log_destroy(&clog);
    assert_int_equal(bad, 0);
    assert_int_equal(lost_after, 0);
    assert_int_equal(pending, 0);
    assert_int_equal(failed, 0); /* sent again, not failed: the close had time */
    assert_int_equal(cst, NQ_OK);
    assert_true(close_ms < NQT_LONG_MS);
}

static void test_qos2_restart_no_persistence(void **state)
{
    qos2_no_persistence(*state, 0, NP_N / 3, 0, 0);
}

/* the same, server to client */
static void test_qos2_restart_no_persistence_s2c(void **state)
{
    qos2_no_persistence(*state, 1, NP_N / 3, 0, 0);
}

/* the same with the server back 3 s after the client: the client's new ini
 * is lost (nobody subscribed to c2s/+ yet), so it must send it again */
static void test_qos2_restart_no_persistence_server_late(void **state)
{
    qos2_no_persistence(*state, 0, NP_N / 2, 300, 3000);
}

/* the same, server to client: the server's answer to the client's second
 * ini, and all that follows it, must reach the client */
static void test_qos2_restart_no_persistence_s2c_server_late(void **state)
{
    qos2_no_persistence(*state, 1, NP_N / 2, 300, 3000);
}

#endif /* NQT_MQTT_FAULT */

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
        cmocka_unit_test_setup_teardown(test_reads_while_writes_stuck, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_publishing_refused, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_tls, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_auth, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_keepalive, mq_setup, mq_teardown),
    };
#ifdef NQT_MQTT_FAULT
    /* it_mqtt_fault (labels mqtt;fault): the same file, the fault tests */
    const struct CMUnitTest fault_tests[] = {
        cmocka_unit_test_setup_teardown(test_garbage_flood, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_acl_impersonation, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_acl_per_client_account, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_tls_client_cert, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_qos2_restart_no_persistence, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_qos2_restart_no_persistence_s2c, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_qos2_restart_no_persistence_server_late, mq_setup, mq_teardown),
        cmocka_unit_test_setup_teardown(test_qos2_restart_no_persistence_s2c_server_late, mq_setup, mq_teardown),
    };
    (void)tests;
#define tests fault_tests
#endif
    if (getenv("NQT_ONLY")) /* run one test by name pattern */
        cmocka_set_test_filter(getenv("NQT_ONLY"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
