/* MQTT client: subscribes to s2c/<own-hex>, publishes on c2s/<own-hex>.
 * Its one link to the server exists from the first subscription on and
 * survives reconnections to the broker (the byte stream goes on: with QoS
 * 2 and a persistent session nothing is lost or repeated). */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/payload.h"
#include "core/status.h"
#include "core/timeutil.h"
#include "mqtt/mqtt_internal.h"

static void attach_new_link(struct mqtt_state *t)
{
    struct nq_session *s = t->c->sessions;
    if (s->fin_sent && s->fin_received)
        return; /* the session ended: nothing to carry on */
    struct mqtt_link *l = mqtt_link_new(t, t->own_hex, "c2s/");
    if (!l)
        return;
    nq_core_client_attach(t->c, &l->link);
    if (t->ini_retry) {
        ev_timer_stop(t->c->loop, &t->ini_timer);
        ev_timer_set(&t->ini_timer, t->ini_wait, 0.);
        ev_timer_start(t->c->loop, &t->ini_timer);
    }
}

/* After the broker lost our session, our new ini went unanswered for
 * ini_wait seconds: most likely it was published before the server had
 * subscribed again, and the broker dropped it (MQTT keeps nothing for a
 * topic nobody subscribed to). Start the stream over: what was sent on this
 * link and not acknowledged by the server's ini goes again after a new ini.
 * Not done for a first ini (start the server first, docs/mqtt.md): a
 * server merely slow to answer would take the second ini for our fin. */
static void on_ini_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mqtt_state *t = w->data;
    struct nq_comm *c = t->c;
    struct mqtt_link *l = t->links;
    if (!t->ini_retry || c->close_done || !l)
        return;
    if (l->link.peer_ini) { /* answered: back to normal */
        t->ini_retry = 0;
        t->ini_wait = MQTT_INI_WAIT;
        return;
    }
    if (!t->connected || !t->subscribed) { /* nothing can be answered now: look again later */
        ev_timer_set(w, t->ini_wait, 0.);
        ev_timer_start(loop, w);
        return;
    }
    nq_log(c, NQ_LOG_WARN, "mqtt: no answer from the server to our ini for %.0f s since the broker "
           "lost our session (it may not have subscribed again yet): starting the stream over",
           t->ini_wait);
    t->ini_wait = t->ini_wait * 2 > MQTT_INI_WAIT_MAX ? MQTT_INI_WAIT_MAX : t->ini_wait * 2;
    mqtt_link_close(l, "no answer to our ini");
    attach_new_link(t);
    nq_core_flush(c); /* the new link's ini goes out now */
}

void mqtt_client_session_lost(struct mqtt_state *t)
{
    struct nq_comm *c = t->c;
    struct nq_session *s = c->sessions;
    t->ini_retry = 1;
    t->ini_wait = MQTT_INI_WAIT;
    /* our fin, if the broker acknowledged it, may be lost with the rest: it
     * goes again after the new ini, and the server answers it again */
    if (s->fin_sent && !s->fin_received) {
        struct nq_send_item *it = calloc(1, sizeof *it);
        if (it && (it->p = nq_payload_control(c->o.dialect == NQ_DIALECT_LEGACY ? NULL : c->o.id))) {
            it->fin = 1;
            nq_session_push(s, it);
            s->fin_sent = 0;
        } else {
            free(it);
            nq_log(c, NQ_LOG_ERROR, "mqtt: out of memory queueing our fin again");
        }
    }
    while (t->links)
        mqtt_link_close(t->links, "the broker lost the MQTT session");
    /* a new link now if subscribed again already, else mqtt_client_ready's */
    if (t->connected && t->subscribed && !c->close_done) {
        attach_new_link(t);
        nq_core_flush(c);
    }
}

void mqtt_client_ready(struct mqtt_state *t)
{
    if (!t->links)
        attach_new_link(t);
    else
        mqtt_kick_all(t);
}

void mqtt_client_message(struct mqtt_state *t, struct mqtt_in *in)
{
    struct nq_comm *c = t->c;
    if (in->topic_cut || strcmp(in->topic, t->sub_topic) != 0 || in->msg->retained) {
        nq_log_limited(c, &t->warn_rl, NQ_LOG_WARN, "mqtt: ignoring %zu bytes on topic '%.60s'%s",
                       in->size, in->topic, in->msg->retained ? " (retained)" : "");
        return;
    }
    struct mqtt_link *l = t->links;
    if (!l)
        return;
    /* after a lost broker session, the server's new stream begins with its
     * ini; anything before it is the tail of its old stream, which must
     * not make us start over once more (a second ini reads as our fin) */
    static const uint8_t len16[8] = {0, 0, 0, 0, 0, 0, 0, NQ_ID_SIZE};
    if (t->ini_retry && !l->link.peer_ini && !nq_framer_partial(&l->link.fr) &&
        (in->size < sizeof len16 || memcmp(in->msg->payload, len16, sizeof len16) != 0)) {
        nq_log_limited(c, &t->warn_rl, NQ_LOG_WARN, "mqtt: ignoring %zu bytes on %s before the "
                       "server's new ini (the rest of its stream from before the broker lost "
                       "the session)", in->size, in->topic);
        return;
    }
    int held = t->ini_retry && !l->link.peer_ini;
    if (mqtt_link_feed(l, in) < 0) {
        if (!c->close_phase && t->subscribed)
            attach_new_link(t); /* start over with a fresh ini */
    } else if (held && l->link.peer_ini) {
        mqtt_link_kick(l); /* the server answered our ini: the rest may go */
    }
}

void mqtt_client_unreachable(struct mqtt_state *t, const char *why)
{
    char cause[400];
    snprintf(cause, sizeof cause, "cannot connect to the broker at %s (%s)", t->uri, why);
    /* the core's client policy: the cause, rate-limited, and the connect
     * timeout (the broker's own backoff stays in mqtt_broker.c: it is a
     * connection to a broker, not to the server) */
    nq_core_client_unreachable(t->c, cause);
}

static nq_status client_start(struct nq_comm *c)
{
    struct mqtt_state *t;
    nq_status st = mqtt_state_start(c, &t);
    if (st != NQ_OK)
        return st;
    ev_timer_init(&t->ini_timer, on_ini_timer, 0., 0.);
    t->ini_timer.data = t;
    t->ini_wait = MQTT_INI_WAIT;
    nq_core_set_transport(c, t);
    nq_core_set_port(c, c->o.port);
    return NQ_OK;
}

static void client_kick(struct nq_comm *c, struct nq_session *s)
{
    mqtt_link_kick((struct mqtt_link *)s->link);
}

static void client_close_begin(struct nq_comm *c)
{
    nq_core_client_close_begin(c, c->sessions->link != NULL);
}

static void client_abort(struct nq_comm *c)
{
    struct mqtt_state *t = c->transport;
    while (t->links)
        mqtt_link_close(t->links, "close timed out");
}

static void client_resume(struct nq_comm *c)
{
    mqtt_resume(c->transport);
}

static void client_drop_link(struct nq_comm *c, struct nq_link *l)
{
    mqtt_link_close((struct mqtt_link *)l, "dropped");
}

static void client_destroy(struct nq_comm *c)
{
    struct mqtt_state *t = c->transport;
    if (!t)
        return;
    /* close is done by now: the core marks it before destroy */
    mqtt_state_destroy(t);
    nq_core_set_transport(c, NULL);
}

const struct nq_transport_ops nq_mqtt_client_ops = {
    .start = client_start,
    .kick = client_kick,
    .close_begin = client_close_begin,
    .abort = client_abort,
    .resume = client_resume,
    .drop_link = client_drop_link,
    .destroy = client_destroy,
};
