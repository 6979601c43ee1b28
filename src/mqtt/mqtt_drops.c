/* A broker that drops the connection carrying our publishes right after
 * we publish: say why that likely is, once per run of such drops.
 *
 * MQTT 3.1.1 has no way to refuse a publish. A broker that caps the packet
 * size (mosquitto max_packet_size, EMQX mqtt.max_packet_size, HiveMQ
 * max-packet-size, VerneMQ max_message_size) closes the connection of a
 * client that sends a bigger one, and one that disconnects on a denied
 * publish (EMQX's authorization deny_action = disconnect) does the same.
 * All paho reports is "connection lost". At QoS 1/2 the publish is sent
 * again after each reconnection and dropped again, for ever; at QoS 0 each
 * oversized piece is lost and the stream with it. Measured with mosquitto
 * (tests/integration/mqtt_brokers.c, test_packet_cap_exceeded): the log
 * only said "lost the broker ... reconnecting", again and again.
 *
 * Rule: a loss counts when paho still held publishes of ours (being
 * written, or written and not yet confirmed) or the last one was handed
 * over less than MQTT_DROP_RECENT seconds before, and (QoS 1/2) none
 * completed on that connection. MQTT_DROPS such losses in a row: an error
 * naming the largest publish involved and the transport size that keeps
 * publishes under a cap. A loss that does not count, or a completed QoS
 * 1/2 publish, ends the run. A broker that crashes twice in a row while
 * we stream would be taken for one too: the message says "if". Loop
 * thread only. */
#include "mqtt/mqtt_internal.h"

#define MQTT_DROP_RECENT 1.0 /* s */
#define MQTT_DROPS 2

void mqtt_drops_up(struct mqtt_state *t)
{
    t->carry_done = 0;
}

void mqtt_drops_sent(struct mqtt_state *t, uint64_t size)
{
    t->carry_last_sent = ev_now(t->c->loop);
    if (size > t->carry_max)
        t->carry_max = size;
}

void mqtt_drops_done(struct mqtt_state *t)
{
    t->carry_done++;
    t->carry_drops = 0;
    t->carry_max = 0;
}

void mqtt_drops_lost(struct mqtt_state *t)
{
    int held = 0;
    for (struct mqtt_pub *p = t->all; p; p = p->all_next) {
        held = 1;
        if (p->size > t->carry_max)
            t->carry_max = p->size;
    }
    int quick = (held || ev_now(t->c->loop) - t->carry_last_sent < MQTT_DROP_RECENT) &&
                (t->qos == 0 || t->carry_done == 0);
    if (!quick) {
        t->carry_drops = 0;
        t->carry_max = 0;
        return;
    }
    if (++t->carry_drops != MQTT_DROPS)
        return;
    /* the topic and fixed header add at most 64 bytes to the payload */
    nq_log(t->c, NQ_LOG_ERROR,
           "mqtt: the broker at %s closed the connection %d times in a row right after our "
           "publishes (the largest: %llu bytes of payload; %s). A broker that caps the packet "
           "size does that to a bigger publish, and so does one that disconnects on a denied "
           "publish. If it caps the size, set the transport size below the cap minus 64 bytes "
           "(nq_options_set_transport_size; now %llu); see docs/mqtt-brokers.md",
           t->uri, MQTT_DROPS, (unsigned long long)t->carry_max,
           t->qos ? "none acknowledged: they are sent again at each reconnection"
                  : "each such publish was lost, and the stream with it",
           (unsigned long long)t->c->o.transport_size);
}
