/*
 * Asynchronous receive (abi/netqueue/receive.h) on one transport, named by
 * the first argument: tcp, tls, inproc, mqtt or grpc.
 *
 * On every transport: a round trip through each form (callback, future,
 * completion queue, readiness descriptor + poll), and peer events in order
 * with the data (connected before the first message, finished after the
 * last). On inproc and tcp the semantics: deadlines, peer filters, FIFO
 * among blocking and asynchronous receivers, cancellation racing
 * arrivals (every message exactly once, in order), close completing what
 * is pending, the descriptor's level. On inproc, lost and expired events
 * (nq_inproc_vanish, a short linger); on tls, refused (a plaintext client
 * against the TLS port).
 */
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nqtest.h"
#include "core/options_internal.h" /* linger_ms: short lingers for the expiry test */
#include "inproc/inproc.h"
#ifdef NQT_HAVE_MQTT
#include "mosquitto.h"
#endif

static const char *g_transport = "inproc";
static nqt_broker *g_broker; /* mqtt */

/* ---- communicators on the transport under test ---- */

static atomic_int g_subscribed;

static void sub_log(void *user, nq_log_level level, const char *line)
{
    (void)user;
    (void)level;
    if (strstr(line, "subscribed to c2s/+"))
        atomic_fetch_add(&g_subscribed, 1);
}

static nq_protocol protocol(void)
{
    if (!strcmp(g_transport, "inproc"))
        return NQ_INPROC;
    if (!strcmp(g_transport, "mqtt"))
        return NQ_MQTT;
    if (!strcmp(g_transport, "grpc"))
        return NQ_GRPC;
    return NQ_TCP;
}

static int is(const char *t)
{
    return !strcmp(g_transport, t);
}

static nq_comm *make(nq_options *o, nq_purpose purpose)
{
    nq_comm *c = NULL;
    nq_status st = nq_comm_new(&c, protocol(), purpose, o);
    if (st != NQ_OK)
        print_message("nq_comm_new(%s): %s: %s\n", g_transport, nq_strerror(st), nq_last_error());
    assert_int_equal(st, NQ_OK);
    nq_options_free(o);
    return c;
}

/* A server (subscribed, over MQTT); *port is what its clients dial. */
static nq_comm *server_ev(int *port, unsigned events, int64_t linger_ms)
{
    nq_options *o;
#ifdef NQT_HAVE_MQTT
    if (is("mqtt")) {
        o = nqt_opts(g_broker->port);
        int before = atomic_load(&g_subscribed);
        assert_int_equal(nq_options_set_log(o, sub_log, NULL, NQ_LOG_DEBUG), NQ_OK);
        assert_int_equal(nq_options_set_events(o, events), NQ_OK);
        nq_comm *s = make(o, NQ_SERVER);
        int64_t end = nqt_now_ms() + NQT_LONG_MS;
        while (atomic_load(&g_subscribed) == before && nqt_now_ms() < end)
            nqt_sleep_ms(5);
        assert_true(atomic_load(&g_subscribed) > before);
        *port = g_broker->port;
        return s;
    }
#endif
    o = is("tls") ? nqt_tls_server_opts(0, "server.pem", "server.key") : nqt_opts(0);
    assert_int_equal(nq_options_set_events(o, events), NQ_OK);
    if (linger_ms)
        ((struct nq_options *)o)->linger_ms = linger_ms;
    nq_comm *s = make(o, NQ_SERVER);
    assert_int_equal(nq_comm_port(s, port), NQ_OK);
    return s;
}

static nq_comm *server(int *port)
{
    return server_ev(port, 0, 0);
}

static nq_comm *client_ev(int port, unsigned events)
{
    nq_options *o = is("tls") ? nqt_tls_client_opts(port, "ca.pem") : nqt_opts(port);
    assert_int_equal(nq_options_set_events(o, events), NQ_OK);
    return make(o, NQ_CLIENT);
}

static nq_comm *client(int port)
{
    return client_ev(port, 0);
}

static void close_free(nq_comm *c)
{
    nq_status st = nq_comm_close(c, NQT_LONG_MS);
    if (st != NQ_OK)
        print_message("close: %s (%s)\n", nq_strerror(st), nq_last_error());
    assert_int_equal(st, NQ_OK);
    nq_comm_free(c);
}

static void check_msg(nq_msg *m, const char *text, const uint8_t *from)
{
    assert_non_null(m);
    assert_int_equal(nq_msg_kind_of(m), NQ_MSG_DATA);
    assert_int_equal(nq_msg_size(m), strlen(text));
    assert_memory_equal(nq_msg_data(m), text, strlen(text));
    if (from) {
        uint8_t id[NQ_ID_SIZE];
        assert_int_equal(nq_msg_peer(m, id), NQ_OK);
        assert_memory_equal(id, from, NQ_ID_SIZE);
    }
    nq_msg_free(m);
}

/* ---- a callback's result, waited for by the test thread ---- */

struct cb_box {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    nq_status st;
    nq_msg *msg;
    pthread_t thread;
};

static void box_init(struct cb_box *b)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
}

static void on_get(void *user, nq_status st, nq_msg *msg)
{
    struct cb_box *b = user;
    pthread_mutex_lock(&b->mu);
    b->calls++;
    b->st = st;
    if (msg && b->msg)
        nq_msg_free(b->msg);
    b->msg = msg;
    b->thread = pthread_self();
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* Wait for the callback; its status; the message into *msg. */
static nq_status box_wait(struct cb_box *b, nq_msg **msg)
{
    int64_t end = nqt_now_ms() + NQT_LONG_MS;
    pthread_mutex_lock(&b->mu);
    while (!b->calls && nqt_now_ms() < end) {
        pthread_mutex_unlock(&b->mu);
        nqt_sleep_ms(1);
        pthread_mutex_lock(&b->mu);
    }
    assert_int_equal(b->calls, 1);
    nq_status st = b->st;
    *msg = b->msg;
    b->msg = NULL;
    pthread_mutex_unlock(&b->mu);
    return st;
}

static void box_destroy(struct cb_box *b)
{
    nq_msg_free(b->msg);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

/* ---- every transport: the forms ---- */

static void test_callback(void **state)
{
    (void)state;
    int port;
    nq_comm *s = server(&port), *c = client(port);
    uint8_t cid[NQ_ID_SIZE], sid[NQ_ID_SIZE];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    struct cb_box b;
    box_init(&b);
    uint64_t id = 0;
    assert_int_equal(nq_comm_get_async(s, NULL, 0, NQ_FOREVER, on_get, &b, &id), NQ_OK);
    assert_true(id != 0);
    nqt_put_str(c, "to the server", NULL, 0);
    nq_msg *m;
    assert_int_equal(box_wait(&b, &m), NQ_OK);
    assert_false(pthread_equal(b.thread, pthread_self())); /* the I/O thread's */
    check_msg(m, "to the server", cid);
    box_destroy(&b);
    /* and back, to a callback of the client; a message already queued
     * is not delivered inside the call either */
    nqt_put_str(s, "to the client", cid, 1);
    box_init(&b);
    nqt_sleep_ms(50);
    assert_int_equal(nq_comm_get_async(c, NULL, 0, NQT_LONG_MS, on_get, &b, NULL), NQ_OK);
    assert_int_equal(box_wait(&b, &m), NQ_OK);
    assert_false(pthread_equal(b.thread, pthread_self()));
    check_msg(m, "to the client", sid);
    box_destroy(&b);
    close_free(c);
    close_free(s);
}

static void test_future(void **state)
{
    (void)state;
    int port;
    nq_comm *s = server(&port), *c = client(port);
    uint8_t cid[NQ_ID_SIZE];
    nqt_id_of(c, cid);
    nq_future *f = NULL;
    assert_int_equal(nq_comm_get_future(s, cid, 1, NQ_FOREVER, NULL, &f), NQ_OK);
    nq_msg *m = (nq_msg *)1;
    assert_int_equal(nq_future_take_msg(f, &m), NQ_ESTATE); /* not complete */
    assert_null(m);
    nqt_put_str(c, "future", NULL, 0);
    nq_status st = NQ_EIO;
    assert_int_equal(nq_future_wait(f, NQT_LONG_MS, &st), NQ_OK);
    assert_int_equal(st, NQ_OK);
    assert_int_equal(nq_future_take_msg(f, &m), NQ_OK);
    check_msg(m, "future", cid);
    assert_int_equal(nq_future_take_msg(f, &m), NQ_ESTATE); /* once only */
    nq_future_free(f);
    /* a future freed before completion keeps its message to itself */
    assert_int_equal(nq_comm_get_future(s, NULL, 0, NQT_LONG_MS, NULL, &f), NQ_OK);
    nq_future_free(f);
    nqt_put_str(c, "dropped with its future", NULL, 0);
    nqt_put_str(c, "next", NULL, 0);
    nqt_expect_str(s, "next", cid);
    /* a put's future has no message */
    assert_int_equal(nq_comm_put_future(c, "x", 1, NULL, 0, &f), NQ_OK);
    assert_int_equal(nq_future_wait(f, NQT_LONG_MS, &st), NQ_OK);
    assert_int_equal(nq_future_take_msg(f, &m), NQ_ESTATE);
    nq_future_free(f);
    nqt_expect_str(s, "x", cid);
    close_free(c);
    close_free(s);
}

static void test_cq(void **state)
{
    (void)state;
    int port;
    nq_comm *s = server(&port), *c = client(port);
    uint8_t cid[NQ_ID_SIZE];
    nqt_id_of(c, cid);
    nq_cq *cq;
    assert_int_equal(nq_cq_new(&cq), NQ_OK);
    assert_int_equal(nq_comm_get_cq(s, NULL, 0, NQ_FOREVER, cq, 41, NULL), NQ_OK);
    /* the client's put completes into the same queue: a mixed queue */
    assert_int_equal(nq_comm_put_cq(c, "cq", 2, NULL, 0, cq, 42), NQ_OK);
    int seen41 = 0, seen42 = 0;
    for (int i = 0; i < 2; i++) {
        uint64_t tag = 0;
        nq_status st = NQ_EIO;
        nq_msg *m = (nq_msg *)1;
        assert_int_equal(nq_cq_next_msg(cq, NQT_LONG_MS, &tag, &st, &m), NQ_OK);
        assert_int_equal(st, NQ_OK);
        if (tag == 41) {
            seen41++;
            check_msg(m, "cq", cid);
        } else {
            assert_int_equal(tag, 42);
            seen42++;
            assert_null(m); /* a put's completion */
        }
    }
    assert_int_equal(seen41, 1);
    assert_int_equal(seen42, 1);
    /* nq_cq_next on a receive: tag and status, the message freed */
    assert_int_equal(nq_comm_get_cq(s, NULL, 0, NQ_FOREVER, cq, 43, NULL), NQ_OK);
    nqt_put_str(c, "freed by nq_cq_next", NULL, 0);
    uint64_t tag = 0;
    nq_status st = NQ_EIO;
    assert_int_equal(nq_cq_next(cq, NQT_LONG_MS, &tag, &st), NQ_OK);
    assert_int_equal(tag, 43);
    assert_int_equal(st, NQ_OK);
    close_free(c);
    close_free(s);
    nq_cq_free(cq);
}

static int readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    assert_true(r >= 0);
    return r == 1 && (p.revents & POLLIN);
}

static void test_fd(void **state)
{
    (void)state;
    int port;
    nq_comm *s = server(&port), *c = client(port);
    uint8_t cid[NQ_ID_SIZE];
    nqt_id_of(c, cid);
    int fd = -1, fd2 = -2;
    assert_int_equal(nq_comm_fd(s, &fd), NQ_OK);
    assert_int_equal(nq_comm_fd(s, &fd2), NQ_OK);
    assert_int_equal(fd, fd2);
    assert_false(readable(fd, 0));
    nqt_put_str(c, "one", NULL, 0);
    nqt_put_str(c, "two", NULL, 0);
    assert_true(readable(fd, NQT_LONG_MS));
    /* level-triggered: still readable until drained */
    assert_true(readable(fd, 0));
    nq_msg *m = NULL;
    assert_int_equal(nq_comm_get(s, NULL, 0, 0, &m), NQ_OK);
    check_msg(m, "one", cid);
    int64_t end = nqt_now_ms() + NQT_LONG_MS; /* "two" may still be on its way */
    while (!readable(fd, 0) && nqt_now_ms() < end)
        nqt_sleep_ms(1);
    assert_true(readable(fd, 0));
    assert_int_equal(nq_comm_get(s, NULL, 0, NQT_LONG_MS, &m), NQ_OK);
    check_msg(m, "two", cid);
    assert_false(readable(fd, 0));
    assert_int_equal(nq_comm_get(s, NULL, 0, 0, &m), NQ_ETIMEDOUT);
    /* an asynchronous receive takes a message before it counts as queued */
    nq_future *f;
    assert_int_equal(nq_comm_get_future(s, NULL, 0, NQ_FOREVER, NULL, &f), NQ_OK);
    nqt_put_str(c, "three", NULL, 0);
    nq_status st;
    assert_int_equal(nq_future_wait(f, NQT_LONG_MS, &st), NQ_OK);
    assert_false(readable(fd, 0));
    nq_future_free(f);
    close_free(c);
    /* closed: readable for good (get says NQ_ECLOSED) */
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    assert_true(readable(fd, 0));
    assert_int_equal(nq_comm_get(s, NULL, 0, 0, &m), NQ_ECLOSED);
    nq_comm_free(s);
}

/* The next message must be of kind k from `from` (NULL: any). */
static nq_msg *expect_kind(nq_comm *c, nq_msg_kind k, const uint8_t *from)
{
    nq_msg *m = NULL;
    nq_status st = nq_comm_get(c, NULL, 0, NQT_LONG_MS, &m);
    if (st != NQ_OK)
        print_message("waiting for kind %d: %s\n", (int)k, nq_strerror(st));
    assert_int_equal(st, NQ_OK);
    if (nq_msg_kind_of(m) != k)
        print_message("kind %d (%s), wanted %d\n", (int)nq_msg_kind_of(m), nq_msg_event_detail(m),
                      (int)k);
    assert_int_equal(nq_msg_kind_of(m), k);
    if (from) {
        uint8_t id[NQ_ID_SIZE];
        assert_int_equal(nq_msg_peer(m, id), NQ_OK);
        assert_memory_equal(id, from, NQ_ID_SIZE);
    }
    return m;
}

static void test_events_in_order(void **state)
{
    (void)state;
    int port;
    nq_comm *s = server_ev(&port, NQ_EVENTS_ALL, 0);
    nq_comm *c = client_ev(port, NQ_EVENTS_ALL);
    uint8_t cid[NQ_ID_SIZE], sid[NQ_ID_SIZE];
    nqt_id_of(c, cid);
    nqt_id_of(s, sid);
    nqt_put_str(c, "a", NULL, 0);
    nqt_put_str(c, "b", NULL, 0);
    assert_int_equal(nq_comm_close(c, NQT_LONG_MS), NQ_OK);
    nq_msg *m = expect_kind(s, NQ_EVENT_CONNECTED, cid);
    assert_int_equal(nq_msg_size(m), 0);
    nq_msg_free(m);
    check_msg(expect_kind(s, NQ_MSG_DATA, cid), "a", cid);
    check_msg(expect_kind(s, NQ_MSG_DATA, cid), "b", cid);
    nq_msg_free(expect_kind(s, NQ_EVENT_FINISHED, cid));
    nqt_expect_none(s, NQT_SHORT_MS);
    /* the client saw its server connect, then finish */
    nq_msg_free(expect_kind(c, NQ_EVENT_CONNECTED, sid));
    nq_msg_free(expect_kind(c, NQ_EVENT_FINISHED, sid));
    nq_comm_free(c);
    /* events reach the asynchronous forms too */
    c = client_ev(port, NQ_EVENTS_ALL);
    nqt_id_of(c, cid);
    nq_future *f;
    assert_int_equal(nq_comm_get_future(s, cid, 1, NQ_FOREVER, NULL, &f), NQ_OK);
    nq_status st;
    assert_int_equal(nq_future_wait(f, NQT_LONG_MS, &st), NQ_OK);
    assert_int_equal(nq_future_take_msg(f, &m), NQ_OK);
    assert_int_equal(nq_msg_kind_of(m), NQ_EVENT_CONNECTED);
    nq_msg_free(m);
    nq_future_free(f);
    close_free(c);
    nq_msg_free(expect_kind(s, NQ_EVENT_FINISHED, cid));
    close_free(s);
    /* only event kinds make a mask */
    nq_options *o = nqt_opts(0);
    assert_int_equal(nq_options_set_events(o, 1u << 20), NQ_EINVAL);
    assert_int_equal(nq_options_set_events(o, NQ_EVENT_BIT(NQ_MSG_DATA)), NQ_EINVAL);
    assert_int_equal(nq_options_set_events(NULL, 0), NQ_EINVAL);
    nq_options_free(o);
    /* without the option: no events, as before 1.2 */
    s = server(&port);
    c = client(port);
    nqt_id_of(c, cid);
    nqt_round_trip(s, c, "plain");
    close_free(c);
    nqt_expect_none(s, NQT_SHORT_MS);
    close_free(s);
}

/* Events apart from data (1.3): an events-only receive stays pending
 * from before the client comes; it hears the peer arrive while nobody
 * gets data, data-only gets never see an event, and the FINISHED event
 * reaches the listener while data is still queued. */
static void test_events_apart(void **state)
{
    (void)state;
    enum { N = 500 };
    int port;
    nq_comm *s = server_ev(&port, NQ_EVENTS_ALL, 0);
    struct cb_box ev;
    box_init(&ev);
    assert_int_equal(nq_comm_get_kinds_async(s, NQ_KINDS_EVENTS, NULL, 0, NQ_FOREVER, on_get,
                                             &ev, NULL),
                     NQ_OK);
    nq_comm *c = client_ev(port, 0);
    uint8_t cid[NQ_ID_SIZE];
    nqt_id_of(c, cid);
    nq_msg *m = NULL;
    assert_int_equal(box_wait(&ev, &m), NQ_OK);
    assert_int_equal(nq_msg_kind_of(m), NQ_EVENT_CONNECTED);
    uint8_t id[NQ_ID_SIZE];
    assert_int_equal(nq_msg_peer(m, id), NQ_OK);
    assert_memory_equal(id, cid, NQ_ID_SIZE);
    nq_msg_free(m);
    /* the next event through a completion queue this time */
    nq_cq *cq;
    assert_int_equal(nq_cq_new(&cq), NQ_OK);
    assert_int_equal(nq_comm_get_kinds_cq(s, NQ_KINDS_EVENTS, NULL, 0, NQ_FOREVER, cq, 7, NULL),
                     NQ_OK);
    char text[32];
    for (int i = 0; i < N; i++) {
        snprintf(text, sizeof text, "m%d", i);
        nqt_put_str(c, text, NULL, 0);
    }
    assert_int_equal(nq_comm_close(c, NQT_LONG_MS), NQ_OK);
    nq_comm_free(c);
    /* FINISHED comes to the listener though all N messages are queued */
    uint64_t tag = 0;
    nq_status st = NQ_EIO;
    assert_int_equal(nq_cq_next_msg(cq, NQT_LONG_MS, &tag, &st, &m), NQ_OK);
    assert_int_equal(tag, 7);
    assert_int_equal(st, NQ_OK);
    assert_int_equal(nq_msg_kind_of(m), NQ_EVENT_FINISHED);
    nq_msg_free(m);
    /* an events-only poll finds nothing more; data comes whole and in order */
    assert_int_equal(nq_comm_get_kinds(s, NQ_KINDS_EVENTS, NULL, 0, 0, &m), NQ_ETIMEDOUT);
    for (int i = 0; i < N; i++) {
        snprintf(text, sizeof text, "m%d", i);
        assert_int_equal(nq_comm_get_kinds(s, NQ_KINDS_DATA, cid, 1, NQT_LONG_MS, &m), NQ_OK);
        check_msg(m, text, cid);
    }
    nqt_expect_none(s, NQT_SHORT_MS);
    /* a mask that matches nothing is refused */
    assert_int_equal(nq_comm_get_kinds(s, 0, NULL, 0, 0, &m), NQ_EINVAL);
    assert_int_equal(nq_comm_get_kinds_async(s, 0, NULL, 0, 0, on_get, &ev, NULL), NQ_EINVAL);
    nq_future *f = NULL;
    assert_int_equal(nq_comm_get_kinds_future(s, 0, NULL, 0, 0, NULL, &f), NQ_EINVAL);
    assert_null(f);
    assert_int_equal(nq_comm_get_kinds_cq(s, 0, NULL, 0, 0, cq, 1, NULL), NQ_EINVAL);
    /* a data-only future passes over a queued event */
    c = client_ev(port, 0);
    nqt_id_of(c, cid);
    nqt_put_str(c, "after", NULL, 0);
    assert_int_equal(nq_comm_get_kinds_future(s, NQ_KINDS_DATA, NULL, 0, NQT_LONG_MS, NULL, &f),
                     NQ_OK);
    assert_int_equal(nq_future_wait(f, NQT_LONG_MS, &st), NQ_OK);
    assert_int_equal(st, NQ_OK);
    assert_int_equal(nq_future_take_msg(f, &m), NQ_OK);
    check_msg(m, "after", cid);
    nq_future_free(f);
    /* a batch: what is queued, in order, in one call */
    for (int i = 0; i < 5; i++) {
        snprintf(text, sizeof text, "b%d", i);
        nqt_put_str(c, text, NULL, 0);
    }
    nq_msg *batch[8];
    size_t got = 0, total = 0;
    while (total < 5) {
        assert_int_equal(nq_comm_get_batch(s, NQ_KINDS_DATA, cid, 1, NQT_LONG_MS,
                                           batch, 8, &got), NQ_OK);
        assert_true(got >= 1 && got <= 5 - total);
        for (size_t k = 0; k < got; k++, total++) {
            snprintf(text, sizeof text, "b%zu", total);
            check_msg(batch[k], text, cid);
        }
    }
    assert_int_equal(nq_comm_get_batch(s, NQ_KINDS_DATA, NULL, 0, 0, batch, 8, &got),
                     NQ_ETIMEDOUT);
    assert_int_equal(got, 0);
    assert_int_equal(nq_comm_get_batch(s, NQ_KINDS_DATA, NULL, 0, 0, batch, 0, &got), NQ_EINVAL);
    assert_int_equal(nq_comm_get_kinds(s, NQ_KINDS_EVENTS, cid, 1, NQT_LONG_MS, &m), NQ_OK);
    assert_int_equal(nq_msg_kind_of(m), NQ_EVENT_CONNECTED);
    nq_msg_free(m);
    close_free(c);
    close_free(s);
    nq_cq_free(cq);
    box_destroy(&ev);
}

/* ---- semantics (inproc, tcp) ---- */

static void test_deadline(void **state)
{
    (void)state;
    int port;
    nq_comm *s = server(&port);
    nq_future *f;
    int64_t t0 = nqt_now_ms();
    assert_int_equal(nq_comm_get_future(s, NULL, 0, 150, NULL, &f), NQ_OK);
    nq_status st = NQ_OK;
    assert_int_equal(nq_future_wait(f, NQT_LONG_MS, &st), NQ_OK);
    int64_t took = nqt_now_ms() - t0;
    assert_int_equal(st, NQ_ETIMEDOUT);
    assert_true(took >= 140 && took < 5000);
    nq_future_free(f);
    /* an earlier deadline after a later one still fires on time */
    struct cb_box late, early;
    box_init(&late);
    box_init(&early);
    assert_int_equal(nq_comm_get_async(s, NULL, 0, 3000, on_get, &late, NULL), NQ_OK);
    t0 = nqt_now_ms();
    assert_int_equal(nq_comm_get_async(s, NULL, 0, 100, on_get, &early, NULL), NQ_OK);
    nq_msg *m;
    assert_int_equal(box_wait(&early, &m), NQ_ETIMEDOUT);
    assert_null(m);
    took = nqt_now_ms() - t0;
    assert_true(took >= 90 && took < 2000);
    assert_int_equal(late.calls, 0);
    /* timeout 0 polls: NQ_ETIMEDOUT through the callback, not inside the call */
    struct cb_box poll0;
    box_init(&poll0);
    assert_int_equal(nq_comm_get_async(s, NULL, 0, 0, on_get, &poll0, NULL), NQ_OK);
    assert_int_equal(box_wait(&poll0, &m), NQ_ETIMEDOUT);
    assert_false(pthread_equal(poll0.thread, pthread_self()));
    /* a cq receive's deadline */
    nq_cq *cq;
    assert_int_equal(nq_cq_new(&cq), NQ_OK);
    assert_int_equal(nq_comm_get_cq(s, NULL, 0, 50, cq, 5, NULL), NQ_OK);
    uint64_t tag;
    assert_int_equal(nq_cq_next_msg(cq, NQT_LONG_MS, &tag, &st, &m), NQ_OK);
    assert_int_equal(tag, 5);
    assert_int_equal(st, NQ_ETIMEDOUT);
    assert_null(m);
    assert_int_equal(box_wait(&late, &m), NQ_ETIMEDOUT);
    close_free(s);
    nq_cq_free(cq);
    box_destroy(&late);
    box_destroy(&early);
    box_destroy(&poll0);
}

static void test_filters(void **state)
{
    (void)state;
    int port;
    nq_comm *s = server(&port), *c1 = client(port), *c2 = client(port);
    uint8_t id1[NQ_ID_SIZE], id2[NQ_ID_SIZE];
    nqt_id_of(c1, id1);
    nqt_id_of(c2, id2);
    assert_int_equal(nqt_wait_npeers(s, 2, NQT_LONG_MS), 2);
    nq_future *f2;
    assert_int_equal(nq_comm_get_future(s, id2, 1, NQ_FOREVER, NULL, &f2), NQ_OK);
    nqt_put_str(c1, "from one", NULL, 0);
    nqt_sleep_ms(NQT_SHORT_MS);
    assert_false(nq_future_done(f2)); /* not for it */
    nqt_put_str(c2, "from two", NULL, 0);
    nq_status st;
    assert_int_equal(nq_future_wait(f2, NQT_LONG_MS, &st), NQ_OK);
    nq_msg *m;
    assert_int_equal(nq_future_take_msg(f2, &m), NQ_OK);
    check_msg(m, "from two", id2);
    nq_future_free(f2);
    nqt_expect_str(s, "from one", id1); /* it stayed queued */
    /* two ids in one filter */
    uint8_t both[2 * NQ_ID_SIZE];
    memcpy(both, id1, NQ_ID_SIZE);
    memcpy(both + NQ_ID_SIZE, id2, NQ_ID_SIZE);
    struct cb_box b;
    box_init(&b);
    assert_int_equal(nq_comm_get_async(s, both, 2, NQ_FOREVER, on_get, &b, NULL), NQ_OK);
    nqt_put_str(c1, "either", NULL, 0);
    assert_int_equal(box_wait(&b, &m), NQ_OK);
    check_msg(m, "either", id1);
    box_destroy(&b);
    assert_int_equal(nq_comm_get_async(s, NULL, 1, 0, on_get, &b, NULL), NQ_EINVAL);
    assert_int_equal(nq_comm_get_async(s, NULL, 0, 0, NULL, NULL, NULL), NQ_EINVAL);
    close_free(c1);
    close_free(c2);
    close_free(s);
}

struct blocker {
    nq_comm *c;
    pthread_t t;
    nq_msg *m;
    nq_status st;
};

static void *blocking_get(void *arg)
{
    struct blocker *b = arg;
    b->st = nq_comm_get(b->c, NULL, 0, NQT_LONG_MS, &b->m);
    return NULL;
}

static const char *text_of(nq_msg *m, char *buf)
{
    snprintf(buf, 32, "%.*s", (int)nq_msg_size(m), (const char *)nq_msg_data(m));
    return buf;
}

static void test_fifo_mixed(void **state)
{
    (void)state;
    int port;
    nq_comm *s = server(&port), *c = client(port);
    nqt_round_trip(s, c, "ready");
    /* blocking, async, blocking, async: in that order */
    struct blocker b1 = {.c = s}, b2 = {.c = s};
    nq_future *a1, *a2;
    pthread_create(&b1.t, NULL, blocking_get, &b1);
    nqt_sleep_ms(100);
    assert_int_equal(nq_comm_get_future(s, NULL, 0, NQ_FOREVER, NULL, &a1), NQ_OK);
    pthread_create(&b2.t, NULL, blocking_get, &b2);
    nqt_sleep_ms(100);
    assert_int_equal(nq_comm_get_future(s, NULL, 0, NQ_FOREVER, NULL, &a2), NQ_OK);
    for (int i = 0; i < 4; i++) {
        char t[8];
        snprintf(t, sizeof t, "m%d", i);
        nqt_put_str(c, t, NULL, 0);
    }
    pthread_join(b1.t, NULL);
    pthread_join(b2.t, NULL);
    nq_status st;
    nq_msg *m1, *m3;
    assert_int_equal(nq_future_wait(a1, NQT_LONG_MS, &st), NQ_OK);
    assert_int_equal(nq_future_wait(a2, NQT_LONG_MS, &st), NQ_OK);
    assert_int_equal(nq_future_take_msg(a1, &m1), NQ_OK);
    assert_int_equal(nq_future_take_msg(a2, &m3), NQ_OK);
    assert_int_equal(b1.st, NQ_OK);
    assert_int_equal(b2.st, NQ_OK);
    char buf[4][32];
    print_message("served: %s %s %s %s\n", text_of(b1.m, buf[0]), text_of(m1, buf[1]),
                  text_of(b2.m, buf[2]), text_of(m3, buf[3]));
    check_msg(b1.m, "m0", NULL);
    check_msg(m1, "m1", NULL);
    check_msg(b2.m, "m2", NULL);
    check_msg(m3, "m3", NULL);
    nq_future_free(a1);
    nq_future_free(a2);
    close_free(c);
    close_free(s);
}

/* Many receives, half of them cancelled at once, racing the arrivals of
 * numbered messages: each message is received exactly once, in order. */
#define RACE_N 3000

struct race {
    atomic_int next;    /* the number the next message must carry */
    atomic_int got;     /* messages received */
    atomic_int bad;     /* out of order or duplicated */
    atomic_int canceled;
    atomic_int too_late;
};

static void race_check(struct race *r, nq_msg *m)
{
    int n = -1;
    assert_int_equal(nq_msg_size(m), sizeof n);
    memcpy(&n, nq_msg_data(m), sizeof n);
    if (n != atomic_load(&r->next))
        atomic_fetch_add(&r->bad, 1);
    atomic_store(&r->next, n + 1);
    atomic_fetch_add(&r->got, 1);
    nq_msg_free(m);
}

struct race_cb {
    struct race *r;
    atomic_int done;
};

static void race_on_get(void *user, nq_status st, nq_msg *msg)
{
    struct race_cb *rc = user;
    if (st == NQ_OK)
        race_check(rc->r, msg);
    else if (st != NQ_ECANCELED)
        atomic_fetch_add(&rc->r->bad, 1);
    atomic_fetch_add(&rc->done, 1);
}

static void *race_sender(void *arg)
{
    nq_comm *c = arg;
    for (int i = 0; i < RACE_N; i++) {
        while (nq_comm_put(c, &i, sizeof i, NULL, 0, NULL, NULL) != NQ_OK)
            nqt_sleep_ms(1);
        if (i % 64 == 0)
            nqt_sleep_ms(1); /* let receives and arrivals interleave */
    }
    return NULL;
}

static void test_cancel_race(void **state)
{
    (void)state;
    int port;
    nq_comm *s = server(&port), *c = client(port);
    nqt_round_trip(s, c, "ready");
    nq_cq *cq;
    assert_int_equal(nq_cq_new(&cq), NQ_OK);
    struct race r = {0};
    pthread_t t;
    pthread_create(&t, NULL, race_sender, c);
    int64_t end = nqt_now_ms() + 4 * NQT_LONG_MS;
    for (unsigned i = 0; atomic_load(&r.got) < RACE_N && nqt_now_ms() < end; i++) {
        uint64_t id;
        nq_status st;
        int cancel = i % 2 == 0;
        switch (i % 3) {
        case 0: { /* future */
            nq_future *f;
            assert_int_equal(nq_comm_get_future(s, NULL, 0, NQ_FOREVER, &id, &f), NQ_OK);
            if (cancel) {
                nq_status cs = nq_comm_get_cancel(s, id);
                atomic_fetch_add(cs == NQ_OK ? &r.canceled : &r.too_late, 1);
            }
            assert_int_equal(nq_future_wait(f, NQT_LONG_MS, &st), NQ_OK);
            if (st == NQ_OK) {
                nq_msg *m;
                assert_int_equal(nq_future_take_msg(f, &m), NQ_OK);
                race_check(&r, m);
            } else {
                assert_int_equal(st, NQ_ECANCELED);
                assert_true(cancel);
            }
            nq_future_free(f);
            break;
        }
        case 1: { /* completion queue */
            assert_int_equal(nq_comm_get_cq(s, NULL, 0, NQ_FOREVER, cq, i, &id), NQ_OK);
            if (cancel) {
                nq_status cs = nq_comm_get_cancel(s, id);
                atomic_fetch_add(cs == NQ_OK ? &r.canceled : &r.too_late, 1);
            }
            uint64_t tag;
            nq_msg *m;
            assert_int_equal(nq_cq_next_msg(cq, NQT_LONG_MS, &tag, &st, &m), NQ_OK);
            assert_int_equal(tag, i);
            if (st == NQ_OK)
                race_check(&r, m);
            else
                assert_int_equal(st, NQ_ECANCELED);
            break;
        }
        default: { /* callback */
            struct race_cb rc = {.r = &r};
            assert_int_equal(nq_comm_get_async(s, NULL, 0, NQ_FOREVER, race_on_get, &rc, &id),
                             NQ_OK);
            if (cancel) {
                nq_status cs = nq_comm_get_cancel(s, id);
                atomic_fetch_add(cs == NQ_OK ? &r.canceled : &r.too_late, 1);
            }
            int64_t e = nqt_now_ms() + NQT_LONG_MS;
            while (!atomic_load(&rc.done) && nqt_now_ms() < e)
                sched_yield();
            assert_int_equal(atomic_load(&rc.done), 1);
            break;
        }
        }
        if (i % 5 == 4) { /* a blocking get in the mix */
            nq_msg *m;
            if (nq_comm_get(s, NULL, 0, 0, &m) == NQ_OK)
                race_check(&r, m);
        }
    }
    pthread_join(t, NULL);
    print_message("%d received, %d cancelled, %d too late to cancel\n", atomic_load(&r.got),
                  atomic_load(&r.canceled), atomic_load(&r.too_late));
    assert_int_equal(atomic_load(&r.got), RACE_N);
    assert_int_equal(atomic_load(&r.bad), 0);
    assert_true(atomic_load(&r.canceled) > 0);
    nqt_expect_none(s, NQT_SHORT_MS); /* nothing twice */
    close_free(c);
    close_free(s);
    nq_cq_free(cq);
}

static void test_cancel_semantics(void **state)
{
    (void)state;
    int port;
    nq_comm *s = server(&port), *c = client(port);
    uint8_t cid[NQ_ID_SIZE];
    nqt_id_of(c, cid);
    struct cb_box b;
    box_init(&b);
    uint64_t id;
    assert_int_equal(nq_comm_get_async(s, NULL, 0, NQ_FOREVER, on_get, &b, &id), NQ_OK);
    assert_int_equal(nq_comm_get_cancel(s, id), NQ_OK);
    nq_msg *m;
    assert_int_equal(box_wait(&b, &m), NQ_ECANCELED);
    assert_null(m);
    assert_int_equal(nq_comm_get_cancel(s, id), NQ_ESTATE); /* once */
    nqt_sleep_ms(50);
    assert_int_equal(b.calls, 1);
    box_destroy(&b);
    /* a completed receive cannot be cancelled: its message is delivered */
    nq_future *f;
    assert_int_equal(nq_comm_get_future(s, NULL, 0, NQ_FOREVER, &id, &f), NQ_OK);
    nqt_put_str(c, "kept", NULL, 0);
    nq_status st;
    assert_int_equal(nq_future_wait(f, NQT_LONG_MS, &st), NQ_OK);
    assert_int_equal(nq_comm_get_cancel(s, id), NQ_ESTATE);
    assert_int_equal(nq_future_take_msg(f, &m), NQ_OK);
    check_msg(m, "kept", cid);
    nq_future_free(f);
    assert_int_equal(nq_comm_get_cancel(s, 987654321), NQ_ESTATE);
    close_free(c);
    close_free(s);
}

static void test_close_completes(void **state)
{
    (void)state;
    int port;
    nq_comm *s = server(&port), *c = client(port);
    uint8_t cid[NQ_ID_SIZE];
    nqt_id_of(c, cid);
    struct cb_box b;
    box_init(&b);
    nq_future *f;
    nq_cq *cq;
    assert_int_equal(nq_cq_new(&cq), NQ_OK);
    assert_int_equal(nq_comm_get_async(s, cid, 1, NQ_FOREVER, on_get, &b, NULL), NQ_OK);
    assert_int_equal(nq_comm_get_future(s, cid, 1, NQ_FOREVER, NULL, &f), NQ_OK);
    assert_int_equal(nq_comm_get_cq(s, cid, 1, NQ_FOREVER, cq, 9, NULL), NQ_OK);
    close_free(c);
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    nq_msg *m;
    assert_int_equal(box_wait(&b, &m), NQ_ECLOSED);
    nq_status st;
    assert_int_equal(nq_future_wait(f, 0, &st), NQ_OK);
    assert_int_equal(st, NQ_ECLOSED);
    uint64_t tag;
    assert_int_equal(nq_cq_next_msg(cq, 0, &tag, &st, &m), NQ_OK);
    assert_int_equal(st, NQ_ECLOSED);
    nq_future_free(f);
    /* after close: callbacks refused, the other forms complete at once */
    box_destroy(&b);
    box_init(&b);
    assert_int_equal(nq_comm_get_async(s, NULL, 0, NQ_FOREVER, on_get, &b, NULL), NQ_ECLOSED);
    assert_int_equal(nq_comm_get_future(s, NULL, 0, NQ_FOREVER, NULL, &f), NQ_OK);
    assert_int_equal(nq_future_wait(f, 0, &st), NQ_OK);
    assert_int_equal(st, NQ_ECLOSED);
    nq_future_free(f);
    nq_comm_free(s);
    assert_int_equal(b.calls, 0);
    box_destroy(&b);
    nq_cq_free(cq);
    /* queued messages still go to receives after close */
    s = server(&port);
    c = client(port);
    nqt_put_str(c, "left over", NULL, 0);
    close_free(c);
    assert_int_equal(nq_comm_close(s, NQT_LONG_MS), NQ_OK);
    assert_int_equal(nq_comm_get_future(s, NULL, 0, NQ_FOREVER, NULL, &f), NQ_OK);
    assert_int_equal(nq_future_wait(f, 0, &st), NQ_OK);
    assert_int_equal(st, NQ_OK);
    assert_int_equal(nq_future_take_msg(f, &m), NQ_OK);
    check_msg(m, "left over", NULL);
    nq_future_free(f);
    /* a pending one freed with the communicator: completes, nothing leaks */
    nq_comm_free(s);
}

/* A callback that asks for the next message from inside itself. */
struct chain {
    nq_comm *c;
    atomic_int n;
    int want;
    atomic_int depth, max_depth;
};

static void chain_on_get(void *user, nq_status st, nq_msg *msg)
{
    struct chain *ch = user;
    int d = atomic_fetch_add(&ch->depth, 1) + 1;
    if (d > atomic_load(&ch->max_depth))
        atomic_store(&ch->max_depth, d);
    if (st == NQ_OK) {
        nq_msg_free(msg);
        if (atomic_fetch_add(&ch->n, 1) + 1 < ch->want)
            assert_int_equal(nq_comm_get_async(ch->c, NULL, 0, NQ_FOREVER, chain_on_get, ch, NULL),
                             NQ_OK);
    }
    atomic_fetch_sub(&ch->depth, 1);
}

static void test_chained_callbacks(void **state)
{
    (void)state;
    int port;
    nq_comm *s = server(&port), *c = client(port);
    for (int i = 0; i < 500; i++)
        nqt_put_str(c, "queued", NULL, 0);
    nqt_sleep_ms(100); /* most of them queued before the first receive */
    struct chain ch = {.c = s, .want = 500};
    assert_int_equal(nq_comm_get_async(s, NULL, 0, NQ_FOREVER, chain_on_get, &ch, NULL), NQ_OK);
    int64_t end = nqt_now_ms() + NQT_LONG_MS;
    while (atomic_load(&ch.n) < ch.want && nqt_now_ms() < end)
        nqt_sleep_ms(1);
    assert_int_equal(atomic_load(&ch.n), ch.want);
    assert_int_equal(atomic_load(&ch.max_depth), 1); /* never re-entered */
    close_free(c);
    close_free(s);
}

/* ---- events that need faults ---- */

static void test_events_lost_expired(void **state)
{
    (void)state;
    int port;
    nq_comm *s = server_ev(&port, NQ_EVENTS_ALL, 300);
    nq_comm *c = client(port);
    uint8_t cid[NQ_ID_SIZE];
    nqt_id_of(c, cid);
    nqt_put_str(c, "last words", NULL, 0);
    nq_msg_free(expect_kind(s, NQ_EVENT_CONNECTED, cid));
    check_msg(expect_kind(s, NQ_MSG_DATA, cid), "last words", cid);
    nq_inproc_vanish(c);
    nq_msg *m = expect_kind(s, NQ_EVENT_LOST, cid);
    assert_true(strlen(nq_msg_event_detail(m)) > 0);
    nq_msg_free(m);
    m = expect_kind(s, NQ_EVENT_EXPIRED, cid);
    print_message("expired: %s\n", nq_msg_event_detail(m));
    nq_msg_free(m);
    nq_comm_free(c);
    /* a cut link: lost, then connected again when the client comes back */
    c = client(port);
    nqt_id_of(c, cid);
    /* once the server's ini is in, what is written is delivered: a put
     * written before it would be sent again after the cut (at least once) */
    assert_int_equal(nqt_wait_npeers(c, 1, NQT_LONG_MS), 1);
    nqt_put_str(c, "before", NULL, 0);
    nq_msg_free(expect_kind(s, NQ_EVENT_CONNECTED, cid));
    check_msg(expect_kind(s, NQ_MSG_DATA, cid), "before", cid);
    nq_inproc_cut(c);
    nq_msg_free(expect_kind(s, NQ_EVENT_LOST, cid));
    nq_msg_free(expect_kind(s, NQ_EVENT_CONNECTED, cid));
    nqt_put_str(c, "after", NULL, 0);
    check_msg(expect_kind(s, NQ_MSG_DATA, cid), "after", cid);
    close_free(c);
    nq_msg_free(expect_kind(s, NQ_EVENT_FINISHED, cid));
    close_free(s);
}

static void test_events_refused(void **state)
{
    (void)state;
    int port;
    nq_comm *s = server_ev(&port, NQ_EVENTS_ALL, 0);
    nq_options *o = nqt_opts(port); /* plaintext against the TLS port */
    nq_comm *c = make(o, NQ_CLIENT);
    nq_msg *m = expect_kind(s, NQ_EVENT_REFUSED, NULL);
    uint8_t id[NQ_ID_SIZE], zero[NQ_ID_SIZE] = {0};
    assert_int_equal(nq_msg_peer(m, id), NQ_OK);
    assert_memory_equal(id, zero, NQ_ID_SIZE);
    print_message("refused: %s\n", nq_msg_event_detail(m));
    assert_non_null(strstr(nq_msg_event_detail(m), "TLS"));
    nq_msg_free(m);
    nq_comm_free(c);
    nq_comm_free(s);
}

static int setup_broker(void **state)
{
    (void)state;
#ifdef NQT_HAVE_MQTT
    if (is("mqtt")) {
        g_broker = calloc(1, sizeof *g_broker);
        nqt_broker_start(g_broker, 0, 0);
    }
#endif
    return 0;
}

static int teardown_broker(void **state)
{
    (void)state;
#ifdef NQT_HAVE_MQTT
    if (g_broker) {
        nqt_broker_destroy(g_broker);
        free(g_broker);
        g_broker = NULL;
    }
#endif
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        g_transport = argv[1];
    if (!is("tcp") && !is("tls") && !is("inproc") && !is("mqtt") && !is("grpc")) {
        fprintf(stderr, "usage: %s tcp|tls|inproc|mqtt|grpc\n", argv[0]);
        return 2;
    }
#ifndef NQT_HAVE_MQTT
    if (is("mqtt")) {
        fprintf(stderr, "this build has no MQTT test support\n");
        return 1;
    }
#endif
    const struct CMUnitTest forms[] = {
        cmocka_unit_test(test_callback),
        cmocka_unit_test(test_future),
        cmocka_unit_test(test_cq),
        cmocka_unit_test(test_fd),
        cmocka_unit_test(test_events_in_order),
        cmocka_unit_test(test_events_apart),
    };
    const struct CMUnitTest semantics[] = {
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_fifo_mixed),
        cmocka_unit_test(test_cancel_semantics),
        cmocka_unit_test(test_cancel_race),
        cmocka_unit_test(test_close_completes),
        cmocka_unit_test(test_chained_callbacks),
    };
    const struct CMUnitTest inproc_faults[] = {
        cmocka_unit_test(test_events_lost_expired),
    };
    const struct CMUnitTest tls_faults[] = {
        cmocka_unit_test(test_events_refused),
    };
    int fails = _cmocka_run_group_tests(g_transport, forms, sizeof forms / sizeof *forms,
                                        setup_broker, teardown_broker);
    if (is("inproc") || is("tcp"))
        fails += cmocka_run_group_tests_name("semantics", semantics, NULL, NULL);
    if (is("inproc"))
        fails += cmocka_run_group_tests_name("faults", inproc_faults, NULL, NULL);
    if (is("tls"))
        fails += cmocka_run_group_tests_name("faults", tls_faults, NULL, NULL);
    return fails ? 1 : 0;
}
