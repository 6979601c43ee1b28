/* MQTT server: subscribes to c2s/+ and makes a link per client topic on
 * the first publish from it; answers on s2c/<client-hex>. */
#include <string.h>

#include "core/status.h"
#include "mqtt/mqtt_internal.h"

/* Every client's stream has a hole: drop its link (its session lingers
 * with what is queued for it); the client starts over with a new ini
 * (mqtt_client_session_lost), and what arrives before that is refused. */
void mqtt_server_session_lost(struct mqtt_state *t)
{
    while (t->links)
        mqtt_link_close(t->links, "the broker lost the MQTT session");
}

void mqtt_server_ready(struct mqtt_state *t)
{
    mqtt_kick_all(t);
}

void mqtt_server_message(struct mqtt_state *t, struct mqtt_in *in)
{
    struct nq_comm *c = t->c;
    if (in->msg->retained) {
        /* left on the broker by someone else: not part of a live stream */
        nq_log_limited(c, &t->warn_rl, NQ_LOG_WARN, "mqtt: ignoring a retained message on %.60s",
                       in->topic);
        return;
    }
    const char *hex = in->topic_cut ? NULL : mqtt_topic_id(in->topic, "c2s/");
    if (!hex) {
        nq_log_limited(c, &t->warn_rl, NQ_LOG_WARN,
                       "mqtt: ignoring %zu bytes on topic '%.60s': not c2s/<32 lowercase hex digits>",
                       in->size, in->topic);
        return;
    }
    struct mqtt_link *l = mqtt_link_find(t, hex);
    if (!l) {
        if (c->close_phase) {
            nq_log(c, NQ_LOG_INFO, "mqtt: server closing: ignoring new client %s", hex);
            return;
        }
        if (!(l = mqtt_link_new(t, hex, "s2c/")))
            return;
        l->check_ini = 1; /* its ini must name the topic's id */
        nq_log(c, NQ_LOG_DEBUG, "mqtt: new client topic c2s/%s", hex);
    }
    mqtt_link_feed(l, in);
}

static nq_status server_start(struct nq_comm *c)
{
    struct mqtt_state *t;
    nq_status st = mqtt_state_start(c, &t);
    if (st != NQ_OK)
        return st;
    nq_core_set_transport(c, t);
    nq_core_set_port(c, c->o.port); /* the broker's */
    return NQ_OK;
}

static void server_kick(struct nq_comm *c, struct nq_session *s)
{
    mqtt_link_kick((struct mqtt_link *)s->link);
}

static void server_close_begin(struct nq_comm *c)
{
    struct mqtt_state *t = c->transport;
    /* topics that never said who they are are not clients to wait for */
    for (struct mqtt_link *l = t->links, *next; l; l = next) {
        next = l->next;
        if (!l->link.s)
            mqtt_link_close(l, "server closing");
    }
    if (nq_core_live_links(c) == 0)
        nq_core_close_done(c, NQ_OK);
}

static void server_abort(struct nq_comm *c)
{
    struct mqtt_state *t = c->transport;
    while (t->links)
        mqtt_link_close(t->links, "server close timed out");
}

static void server_resume(struct nq_comm *c)
{
    mqtt_resume(c->transport);
}

static void server_drop_link(struct nq_comm *c, struct nq_link *l)
{
    mqtt_link_close((struct mqtt_link *)l, "replaced by a reconnection");
}

static void server_destroy(struct nq_comm *c)
{
    if (!c->transport)
        return;
    mqtt_state_destroy(c->transport);
    nq_core_set_transport(c, NULL);
}

const struct nq_transport_ops nq_mqtt_server_ops = {
    .start = server_start,
    .kick = server_kick,
    .close_begin = server_close_begin,
    .abort = server_abort,
    .resume = server_resume,
    .drop_link = server_drop_link,
    .destroy = server_destroy,
};
