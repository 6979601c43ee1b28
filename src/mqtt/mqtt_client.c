/* MQTT client: subscribes to s2c/<own-hex>, publishes on c2s/<own-hex>.
 * Its one link to the server exists from the first subscription on and
 * survives reconnections to the broker (the byte stream goes on: with QoS
 * 2 and a persistent session nothing is lost or repeated). */
#include <string.h>

#include "core/status.h"
#include "core/timeutil.h"
#include "mqtt/mqtt_internal.h"

static void attach_new_link(struct mqtt_state *t)
{
    struct nq_session *s = t->c->sessions;
    if (s->fin_sent && s->fin_received)
        return; /* the session ended: nothing to carry on */
    struct mqtt_link *l = mqtt_link_new(t, t->own_hex, "c2s/");
    if (l)
        nq_core_client_attach(t->c, &l->link);
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
    if (mqtt_link_feed(l, in) < 0 && !c->close_phase && t->subscribed)
        attach_new_link(t); /* start over with a fresh ini */
}

void mqtt_client_unreachable(struct mqtt_state *t, const char *why)
{
    struct nq_comm *c = t->c;
    struct nq_session *s = c->sessions;
    int64_t now = nq_now_ms();
    if (!t->first_attempt_ms)
        t->first_attempt_ms = now;
    if (c->o.connect_timeout_ms >= 0 && now - t->first_attempt_ms > c->o.connect_timeout_ms &&
        nq_session_has_output(s)) {
        nq_log(c, NQ_LOG_WARN, "mqtt: broker %s unreachable for %lld ms (%s): failing pending puts",
               t->uri, (long long)(now - t->first_attempt_ms), why);
        nq_session_fail_all(c, s, NQ_EADDR);
        t->first_attempt_ms = now;
    }
}

static nq_status client_start(struct nq_comm *c)
{
    struct mqtt_state *t;
    nq_status st = mqtt_state_start(c, &t);
    if (st != NQ_OK)
        return st;
    c->transport = t;
    c->port = c->o.port;
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
    pthread_mutex_lock(&c->close_mu);
    c->close_done = 1; /* no reconnection from here on */
    pthread_mutex_unlock(&c->close_mu);
    mqtt_state_destroy(t);
    c->transport = NULL;
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
