/* The connection to the broker, shared by the MQTT server and client: paho
 * handle, (re)connection with backoff, subscription, and the hand-over of
 * paho's callbacks (on paho's threads) to the loop thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/status.h"
#include "core/timeutil.h"
#include "mqtt/mqtt_internal.h"

#define BACKOFF_FIRST 0.05
#define BACKOFF_MAX 2.0
#define INBOX_BATCH 256 /* messages fed per wake-up before others get a turn */
#define MIB (UINT64_C(1) << 20)

/* ---- paho threads: record and wake the loop, nothing else ---- */

void mqtt_post(struct mqtt_state *t, enum mqtt_ev_kind kind, int rc, const char *why)
{
    struct mqtt_ev *e = calloc(1, sizeof *e);
    if (!e)
        return; /* the next event or retry recovers */
    e->kind = kind;
    e->rc = rc;
    snprintf(e->why, sizeof e->why, "%s", why ? why : "");
    nq_mpsc_push(&t->events, &e->node);
    ev_async_send(t->c->loop, &t->async);
}

static void on_connected(void *ctx, MQTTAsync_successData *r)
{
    struct mqtt_state *t = ctx;
    /* before any message of this connection is queued (same paho thread) */
    unsigned gen = atomic_fetch_add(&t->conn_gen, 1) + 1;
    /* the broker kept no session for us (it restarted without persistence,
     * or expired it): paho has just dropped its messages in flight, and
     * nothing the broker sends on this connection is a resend (mqtt_dup.c) */
    int lost = t->qos > 0 && r && !r->alt.connect.sessionPresent;
    mqtt_nodelay(t->c->o.host, t->c->o.port);
    if (lost) {
        atomic_store(&t->fresh_gen, gen);
        mqtt_worker_forget(t);
    }
    struct mqtt_ev *e = calloc(1, sizeof *e);
    if (!e)
        return; /* a connection we never hear of: the keep-alive ends it */
    e->kind = MQTT_EV_CONNECTED;
    e->rc = lost;
    e->token = (int)gen;
    nq_mpsc_push(&t->events, &e->node);
    ev_async_send(t->c->loop, &t->async);
}

/* OpenSSL's error queue, printed by paho at a failed TLS handshake: keep
 * the last line's reason, which says what paho's "TCP/TLS connect failure"
 * does not ("certificate verify failed"). Lines look like
 * [<thread>:]error:<code>:<library>:<function>:<reason>:<file>:<line>:... */
static int on_tls_error(const char *str, size_t len, void *u)
{
    struct mqtt_state *t = u;
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), str);
    line[strcspn(line, "\n")] = 0;
    char *why = strstr(line, "error:");
    if (!why)
        return 0;
    why += 6;
    for (int k = 0; k < 3 && why; k++) { /* past code, library and function */
        why = strchr(why, ':');
        if (why)
            why++;
    }
    if (!why || !*why)
        return 0;
    why[strcspn(why, ":")] = 0;
    pthread_mutex_lock(&t->inbox_mu);
    snprintf(t->tls_why, sizeof t->tls_why, "%.100s", why);
    pthread_mutex_unlock(&t->inbox_mu);
    return 0;
}

void mqtt_tls_errors(MQTTAsync_SSLOptions *ssl, struct mqtt_state *t)
{
    if (ssl->struct_version >= 3) {
        ssl->ssl_error_cb = on_tls_error;
        ssl->ssl_error_context = t;
    }
}

/* paho hands a broker's refusal over as the CONNACK return code (1..5),
 * which its strerror does not know ("Unknown error code 5") */
static const char *connect_error(int code)
{
    switch (code) {
    case 1: return "broker refused: unacceptable protocol version";
    case 2: return "broker refused: client identifier rejected";
    case 3: return "broker refused: server unavailable";
    case 4: return "broker refused: bad user name or password";
    case 5: return "broker refused: not authorized";
    default: return MQTTAsync_strerror(code);
    }
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *r)
{
    struct mqtt_state *t = ctx;
    char tls[sizeof t->tls_why];
    pthread_mutex_lock(&t->inbox_mu);
    snprintf(tls, sizeof tls, "%s", t->tls_why);
    t->tls_why[0] = 0;
    pthread_mutex_unlock(&t->inbox_mu);
    char why[160];
    snprintf(why, sizeof why, "%s%s%.60s%s%.80s", connect_error(r ? r->code : -1),
             r && r->message ? ": " : "", r && r->message ? r->message : "", tls[0] ? "; TLS: " : "",
             tls);
    mqtt_post(ctx, MQTT_EV_CONNECT_FAILED, r ? r->code : -1, why);
}

static void on_lost(void *ctx, char *cause)
{
    mqtt_post(ctx, MQTT_EV_LOST, 0, cause ? cause : "connection lost");
    if (cause)
        MQTTAsync_free(cause);
}

static void on_subscribed(void *ctx, MQTTAsync_successData *r)
{
    /* 0x80 is the broker refusing the subscription */
    if (r && r->alt.qos == 0x80)
        mqtt_post(ctx, MQTT_EV_SUBSCRIBE_FAILED, 0x80, "the broker refused the subscription");
    else /* rc: the QoS it granted (-1: paho did not say) */
        mqtt_post(ctx, MQTT_EV_SUBSCRIBED, r ? r->alt.qos : -1, NULL);
}

static void on_subscribe_failed(void *ctx, MQTTAsync_failureData *r)
{
    mqtt_post(ctx, MQTT_EV_SUBSCRIBE_FAILED, r ? r->code : -1, MQTTAsync_strerror(r ? r->code : -1));
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    struct mqtt_state *t = ctx;
    size_t size = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
    struct mqtt_in *in = calloc(1, sizeof *in);
    pthread_mutex_lock(&t->inbox_mu);
    /* back-pressure: hold paho's receive thread while the loop thread is
     * behind (a single message larger than the budget still passes) */
    while (!t->stopping && t->inbox_bytes > 0 && t->inbox_bytes + size > t->inbox_max)
        pthread_cond_wait(&t->inbox_cv, &t->inbox_mu);
    int drop = t->stopping || !in;
    if (!drop)
        t->inbox_bytes += size;
    pthread_mutex_unlock(&t->inbox_mu);
    if (drop) {
        free(in);
        MQTTAsync_freeMessage(&m);
        MQTTAsync_free(topic);
        return 1;
    }
    size_t tl = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    in->topic_cut = tl >= sizeof in->topic || memchr(topic, 0, tl) != NULL;
    if (tl >= sizeof in->topic)
        tl = sizeof in->topic - 1;
    memcpy(in->topic, topic, tl);
    in->topic[tl] = 0;
    in->msg = m;
    in->size = size;
    in->gen = atomic_load(&t->conn_gen);
    MQTTAsync_free(topic);
    nq_mpsc_push(&t->inbox, &in->node);
    ev_async_send(t->c->loop, &t->async);
    return 1;
}

static void on_pub_success(void *ctx, MQTTAsync_successData *r)
{
    struct mqtt_pub *p = ctx;
    struct mqtt_state *t = p->t; /* p may be freed by the loop once pushed */
    p->ev.rc = 0;
    nq_mpsc_push(&t->events, &p->ev.node);
    ev_async_send(t->c->loop, &t->async);
}

static void on_pub_failure(void *ctx, MQTTAsync_failureData *r)
{
    struct mqtt_pub *p = ctx;
    struct mqtt_state *t = p->t; /* p may be freed by the loop once pushed */
    p->ev.rc = r && r->code ? r->code : -1;
    nq_mpsc_push(&t->events, &p->ev.node);
    ev_async_send(t->c->loop, &t->async);
}

static void on_tok_failure(void *ctx, MQTTAsync_failureData *r)
{
    struct mqtt_state *t = ctx;
    if (!r)
        return;
    if (r->code == MQTTASYNC_FAILURE || r->code == MQTTCLIENT_PERSISTENCE_ERROR) {
        /* a socket error at the publish's first write (token 0): paho 1.3.12
         * freed its topic and payload but keeps it in flight; it completes
         * from the store in a new paho client (mqtt_store.c) */
        atomic_store(&t->paho_broken, 1);
        return;
    }
    mqtt_worker_token(t, r->token, r->code ? r->code : -1);
}

/* A QoS 1/2 publish completed: paho says so here exactly once per PUBACK or
 * PUBCOMP, also for messages it sent again after a reconnection or
 * restored from the store, which have no onSuccess. So this is the one
 * success we count (onSuccess is not asked for). */
static void on_delivered(void *ctx, MQTTAsync_token token)
{
    mqtt_worker_token(ctx, token, 0);
}

void mqtt_token_callbacks(MQTTAsync_responseOptions *ro, struct mqtt_state *t)
{
    ro->onSuccess = NULL;
    ro->onFailure = on_tok_failure;
    ro->context = t;
}

static void disc_signal(struct mqtt_disc *d)
{
    pthread_mutex_lock(&d->mu);
    d->done = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static void on_disc_success(void *ctx, MQTTAsync_successData *r)
{
    disc_signal(ctx);
}

static void on_disc_failure(void *ctx, MQTTAsync_failureData *r)
{
    disc_signal(ctx);
}

void mqtt_disc_init(struct mqtt_disc *d)
{
    pthread_mutex_init(&d->mu, NULL);
    nq_cond_init_monotonic(&d->cv);
    d->done = 0;
}

void mqtt_disc_destroy(struct mqtt_disc *d)
{
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
}

void mqtt_disconnect_wait(MQTTAsync h, struct mqtt_disc *d)
{
    MQTTAsync_disconnectOptions o = MQTTAsync_disconnectOptions_initializer;
    o.timeout = 2000; /* ms for queued publishes (the last fin) to go out */
    o.onSuccess = on_disc_success;
    o.onFailure = on_disc_failure;
    o.context = d;
    if (MQTTAsync_disconnect(h, &o) != MQTTASYNC_SUCCESS)
        return;
    struct timespec ts;
    nq_deadline(&ts, 3000);
    pthread_mutex_lock(&d->mu);
    while (!d->done)
        if (pthread_cond_timedwait(&d->cv, &d->mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&d->mu);
}

/* ---- loop thread ---- */

int mqtt_can_send(const struct mqtt_state *t)
{
    return t->connected && t->subscribed &&
           (t->w_state == MQTT_W_OFF || t->w_state == MQTT_W_READY);
}

/* The publishing connection (mqtt_writer.c) comes up after the main one:
 * a broker that is down is the main connection's business (backoff, the
 * client policy), and a refusal of the second id is told apart. */
static void writer_connect(struct mqtt_state *t)
{
    if (t->w_state != MQTT_W_DOWN || !t->connected || t->c->close_done)
        return;
    t->w_state = MQTT_W_CONNECTING;
    mqtt_worker_writer_connect(t);
}

static void writer_event(struct mqtt_state *t, struct mqtt_ev *e)
{
    struct nq_comm *c = t->c;
    if (t->w_state == MQTT_W_OFF)
        return;
    switch (e->kind) {
    case MQTT_EV_W_CONNECTED:
        t->w_state = MQTT_W_READY;
        t->w_ever = 1;
        mqtt_drops_up(t);
        nq_log(c, NQ_LOG_DEBUG, "mqtt: publishing connection nqp%s up", t->own_hex);
        mqtt_kick_all(t);
        break;
    case MQTT_EV_W_CONNECT_FAILED:
        if (!t->w_ever && e->rc >= 1 && e->rc <= 5) {
            /* the broker refused this client id or account (CONNACK 1..5)
             * while it took the main connection: publish on the main one,
             * as before the split (nothing was ever sent on this one) */
            t->w_state = MQTT_W_OFF;
            nq_log(c, NQ_LOG_WARN, "mqtt: the broker at %s refused the publishing connection "
                   "nqp%s (%s); publishing on the main connection, whose reads then wait "
                   "behind big publishes (docs/mqtt.md)", t->uri, t->own_hex, e->why);
            mqtt_kick_all(t);
            break;
        }
        t->w_state = MQTT_W_DOWN;
        nq_log(c, NQ_LOG_DEBUG, "mqtt: publishing connection: %s; retrying", e->why);
        mqtt_connect_soon(t, BACKOFF_MAX / 4);
        break;
    case MQTT_EV_W_LOST:
        /* what paho held for it is lost (QoS 0), as on the main one */
        t->w_state = MQTT_W_DOWN;
        mqtt_drops_lost(t);
        nq_log(c, c->close_phase ? NQ_LOG_INFO : NQ_LOG_WARN,
               "mqtt: lost the publishing connection to the broker at %s (%s); reconnecting",
               t->uri, e->why);
        mqtt_connect_soon(t, BACKOFF_FIRST);
        break;
    default:
        break;
    }
}

void mqtt_pub_callbacks(MQTTAsync_responseOptions *ro, struct mqtt_pub *p)
{
    ro->onSuccess = on_pub_success;
    ro->onFailure = on_pub_failure;
    ro->context = p;
}

void mqtt_connect_soon(struct mqtt_state *t, double delay)
{
    ev_timer_stop(t->c->loop, &t->retry);
    ev_timer_set(&t->retry, delay, 0.);
    ev_timer_start(t->c->loop, &t->retry);
}

static void backoff(struct mqtt_state *t)
{
    t->backoff = t->backoff ? t->backoff * 2 : BACKOFF_FIRST;
    if (t->backoff > BACKOFF_MAX)
        t->backoff = BACKOFF_MAX;
    mqtt_connect_soon(t, t->backoff);
}

void mqtt_subscribe_callbacks(MQTTAsync_responseOptions *ro, struct mqtt_state *t)
{
    ro->onSuccess = on_subscribed;
    ro->onFailure = on_subscribe_failed;
    ro->context = t;
}

void mqtt_connect_callbacks(MQTTAsync_connectOptions *co, struct mqtt_state *t)
{
    co->onSuccess = on_connected;
    co->onFailure = on_connect_failed;
    co->context = t;
}

/* both through the worker: the loop thread never calls paho */
static void subscribe(struct mqtt_state *t)
{
    mqtt_worker_subscribe(t);
}

static void connect_now(struct mqtt_state *t)
{
    t->connecting = 1;
    mqtt_worker_connect(t);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mqtt_state *t = w->data;
    if (t->c->close_done)
        return;
    if (!t->connected && !t->connecting)
        connect_now(t);
    else if (t->connected && !t->subscribed)
        subscribe(t);
    writer_connect(t);
}

static void connect_failed(struct mqtt_state *t, const char *why)
{
    struct nq_comm *c = t->c;
    t->connecting = 0;
    t->failures++;
    /* a client reports through the core's policy (rate-limited, with the
     * connect timeout); a server says it once loudly, then quietly */
    if (c->purpose == NQ_CLIENT)
        mqtt_client_unreachable(t, why);
    else
        nq_log(c, t->failures == 1 ? NQ_LOG_WARN : NQ_LOG_DEBUG,
               "mqtt: cannot connect to the broker at %s (%s); retrying", t->uri, why);
    backoff(t);
}

/* QoS 1/2: the broker came back without the session it kept for us (it
 * restarted without persistence, or expired the session). Gone with it:
 * our subscription, what it had accepted from us and not yet delivered (our
 * puts of that had completed), and what it had for us. The byte streams
 * have a hole, so each starts over from a new ini, as after a TCP
 * reconnection; what was not acknowledged yet is sent again. Before, the
 * client went on mid-stream into a server that had lost its place: its
 * close timed out, and what it sent after the hole was lost. */
static void session_lost(struct mqtt_state *t)
{
    struct nq_comm *c = t->c;
    t->lost_pending = 0;
    nq_log(c, NQ_LOG_ERROR, "mqtt: the broker at %s came back without our MQTT session (restarted "
           "without persistence, or it expired the session): what it had accepted and not yet "
           "delivered is lost, completed puts included; %s", t->uri,
           c->purpose == NQ_CLIENT ? "the stream to the server starts over with a new ini, and "
           "what was not acknowledged is sent again" : "each client's stream starts over at its "
           "next ini, and what was not acknowledged is sent again then");
    if (c->purpose == NQ_CLIENT)
        mqtt_client_session_lost(t);
    else
        mqtt_server_session_lost(t);
}

static void handle_event(struct mqtt_state *t, struct mqtt_ev *e)
{
    struct nq_comm *c = t->c;
    switch (e->kind) {
    case MQTT_EV_CONNECTED:
        if (e->rc && t->ever_connected) { /* done by drain_inbox, in order */
            t->lost_pending = 1;
            t->lost_gen = (unsigned)e->token;
        }
        t->connecting = 0;
        t->connected = 1;
        t->backoff = 0;
        nq_log(c, t->failures || t->ever_connected ? NQ_LOG_INFO : NQ_LOG_DEBUG,
               "mqtt: connected to the broker at %s", t->uri);
        t->failures = 0;
        t->ever_connected = 1;
        if (t->w_state == MQTT_W_OFF) /* it carries our publishes too */
            mqtt_drops_up(t);
        subscribe(t);
        writer_connect(t);
        break;
    case MQTT_EV_CONNECT_FAILED:
        connect_failed(t, e->why);
        break;
    case MQTT_EV_LOST:
        t->connected = t->subscribed = 0;
        nq_log(c, c->close_phase ? NQ_LOG_INFO : NQ_LOG_WARN,
               "mqtt: lost the broker at %s (%s); reconnecting", t->uri, e->why);
        if (t->w_state == MQTT_W_OFF)
            mqtt_drops_lost(t);
        mqtt_connect_soon(t, BACKOFF_FIRST);
        break;
    case MQTT_EV_SUBSCRIBED:
        t->subscribed = 1;
        nq_log(c, NQ_LOG_DEBUG, "mqtt: subscribed to %s", t->sub_topic);
        if (e->rc >= 0 && e->rc < t->qos && !t->downgrade_told) {
            /* RabbitMQ grants 1 for 2; the broker then delivers to us at
             * the QoS it granted, whatever we publish at */
            t->downgrade_told = 1;
            nq_log(c, NQ_LOG_WARN, "mqtt: the broker at %s granted QoS %d for %s where we asked "
                   "for %d: it delivers to us at QoS %d, so %s (docs/mqtt-brokers.md)", t->uri,
                   e->rc, t->sub_topic, t->qos, e->rc,
                   e->rc == 0 ? "pieces may be lost on the way to us, and the stream with them"
                              : "a piece it delivers again after a reconnection arrives twice "
                                "(no QoS 2 duplicate filter applies)");
        }
        if (c->purpose == NQ_CLIENT)
            mqtt_client_ready(t);
        else
            mqtt_server_ready(t);
        break;
    case MQTT_EV_SUBSCRIBE_FAILED:
        nq_log(c, NQ_LOG_ERROR, "mqtt: subscribing to %s failed (%s); retrying", t->sub_topic,
               e->why);
        backoff(t);
        break;
    case MQTT_EV_PUB_DONE:
        mqtt_pub_done(t, (struct mqtt_pub *)e);
        return; /* not ours to free */
    case MQTT_EV_DISCONNECTED:
        break;
    case MQTT_EV_W_CONNECTED:
    case MQTT_EV_W_CONNECT_FAILED:
    case MQTT_EV_W_LOST:
        writer_event(t, e);
        break;
    }
    free(e);
}

static void inbox_release(struct mqtt_state *t, size_t size)
{
    pthread_mutex_lock(&t->inbox_mu);
    t->inbox_bytes -= size;
    pthread_cond_broadcast(&t->inbox_cv);
    pthread_mutex_unlock(&t->inbox_mu);
}

static void drain_inbox(struct mqtt_state *t)
{
    struct nq_comm *c = t->c;
    for (int n = 0; n < INBOX_BATCH; n++) {
        if (atomic_load(&c->rq.paused))
            return; /* resume() comes back here */
        struct nq_mpsc_node *node = nq_mpsc_pop(&t->inbox);
        if (!node) {
            if (t->lost_pending) /* what came before the loss went to the old links */
                session_lost(t);
            return;
        }
        struct mqtt_in *in = (struct mqtt_in *)node;
        if (t->lost_pending && in->gen >= t->lost_gen)
            session_lost(t);
        if (!c->close_done && !mqtt_dup_check(t, in)) {
            if (c->purpose == NQ_CLIENT)
                mqtt_client_message(t, in);
            else
                mqtt_server_message(t, in);
            nq_recvq_pause_if_full(&c->rq);
        }
        size_t size = in->size;
        MQTTAsync_freeMessage(&in->msg);
        free(in);
        inbox_release(t, size);
    }
    ev_async_send(c->loop, &t->async); /* more may wait: come back after others */
}

static void on_async(struct ev_loop *loop, ev_async *w, int revents)
{
    struct mqtt_state *t = w->data;
    struct nq_mpsc_node *node;
    while ((node = nq_mpsc_pop(&t->events)))
        handle_event(t, (struct mqtt_ev *)node);
    mqtt_close_finished(t);
    drain_inbox(t);
    nq_core_flush(t->c);
}

void mqtt_resume(struct mqtt_state *t)
{
    ev_async_send(t->c->loop, &t->async);
}

/* A paho handle with our callbacks. QoS 0 keeps nothing across a
 * reconnection (a clean session; our queues hold the rest); QoS 1/2 handles
 * persist their session into t->store (mqtt_store.c). On failure *what
 * says which step failed and t->h is NULL. */
static int handle_new(struct mqtt_state *t, const char **what)
{
    struct mqtt_store_view *v = NULL;
    if (t->store && !(v = mqtt_store_view_new(t->store))) {
        *what = "allocate a session store view";
        t->h = NULL;
        return MQTTASYNC_FAILURE;
    }
    int rc = v ? MQTTAsync_create(&t->h, t->uri, t->own_hex, MQTTCLIENT_PERSISTENCE_USER,
                                  mqtt_store_view_persistence(v))
               : MQTTAsync_create(&t->h, t->uri, t->own_hex, MQTTCLIENT_PERSISTENCE_NONE, NULL);
    if (rc != MQTTASYNC_SUCCESS) {
        *what = "create a client";
        t->h = NULL;
        free(v);
        return rc;
    }
    t->view = v;
    rc = MQTTAsync_setCallbacks(t->h, t, on_lost, on_message, on_delivered);
    if (rc != MQTTASYNC_SUCCESS) {
        *what = "set the callbacks";
        MQTTAsync_destroy(&t->h);
        t->h = NULL;
        return rc;
    }
    return MQTTASYNC_SUCCESS;
}

int mqtt_handle_replace(struct mqtt_state *t)
{
    MQTTAsync old = t->h;
    struct mqtt_store_view *old_view = t->view;
    size_t kept = mqtt_store_count(t->store);
    const char *what = "create a client";
    int rc = handle_new(t, &what); /* restores the session from the store */
    if (rc != MQTTASYNC_SUCCESS) {
        t->h = old;
        t->view = old_view;
        nq_log(t->c, NQ_LOG_ERROR, "mqtt: cannot %s to replace the paho client paho broke (%s); "
               "trying again at the next connection attempt", what, MQTTAsync_strerror(rc));
        return rc;
    }
    /* The old one is neither connected nor destroyed again: both would
     * reach the memory paho freed. Paho's threads skip a disconnected
     * client, so it stays inert; what it holds is lost until the process
     * ends. */
    MQTTAsync_setCallbacks(old, NULL, NULL, NULL, NULL);
    mqtt_store_view_detach(old_view);
    t->handles_left++;
    mqtt_worker_settle_unrestored(t);
    nq_log(t->c, NQ_LOG_WARN, "mqtt: paho freed a publish it still had in flight (a socket error at "
           "its first write; paho 1.3.12); the MQTT session goes on in a new paho client restored "
           "from the session store (%zu entries; %u client(s) left aside so far)",
           kept, t->handles_left);
    return MQTTASYNC_SUCCESS;
}

nq_status mqtt_state_start(struct nq_comm *c, struct mqtt_state **out)
{
    struct mqtt_state *t = calloc(1, sizeof *t);
    if (!t)
        return nq_fail(NQ_ENOMEM, "mqtt: out of memory");
    t->c = c;
    t->qos = c->o.mqtt_qos;
    t->piece = c->o.transport_size ? c->o.transport_size : 1;
    if (t->piece > 256 * MIB - 1024)
        t->piece = 256 * MIB - 1024; /* MQTT's largest packet is 256 MiB */
    /* at most 512 KiB per publish, whatever the transport size: paho gets
     * several publishes in flight and the window (memory) stays small, and
     * mosquitto forwards 448-704 KiB publishes for about half the CPU per
     * byte of 768 KiB-1 MiB ones (docs/mqtt.md, "Publish size and the
     * broker"). Receivers take pieces of any size, the reference too. */
    if (t->piece > MQTT_PUB_MAX)
        t->piece = MQTT_PUB_MAX;
    /* A small last piece of a frame (an 1 MiB message is 512 KiB + 512 KiB
     * + 8 bytes) waits in the broker's Nagle for the receiver's delayed
     * ACK: 40-50 ms per message (strace of a ping-pong). So a publish may
     * grow by a quarter rather than leave less than that behind, within
     * the transport size the user set. */
    uint64_t room = (c->o.transport_size ? c->o.transport_size : 1) - t->piece;
    t->slack = t->piece / 4 < room ? t->piece / 4 : room;
    t->window = 2 * t->piece > 4 * MIB ? 2 * t->piece : 4 * MIB;
    t->inbox_max = (size_t)t->window;
    mqtt_hex(c->o.id, t->own_hex);
    const char *host = c->o.host;
    int v6 = strchr(host, ':') != NULL;
    snprintf(t->uri, sizeof t->uri, "%s://%s%s%s:%d", c->o.tls ? "ssl" : "tcp", v6 ? "[" : "",
             host, v6 ? "]" : "", c->o.port);
    if (c->purpose == NQ_SERVER)
        snprintf(t->sub_topic, sizeof t->sub_topic, "c2s/+");
    else
        snprintf(t->sub_topic, sizeof t->sub_topic, "s2c/%s", t->own_hex);
    nq_mpsc_init(&t->events);
    nq_mpsc_init(&t->inbox);
    pthread_mutex_init(&t->inbox_mu, NULL);
    pthread_cond_init(&t->inbox_cv, NULL);
    mqtt_disc_init(&t->disc);
    if (c->o.tls && c->o.tls_cert && !c->o.tls_key) {
        mqtt_state_destroy(t);
        return nq_fail(NQ_EINVAL, "mqtt: a TLS client certificate needs its key (nq_options_set_tls_key)");
    }
    if (t->qos > 0 && !(t->store = mqtt_store_new())) {
        mqtt_state_destroy(t);
        return nq_fail(NQ_ENOMEM, "mqtt: out of memory");
    }
    const char *what = "create a client";
    int rc = handle_new(t, &what);
    if (rc != MQTTASYNC_SUCCESS) {
        mqtt_state_destroy(t);
        return nq_fail(NQ_EINVAL, "mqtt: cannot %s for %s: %s", what, t->uri, MQTTAsync_strerror(rc));
    }
    t->wake_ns = MQTT_WAKE_NS;
    /* QoS 0 publishes on a connection of their own (mqtt_writer.c): for
     * servers, and for clients a broker ACL cannot name by account */
    int split = t->qos == 0 &&
                (c->purpose == NQ_SERVER || (!c->o.mqtt_username[0] && !c->o.tls_cert));
    t->w_state = MQTT_W_OFF;
    if (split) {
        if (mqtt_writer_create(t) == 0)
            t->w_state = MQTT_W_DOWN;
        else
            nq_log(c, NQ_LOG_WARN, "mqtt: cannot create the publishing connection; publishing on "
                   "the main one, whose reads then wait behind big publishes");
    }
    /* QoS 0 only: with 1 and 2 every publish is acknowledged anyway, and
     * they keep the path test_qos2_broker_restart was proven on */
    if (t->qos == 0 && mqtt_waker_create(t) != 0) /* then big publishes stall in paho (mqtt_worker.c) */
        nq_log(c, NQ_LOG_WARN, "mqtt: cannot create the waker connection; publishes that fill the "
               "socket buffer will wait for paho's 100 ms receive cycle");
    if (mqtt_worker_start(t) != 0) {
        mqtt_state_destroy(t);
        return nq_fail(NQ_ENOMEM, "mqtt: cannot start the paho caller thread");
    }
    ev_async_init(&t->async, on_async);
    t->async.data = t;
    ev_async_start(c->loop, &t->async);
    ev_timer_init(&t->retry, on_retry, 0., 0.);
    t->retry.data = t;
    ev_timer_start(c->loop, &t->retry); /* the first connect runs on the loop thread */
    *out = t;
    return NQ_OK;
}

/* Caller's thread, the loop thread has ended. */
void mqtt_state_destroy(struct mqtt_state *t)
{
    struct nq_comm *c = t->c;
    pthread_mutex_lock(&t->inbox_mu);
    t->stopping = 1;
    pthread_cond_broadcast(&t->inbox_cv);
    pthread_mutex_unlock(&t->inbox_mu);
    if (ev_is_active(&t->retry))
        ev_timer_stop(c->loop, &t->retry);
    if (ev_is_active(&t->ini_timer))
        ev_timer_stop(c->loop, &t->ini_timer);
    if (ev_is_active(&t->async))
        ev_async_stop(c->loop, &t->async);
    mqtt_worker_stop(t); /* after the publishes still queued for paho */
    mqtt_waker_destroy(t);
    mqtt_writer_destroy(t); /* the last publishes (our fin) go out first */
    if (t->h) {
        if (MQTTAsync_isConnected(t->h))
            mqtt_disconnect_wait(t->h, &t->disc);
        MQTTAsync_destroy(&t->h); /* no callback of ours runs after this */
    }
    free(t->view);
    mqtt_store_free(t->store);
    mqtt_worker_free(t);
    while (t->links)
        mqtt_link_close(t->links, "communicator closed");
    struct nq_mpsc_node *node;
    while ((node = nq_mpsc_pop(&t->events))) {
        struct mqtt_ev *e = (struct mqtt_ev *)node;
        if (e->kind != MQTT_EV_PUB_DONE) /* publishes are freed below, from t->all */
            free(e);
    }
    while (t->all) {
        struct mqtt_pub *p = t->all;
        t->all = p->all_next;
        free(p);
    }
    while ((node = nq_mpsc_pop(&t->inbox))) {
        struct mqtt_in *in = (struct mqtt_in *)node;
        MQTTAsync_freeMessage(&in->msg);
        free(in);
    }
    pthread_mutex_destroy(&t->inbox_mu);
    pthread_cond_destroy(&t->inbox_cv);
    mqtt_disc_destroy(&t->disc);
    free(t->seen);
    free(t);
}

int mqtt_side_client(struct mqtt_state *t, const char *prefix, char *id, size_t idcap,
                     void *ctx, MQTTAsync_connectionLost *lost,
                     MQTTAsync_messageArrived *arrived, MQTTAsync *h)
{
    snprintf(id, idcap, "%s%s", prefix, t->own_hex);
    if (MQTTAsync_create(h, t->uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL) != MQTTASYNC_SUCCESS)
        return -1;
    if (MQTTAsync_setCallbacks(*h, ctx, lost, arrived, NULL) != MQTTASYNC_SUCCESS) {
        MQTTAsync_destroy(h);
        return -1;
    }
    return 0;
}
