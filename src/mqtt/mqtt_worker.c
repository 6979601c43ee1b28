/* The one thread of ours that calls paho (connect, subscribe, send).
 *
 * Why not the loop thread: paho 1.3 runs messageArrived with its global
 * mutex held, and every MQTTAsync_* call takes that mutex. Our
 * messageArrived waits while the inbox is over its budget (back-pressure),
 * and only the loop thread drains the inbox. A loop thread that called
 * MQTTAsync_send then waited for the mutex held by the waiting receive
 * thread: both sides putting big QoS 1 messages at once hung for good
 * (test_qos1_two_way_bulk). Now the loop thread only queues jobs here and
 * never waits for paho; this thread may wait for paho's mutex, which the
 * receive thread gives back once the loop thread drained the inbox.
 *
 * Paho 1.3.12 finishes a publish that did not fit in the socket buffer
 * only when its receive thread cycles, and a cycle that finds no socket
 * ready sleeps 100 ms (after a poll for input of up to 1 s): a QoS 0
 * sender, which gets nothing back, stalled ~1.1 s at every full socket
 * buffer (6 msgs/s for 1 MiB messages). The waker connection
 * (mqtt_waker.c), ticked by this thread, makes a socket ready about every
 * millisecond while publishes are pending. Without it (it could not be
 * made, or is reconnecting) big QoS 0 publishes stall as before. They used
 * to go out as QoS 1 then, whose PUBACKs wake paho; no more: on a clean
 * session, a QoS 1 publish whose first write meets a dead socket makes
 * paho 1.3.12 free its memory twice (mqtt_store.c).
 *
 * Two connections (QoS 0 servers, and clients without broker credentials
 * or client certificate): paho never reads a socket that has a pending
 * write, so publishes go on a connection of their own (mqtt_writer.c) and
 * the subscribed one stays readable. This thread connects that one too,
 * and each send job says which handle to use (decided on the loop thread,
 * which sends nothing while the publishing connection is down).
 *
 * QoS 1/2 completions come back by token. The token callbacks queue a job
 * here too, so a completion is handled after the MQTTAsync_send that made
 * its token returned and recorded it (same thread, FIFO), whatever the
 * timing of paho's threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "mqtt/mqtt_internal.h"

enum job_kind { JOB_CONNECT, JOB_SUBSCRIBE, JOB_SEND, JOB_TOKEN, JOB_FORGET, JOB_WCONNECT };

struct mqtt_job {
    struct mqtt_job *next;
    enum job_kind kind;
    struct mqtt_pub *p;       /* JOB_SEND */
    int writer;               /* JOB_SEND: on the publishing connection (mqtt_writer.c) */
    int token, rc;            /* JOB_TOKEN */
    size_t len;
    char topic[MQTT_TOPIC_MAX];
    uint8_t data[];           /* JOB_SEND: the publish's bytes */
};

#define MQTT_TOKENS 65536     /* paho's tokens for QoS 1/2 are message ids */

/* ---- any thread ---- */

static void push(struct mqtt_state *t, struct mqtt_job *j)
{
    pthread_mutex_lock(&t->w_mu);
    if (t->w_stopped) { /* after destroy began: nobody will run it */
        pthread_mutex_unlock(&t->w_mu);
        free(j);
        return;
    }
    j->next = NULL;
    if (t->w_tail)
        t->w_tail->next = j;
    else
        t->w_head = j;
    t->w_tail = j;
    pthread_cond_signal(&t->w_cv);
    pthread_mutex_unlock(&t->w_mu);
}

static void post_to_loop(struct mqtt_state *t, struct mqtt_ev *e)
{
    nq_mpsc_push(&t->events, &e->node);
    ev_async_send(t->c->loop, &t->async);
}

static void post_event(struct mqtt_state *t, enum mqtt_ev_kind kind, int rc, const char *why)
{
    struct mqtt_ev *e = calloc(1, sizeof *e);
    if (!e)
        return; /* the retry timer recovers */
    e->kind = kind;
    e->rc = rc;
    snprintf(e->why, sizeof e->why, "%s", why ? why : "");
    post_to_loop(t, e);
}

/* paho threads: a QoS 1/2 publish completed (or failed) */
void mqtt_worker_token(struct mqtt_state *t, int token, int rc)
{
    struct mqtt_job *j = calloc(1, sizeof *j);
    if (!j)
        return; /* on_delivered and onSuccess both report it: one may get through */
    j->kind = JOB_TOKEN;
    j->token = token;
    j->rc = rc;
    push(t, j);
}

/* ---- loop thread ---- */

/* A job that carries nothing but its kind. -1: out of memory. */
static int push_kind(struct mqtt_state *t, enum job_kind kind)
{
    struct mqtt_job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->kind = kind;
    push(t, j);
    return 0;
}

void mqtt_worker_connect(struct mqtt_state *t)
{
    if (push_kind(t, JOB_CONNECT) < 0)
        post_event(t, MQTT_EV_CONNECT_FAILED, -1, "out of memory");
}

void mqtt_worker_subscribe(struct mqtt_state *t)
{
    if (push_kind(t, JOB_SUBSCRIBE) < 0)
        post_event(t, MQTT_EV_SUBSCRIBE_FAILED, -1, "out of memory");
}

/* The broker had no session for us at a reconnection: paho dropped its
 * QoS 1/2 publishes in flight without a word; settle them as failed (they
 * are sent again). Sends queued before this ran before it (FIFO); later
 * ones are of the new session. */
void mqtt_worker_forget(struct mqtt_state *t)
{
    if (push_kind(t, JOB_FORGET) < 0)
        nq_log(t->c, NQ_LOG_ERROR, "mqtt: out of memory: publishes the broker forgot stay pending");
}

/* the publishing connection (mqtt_writer.c) */
void mqtt_worker_writer_connect(struct mqtt_state *t)
{
    if (push_kind(t, JOB_WCONNECT) < 0)
        mqtt_post(t, MQTT_EV_W_CONNECT_FAILED, -1, "out of memory");
}

int mqtt_worker_send(struct mqtt_state *t, struct mqtt_pub *p, const char *topic,
                     const struct iovec *iov, int n, size_t len)
{
    struct mqtt_job *j = malloc(sizeof *j + len);
    if (!j)
        return -1;
    memset(j, 0, sizeof *j);
    j->kind = JOB_SEND;
    j->p = p;
    /* decided here, on the loop thread, which sends nothing while the
     * publishing connection is not up: one stream, one connection */
    j->writer = t->w_state == MQTT_W_READY;
    j->len = len;
    snprintf(j->topic, sizeof j->topic, "%s", topic);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        memcpy(j->data + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    push(t, j);
    return 0;
}

/* ---- the worker thread ---- */

void mqtt_connect_options(struct nq_comm *c, MQTTAsync_connectOptions *out,
                          MQTTAsync_SSLOptions *ssl_out)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    /* nq_options_set_keepalive: whole seconds, rounded up; 0 turns it off.
     * Paho pings the broker after that long without traffic and drops the
     * connection when no answer comes (then we reconnect); the broker drops
     * us after 1.5 times that long without a packet. */
    co.keepAliveInterval = c->o.keepalive_ms > 0 ? (int)((c->o.keepalive_ms + 999) / 1000) : 0;
    co.MQTTVersion = MQTTVERSION_3_1_1;
    co.connectTimeout = 10;
    if (c->o.mqtt_username[0]) {
        co.username = c->o.mqtt_username;
        if (c->o.mqtt_password[0])
            co.password = c->o.mqtt_password;
    }
    if (c->o.tls) {
        ssl.trustStore = c->o.tls_ca;
        ssl.keyStore = c->o.tls_cert;
        ssl.privateKey = c->o.tls_key;
        ssl.enableServerCertAuth = c->o.tls_verify;
        ssl.verify = c->o.tls_verify;
        co.ssl = ssl_out;
    }
    *ssl_out = ssl;
    *out = co;
}

static void do_connect(struct mqtt_state *t)
{
    struct nq_comm *c = t->c;
    if (t->store && atomic_load(&t->paho_broken)) {
        if (mqtt_handle_replace(t) != MQTTASYNC_SUCCESS) {
            post_event(t, MQTT_EV_CONNECT_FAILED, -1, "cannot replace the paho client paho broke");
            return; /* the old one is never connected again */
        }
        atomic_store(&t->paho_broken, 0);
    }
    MQTTAsync_connectOptions co;
    MQTTAsync_SSLOptions ssl;
    mqtt_connect_options(c, &co, &ssl);
    /* QoS 0 is the reference's clean session; with 1 or 2 the broker keeps
     * our subscription and undelivered messages across a reconnection */
    co.cleansession = t->qos == 0;
    co.automaticReconnect = 0; /* ours: also covers a broker down at start */
    if (co.ssl)
        mqtt_tls_errors(co.ssl, t);
    mqtt_connect_callbacks(&co, t);
    int rc = MQTTAsync_connect(t->h, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        char why[160];
        snprintf(why, sizeof why, "cannot start connecting: %s", MQTTAsync_strerror(rc));
        post_event(t, MQTT_EV_CONNECT_FAILED, rc, why);
    }
}

static void do_subscribe(struct mqtt_state *t)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    mqtt_subscribe_callbacks(&ro, t);
    int rc = MQTTAsync_subscribe(t->h, t->sub_topic, t->qos, &ro);
    if (rc != MQTTASYNC_SUCCESS)
        post_event(t, MQTT_EV_SUBSCRIBE_FAILED, rc, MQTTAsync_strerror(rc));
}

/* p is done (rc 0) or failed: hand it back to the loop thread */
static void pub_settled(struct mqtt_state *t, struct mqtt_pub *p, int rc)
{
    p->ev.rc = rc;
    post_to_loop(t, &p->ev);
}

static void do_send(struct mqtt_state *t, struct mqtt_job *j)
{
    struct mqtt_pub *p = j->p;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int qos = t->qos;
    if (qos == 0)
        mqtt_pub_callbacks(&ro, p);
    else
        mqtt_token_callbacks(&ro, t);
    MQTTAsync h = j->writer ? mqtt_writer_handle(t) : t->h;
    int rc = MQTTAsync_send(h, j->topic, (int)j->len, j->data, qos, 0, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        /* not taken: the loop thread sends it again (QoS > 0) or says it is lost */
        pub_settled(t, p, rc);
        return;
    }
    if (qos == 0)
        return; /* paho calls onSuccess/onFailure with p */
    /* Paho may hand out again an id whose completion is still queued here
     * (a new paho client restored from the store starts its ids at 1):
     * publishes that share a token complete in the order they were sent. */
    struct mqtt_pub **pp = &t->tokens[ro.token & (MQTT_TOKENS - 1)];
    while (*pp)
        pp = &(*pp)->tok_next;
    p->tok_next = NULL;
    *pp = p;
}

static void do_token(struct mqtt_state *t, int token, int rc)
{
    token &= MQTT_TOKENS - 1;
    struct mqtt_pub *p = t->tokens[token];
    if (!p)
        return; /* a message of paho's own (none of ours has that id) */
    t->tokens[token] = p->tok_next;
    pub_settled(t, p, rc);
}

static void do_forget(struct mqtt_state *t)
{
    for (int i = 0; i < MQTT_TOKENS; i++) {
        while (t->tokens[i]) {
            struct mqtt_pub *p = t->tokens[i];
            t->tokens[i] = p->tok_next;
            pub_settled(t, p, MQTTASYNC_OPERATION_INCOMPLETE);
        }
    }
}

void mqtt_worker_settle_unrestored(struct mqtt_state *t)
{
    for (int i = 0; i < MQTT_TOKENS; i++) {
        struct mqtt_pub **pp = &t->tokens[i];
        if (*pp && mqtt_store_in_flight(t->store, i))
            pp = &(*pp)->tok_next; /* the oldest with that id is the one in flight */
        while (*pp) {
            struct mqtt_pub *p = *pp;
            *pp = p->tok_next;
            pub_settled(t, p, MQTTASYNC_OPERATION_INCOMPLETE);
        }
    }
}

/* the waker's message came back: the next wake may go (mqtt_waker.c) */
void mqtt_worker_poke(struct mqtt_state *t)
{
    pthread_mutex_lock(&t->w_mu);
    t->w_poked = 1;
    pthread_cond_signal(&t->w_cv);
    pthread_mutex_unlock(&t->w_mu);
}

static void *worker_main(void *arg)
{
    struct mqtt_state *t = arg;
    for (;;) {
        /* the waker's tick: sends a wake while publishes are pending */
        int64_t due = mqtt_waker_tick(t);
        pthread_mutex_lock(&t->w_mu);
        if (due >= 0 && !t->w_head && !t->w_stop && !t->w_poked) {
            struct timespec ts;
            nq_deadline_ns(&ts, due);
            pthread_cond_timedwait(&t->w_cv, &t->w_mu, &ts);
        }
        while (due < 0 && !t->w_head && !t->w_stop && !t->w_poked)
            pthread_cond_wait(&t->w_cv, &t->w_mu);
        t->w_poked = 0;
        struct mqtt_job *j = t->w_head;
        t->w_head = t->w_tail = NULL;
        int stop = t->w_stop;
        pthread_mutex_unlock(&t->w_mu);
        if (!j && stop)
            break; /* stop asked and nothing left: the last publishes went to paho */
        while (j) {
            struct mqtt_job *next = j->next;
            switch (j->kind) {
            case JOB_CONNECT:
                do_connect(t);
                break;
            case JOB_SUBSCRIBE:
                do_subscribe(t);
                break;
            case JOB_SEND:
                do_send(t, j);
                break;
            case JOB_TOKEN:
                do_token(t, j->token, j->rc);
                break;
            case JOB_FORGET:
                do_forget(t);
                break;
            case JOB_WCONNECT:
                mqtt_writer_connect(t);
                break;
            }
            free(j);
            j = next;
        }
    }
    return NULL;
}

int mqtt_worker_start(struct mqtt_state *t)
{
    pthread_mutex_init(&t->w_mu, NULL);
    nq_cond_init_monotonic(&t->w_cv);
    t->w_init = 1;
    t->tokens = calloc(MQTT_TOKENS, sizeof *t->tokens);
    if (!t->tokens)
        return -1;
    if (pthread_create(&t->w_thread, NULL, worker_main, t) != 0)
        return -1;
    t->w_running = 1;
    return 0;
}

/* Caller's thread, the loop thread has ended: run what is queued (the
 * last fin's publish), then stop. Token jobs that come later are dropped. */
void mqtt_worker_stop(struct mqtt_state *t)
{
    if (!t->w_init)
        return;
    pthread_mutex_lock(&t->w_mu);
    t->w_stop = 1;
    pthread_cond_signal(&t->w_cv);
    pthread_mutex_unlock(&t->w_mu);
    if (t->w_running)
        pthread_join(t->w_thread, NULL);
    t->w_running = 0;
    pthread_mutex_lock(&t->w_mu);
    t->w_stopped = 1;
    struct mqtt_job *j = t->w_head;
    t->w_head = t->w_tail = NULL;
    pthread_mutex_unlock(&t->w_mu);
    while (j) {
        struct mqtt_job *next = j->next;
        free(j);
        j = next;
    }
}

/* After MQTTAsync_destroy: no callback pushes any more. */
void mqtt_worker_free(struct mqtt_state *t)
{
    if (!t->w_init)
        return;
    pthread_mutex_destroy(&t->w_mu);
    pthread_cond_destroy(&t->w_cv);
    free(t->tokens);
    t->tokens = NULL;
    t->w_init = 0;
}
