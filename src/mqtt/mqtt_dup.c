/* QoS 2 redeliveries that are not new messages.
 *
 * Seen with mosquitto 2.0.11 restarting from its persistence file: for
 * QoS 2 messages it had already released to us (PUBREL sent, our PUBCOMP
 * not yet in when it stopped) it sends the whole PUBLISH again after the
 * restart, instead of the PUBREL that MQTT 3.1.1 (4.3.3) asks for. Paho had
 * delivered those on the PUBREL and forgotten their ids, so it delivers
 * them again (with the DUP flag reported as 0): pieces of the stream twice,
 * and the framed stream is corrupt from there on.
 *
 * So we remember the last MQTT_SEEN QoS 2 messages delivered (connection
 * generation, packet id, length, hash of topic and payload). Right after a
 * reconnection the broker resends its unfinished messages first; while
 * what arrives matches a message delivered on an earlier connection it is
 * dropped, and the first one that does not match ends that check until
 * the next reconnection. A new message would have to reuse a packet id of
 * the last connection with the very same bytes, and come first, to be
 * taken for a resend. Loop thread only. */
#include <stdlib.h>
#include <string.h>

#include "mqtt/mqtt_internal.h"

struct mqtt_seen {
    unsigned gen;
    int msgid;
    size_t size;
    uint64_t hash;
};

static uint64_t hash_of(const char *topic, const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, 64 bits */
    for (const char *s = topic; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static int seen_before(struct mqtt_state *t, struct mqtt_in *in, uint64_t h)
{
    for (size_t i = 0; i < MQTT_SEEN; i++) {
        struct mqtt_seen *e = &t->seen[i];
        if (e->gen && e->gen < in->gen && e->msgid == in->msg->msgid && e->size == in->size &&
            e->hash == h)
            return 1;
    }
    return 0;
}

int mqtt_dup_check(struct mqtt_state *t, struct mqtt_in *in)
{
    MQTTAsync_message *m = in->msg;
    if (m->qos != 2)
        return 0;
    if (!t->seen) {
        t->seen = calloc(MQTT_SEEN, sizeof *t->seen);
        if (!t->seen)
            return 0; /* no memory: no check */
    }
    uint64_t h = hash_of(in->topic, m->payload, in->size);
    /* a broker that had no session for us resends nothing: without this, a
     * fin after a broker restart without persistence was dropped as a
     * resend of the ini (the same 24 bytes, and packet id 1 both times) */
    if (in->gen != t->seen_done_gen && in->gen == atomic_load(&t->fresh_gen))
        t->seen_done_gen = in->gen;
    if (in->gen != t->seen_done_gen) {
        if (seen_before(t, in, h)) {
            nq_log(t->c, NQ_LOG_INFO, "mqtt: dropping a QoS 2 message the broker sent again after "
                   "a reconnection although it had released it (id %d, %zu bytes on %s)",
                   m->msgid, in->size, in->topic);
            return 1;
        }
        t->seen_done_gen = in->gen; /* the resends are over */
    }
    struct mqtt_seen *e = &t->seen[t->seen_next];
    t->seen_next = (t->seen_next + 1) % MQTT_SEEN;
    e->gen = in->gen;
    e->msgid = m->msgid;
    e->size = in->size;
    e->hash = h;
    return 0;
}
