/* The publishing connection of a QoS 0 communicator ("split"): a second
 * broker connection that carries every publish of ours, so that the main
 * connection (client id = our hex id, subscribed) only reads.
 *
 * Why: paho.mqtt.c 1.3.12 reads a socket only when it is "ready" (Socket.c
 * isReady: input waiting AND writable AND no pending write). A connection
 * that both publishes big messages and receives them is almost always
 * half-way through a publish, so its input waits; and when poll() says it
 * has input but it is not ready, paho's receive thread sleeps 100 ms (strace
 * of the 1 MiB both-ways bench client: 4 such sleeps in a 1.9 s run, the
 * server's reads idle 1.5 s waiting for it). With the publishes on their
 * own connection, the subscribed one never has a pending write and is read
 * as soon as input arrives; the publishing one gets no input at QoS 0, so
 * it never makes paho sleep with input waiting either (its partial writes
 * are finished by the receive thread's next round, which the incoming data
 * or the waker, mqtt_waker.c, brings).
 *
 * Order: a communicator publishes on one connection at a time. The loop
 * thread sends nothing while the publishing connection is connecting or
 * lost (mqtt_can_send), and says in each job which handle to use, so one
 * stream's publishes never race over two TCP connections. QoS 0 only: its
 * publishes are at most once anyway (those paho held when a connection
 * drops are lost, as before); QoS 1/2 keep their one connection and their
 * persistent session (mqtt_store.c), which a second session would split.
 *
 * Client id "nqp" + our hex id, clean session, no subscription. Who splits
 * (mqtt_state_start): servers, whose broker ACL names their account, not
 * their client id; clients without broker credentials or a client
 * certificate. A client with either keeps one connection: a broker ACL that
 * grants by client id (`pattern write c2s/%c`) would silently drop what a
 * connection with another id publishes (docs/mqtt.md, Security).
 *
 * Threads: the worker (mqtt_worker.c) makes every paho call on this handle;
 * paho's callbacks only post events to the loop thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "mqtt/mqtt_internal.h"

struct mqtt_writer {
    struct mqtt_state *t;
    MQTTAsync h;
    char id[8 + MQTT_HEX_LEN];
    struct mqtt_disc disc; /* destroy waits here for the disconnect */
};

/* ---- paho threads ---- */

static void on_connected(void *ctx, MQTTAsync_successData *r)
{
    struct mqtt_writer *w = ctx;
    atomic_store(&w->t->wake_connecting, 0);
    mqtt_nodelay(w->t->c->o.host, w->t->c->o.port);
    mqtt_post(w->t, MQTT_EV_W_CONNECTED, 0, NULL);
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *r)
{
    struct mqtt_writer *w = ctx;
    atomic_store(&w->t->wake_connecting, 0);
    mqtt_post(w->t, MQTT_EV_W_CONNECT_FAILED, r ? r->code : -1,
              r && r->message ? r->message : MQTTAsync_strerror(r ? r->code : -1));
}

static void on_lost(void *ctx, char *cause)
{
    struct mqtt_writer *w = ctx;
    mqtt_post(w->t, MQTT_EV_W_LOST, 0, cause ? cause : "connection lost");
    if (cause)
        MQTTAsync_free(cause);
}

/* it subscribes to nothing; paho wants the callback all the same */
static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

/* ---- worker thread ---- */

void mqtt_writer_connect(struct mqtt_state *t)
{
    struct mqtt_writer *w = t->writer;
    MQTTAsync_connectOptions co;
    MQTTAsync_SSLOptions ssl;
    mqtt_connect_options(t->c, &co, &ssl);
    co.cleansession = 1;
    co.automaticReconnect = 0; /* the loop thread decides (mqtt_broker.c) */
    if (co.ssl)
        mqtt_tls_errors(co.ssl, t);
    co.onSuccess = on_connected;
    co.onFailure = on_connect_failed;
    co.context = w;
    /* paho writes our CONNECT once a receive cycle finds the new socket
     * connected, and a cycle waits up to 1 s for input on the others: the
     * waker's messages (mqtt_waker.c) end that wait. Strace at start-up:
     * the CONNECT went out 1.0 s after the TCP connect without them. */
    atomic_store(&t->wake_connecting, 1);
    int rc = MQTTAsync_connect(w->h, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        atomic_store(&t->wake_connecting, 0);
        mqtt_post(t, MQTT_EV_W_CONNECT_FAILED, rc, MQTTAsync_strerror(rc));
    }
}

MQTTAsync mqtt_writer_handle(struct mqtt_state *t)
{
    return t->writer->h;
}

/* ---- caller's thread ---- */

int mqtt_writer_create(struct mqtt_state *t)
{
    struct mqtt_writer *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    w->t = t;
    if (mqtt_side_client(t, "nqp", w->id, sizeof w->id, w, on_lost, on_message, &w->h) < 0) {
        free(w);
        return -1;
    }
    mqtt_disc_init(&w->disc);
    t->writer = w;
    return 0;
}

/* After the worker stopped (the last publishes, our fin among them, are in
 * paho's queue): let paho write them, as for the main connection. */
void mqtt_writer_destroy(struct mqtt_state *t)
{
    struct mqtt_writer *w = t->writer;
    if (!w)
        return;
    if (MQTTAsync_isConnected(w->h))
        mqtt_disconnect_wait(w->h, &w->disc);
    MQTTAsync_destroy(&w->h); /* no callback of ours runs after this */
    mqtt_disc_destroy(&w->disc);
    free(w);
    t->writer = NULL;
}
