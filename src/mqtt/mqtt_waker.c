/* A second, tiny broker connection per communicator whose only traffic is
 * a 1-byte message to itself, sent while publishes of ours are in paho's
 * hands. Why: paho.mqtt.c 1.3.12 has one receive thread for all its
 * clients, which also finishes partly written publishes, and its cycle
 * sleeps 100 ms whenever poll() finds no socket "ready" (Socket.c isReady:
 * input waiting AND writable AND no pending write). A sender whose socket
 * buffer is full and which has input waiting on that same socket (a PUBACK,
 * a peer's message) or none at all (poll waits up to 1 s) stalls there.
 * Our message arriving on this connection makes its socket ready, so the
 * cycle does not sleep and checks the stuck socket for writability again.
 *
 * Best effort: if this connection is down, publishes go on as before.
 * Memory: one wake in flight at a time. Nothing changes on the peers'
 * topics: this connection has its own client id ("nqw" + our hex id) and
 * topic (nq-wake/<its client id>, i.e. nq-wake/nqw<hex>), both outside the
 * c2s/ and s2c/ spaces; a broker ACL grants it with one pattern line on the
 * client id (`pattern readwrite nq-wake/%c`, docs/mqtt.md "Security").
 *
 * Threads: our worker thread (mqtt_worker.c) makes every paho call on this
 * handle except the subscribe, made from paho's connect callback as paho's
 * samples do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "mqtt/mqtt_internal.h"

#define WAKE_LOST_NS (100 * 1000000LL)   /* a wake not back by then: send another */
#define RECONNECT_NS (2000 * 1000000LL)

struct mqtt_waker {
    struct mqtt_state *t;
    MQTTAsync h;
    char id[8 + MQTT_HEX_LEN];
    char topic[16 + MQTT_HEX_LEN];
    atomic_int ready;         /* connected and subscribed */
    atomic_int connecting;
    atomic_int in_flight;     /* a wake sent and not back yet */
    atomic_int refused;       /* the broker refused our subscription: never again */
    int64_t last_ns, connect_ns; /* worker thread */
};

/* ---- paho threads ---- */

static void on_subscribed(void *ctx, MQTTAsync_successData *r)
{
    struct mqtt_waker *w = ctx;
    if (r && r->alt.qos == 0x80) {
        atomic_store(&w->refused, 1);
    } else {
        atomic_store(&w->ready, 1);
    }
    atomic_store(&w->connecting, 0);
    mqtt_worker_poke(w->t);
}

static void on_failed(void *ctx, MQTTAsync_failureData *r)
{
    struct mqtt_waker *w = ctx;
    atomic_store(&w->connecting, 0); /* the worker tries again later */
}

static void on_connected(void *ctx, MQTTAsync_successData *r)
{
    struct mqtt_waker *w = ctx;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = on_subscribed;
    ro.onFailure = on_failed;
    ro.context = w;
    if (MQTTAsync_subscribe(w->h, w->topic, 0, &ro) != MQTTASYNC_SUCCESS)
        atomic_store(&w->connecting, 0);
}

static void on_lost(void *ctx, char *cause)
{
    struct mqtt_waker *w = ctx;
    atomic_store(&w->ready, 0);
    atomic_store(&w->in_flight, 0);
    if (cause)
        MQTTAsync_free(cause);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    struct mqtt_waker *w = ctx;
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    atomic_store(&w->in_flight, 0);
    mqtt_worker_poke(w->t); /* the next wake may go now */
    return 1;
}

/* ---- worker thread ---- */

static void wk_connect(struct mqtt_waker *w, int64_t now)
{
    struct nq_comm *c = w->t->c;
    MQTTAsync_connectOptions co;
    MQTTAsync_SSLOptions ssl;
    mqtt_connect_options(c, &co, &ssl);
    co.cleansession = 1;
    co.onSuccess = on_connected;
    co.onFailure = on_failed;
    co.context = w;
    w->connect_ns = now;
    atomic_store(&w->connecting, 1);
    if (MQTTAsync_connect(w->h, &co) != MQTTASYNC_SUCCESS)
        atomic_store(&w->connecting, 0);
}

int64_t mqtt_waker_tick(struct mqtt_state *t)
{
    struct mqtt_waker *w = t->waker;
    if (!w || atomic_load(&w->refused))
        return -1;
    int64_t now = nq_now_ns();
    if (!atomic_load(&w->ready)) {
        if (atomic_load(&w->connecting))
            return RECONNECT_NS;
        if (w->connect_ns && now - w->connect_ns < RECONNECT_NS)
            return RECONNECT_NS - (now - w->connect_ns);
        wk_connect(w, now);
        return RECONNECT_NS;
    }
    if (atomic_load(&t->paho_bytes) == 0 && !atomic_load(&t->wake_connecting))
        return -1; /* nothing of ours in paho's hands, no connect pending: no wake needed */
    int64_t period = t->wake_ns;
    if (atomic_load(&w->in_flight)) {
        if (now - w->last_ns < WAKE_LOST_NS)
            return WAKE_LOST_NS - (now - w->last_ns);
        /* lost (an ACL, a held receive thread): send another */
    }
    if (now - w->last_ns < period)
        return period - (now - w->last_ns);
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    static char byte = 'w';
    atomic_store(&w->in_flight, 1);
    w->last_ns = now;
    if (MQTTAsync_send(w->h, w->topic, 1, &byte, 0, 0, &ro) != MQTTASYNC_SUCCESS)
        atomic_store(&w->in_flight, 0);
    return period;
}

/* ---- caller's thread ---- */

int mqtt_waker_create(struct mqtt_state *t)
{
    struct mqtt_waker *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    w->t = t;
    if (mqtt_side_client(t, "nqw", w->id, sizeof w->id, w, on_lost, on_message, &w->h) < 0) {
        free(w);
        return -1;
    }
    snprintf(w->topic, sizeof w->topic, "nq-wake/%s", w->id);
    t->waker = w;
    return 0;
}

/* After the worker stopped: no paho call of ours races this one. */
void mqtt_waker_destroy(struct mqtt_state *t)
{
    struct mqtt_waker *w = t->waker;
    if (!w)
        return;
    if (MQTTAsync_isConnected(w->h)) {
        MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
        d.timeout = 0;
        MQTTAsync_disconnect(w->h, &d);
    }
    MQTTAsync_destroy(&w->h); /* no callback of ours runs after this */
    free(w);
    t->waker = NULL;
}
