/* A link = one peer's pair of topics. Output: the session's unsent bytes
 * are cut into publishes of up to the transport size. When puts complete:
 *  - QoS 0: once paho accepted the publish (it copies the bytes); there is
 *    no delivery receipt in QoS 0, so nothing later can be waited for.
 *  - QoS 1/2: once the broker acknowledged it (PUBACK / PUBCOMP), in order.
 * Memory: at most `window` bytes sit in paho's queues at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/mqtt_internal.h"

#define GATHER_IOV 512

struct mqtt_link *mqtt_link_new(struct mqtt_state *t, const char *hex, const char *out_prefix)
{
    struct nq_comm *c = t->c;
    struct mqtt_link *l = calloc(1, sizeof *l);
    if (!l) {
        nq_log(c, NQ_LOG_ERROR, "mqtt: out of memory for a link");
        return NULL;
    }
    l->t = t;
    memcpy(l->hex, hex, MQTT_HEX_LEN);
    snprintf(l->out_topic, sizeof l->out_topic, "%s%s", out_prefix, hex);
    snprintf(l->link.name, sizeof l->link.name, "mqtt %.50s", c->purpose == NQ_SERVER
             ? l->out_topic : t->uri);
    /* the message limit (handshake frames pass whatever it is) and the
     * communicator's partial limit */
    nq_core_link_init(c, &l->link);
    l->next = t->links;
    if (t->links)
        t->links->prev = l;
    t->links = l;
    return l;
}

struct mqtt_link *mqtt_link_find(struct mqtt_state *t, const char *hex)
{
    for (struct mqtt_link *l = t->links; l; l = l->next)
        if (memcmp(l->hex, hex, MQTT_HEX_LEN) == 0)
            return l;
    return NULL;
}

static void all_unlink(struct mqtt_state *t, struct mqtt_pub *p)
{
    if (p->all_prev)
        p->all_prev->all_next = p->all_next;
    else
        t->all = p->all_next;
    if (p->all_next)
        p->all_next->all_prev = p->all_prev;
    p->all_next = p->all_prev = NULL;
}

void mqtt_link_close(struct mqtt_link *l, const char *why)
{
    struct mqtt_state *t = l->t;
    if (l->prev)
        l->prev->next = l->next;
    else
        t->links = l->next;
    if (l->next)
        l->next->prev = l->prev;
    /* publishes still with paho complete later without us */
    for (struct mqtt_pub *p = l->unacked_head, *next; p; p = next) {
        next = p->next;
        p->l = NULL;
        p->next = NULL;
        if (p->done)
            free(p); /* already out of t->all */
    }
    nq_core_link_lost(t->c, &l->link, why);
    free(l);
}

/* Up to one piece of s's bytes past what paho already holds, as iovecs;
 * returns their total length. A piece takes up to t->slack more when that
 * is all there is, so that no small tail is left (see mqtt_state_start). */
static size_t gather_piece(struct mqtt_link *l, struct nq_session *s, struct iovec *iov, int *n)
{
    struct mqtt_state *t = l->t;
    uint64_t most = t->piece + t->slack;
    /* skip bytes published but not yet acknowledged */
    *n = nq_session_gather_at(s, l->unacked, iov, GATHER_IOV, most,
                              l->unacked ? 1 : t->c->o.merge);
    size_t len = 0;
    for (int i = 0; i < *n; i++)
        len += iov[i].iov_len;
    if (len < most || t->slack == 0)
        return len;
    /* more may follow: one piece now, at least the slack left for the next */
    len = 0;
    for (int i = 0; i < *n; i++) {
        if (len + iov[i].iov_len >= t->piece) {
            iov[i].iov_len = (size_t)(t->piece - len);
            *n = i + 1;
            return (size_t)t->piece;
        }
        len += iov[i].iov_len;
    }
    return len;
}

void mqtt_link_kick(struct mqtt_link *l)
{
    struct mqtt_state *t = l->t;
    struct nq_comm *c = t->c;
    struct nq_session *s = l->link.s;
    /* lost_pending: this link's stream ends with what is still in the inbox */
    if (!s || s->link != &l->link || l->rewinding || t->lost_pending)
        return;
    /* A client after a lost broker session sends its ini alone and the
     * rest once the server answered it: the server may not be subscribed
     * again yet, and a later piece that reached it alone could begin with
     * our fin, which is the same 24 bytes as our ini (it then took the fin
     * for an ini, answered it, and everything between was lost). */
    int hold = t->ini_retry && !l->link.peer_ini && c->purpose == NQ_CLIENT;
    while (mqtt_can_send(t) && t->inflight < t->window && !(hold && l->ini_out)) {
        struct iovec iov[GATHER_IOV];
        int n;
        size_t len = 0;
        if (hold) { /* the first frame only: the ini the link began with */
            n = nq_session_gather_at(s, l->unacked, iov, GATHER_IOV, UINT64_MAX, 0);
            for (int i = 0; i < n; i++)
                len += iov[i].iov_len;
            l->ini_out = 1;
        } else {
            len = gather_piece(l, s, iov, &n);
        }
        if (len == 0)
            break;
        struct mqtt_pub *p = calloc(1, sizeof *p);
        if (!p) {
            nq_log(c, NQ_LOG_ERROR, "mqtt: out of memory for a publish");
            break;
        }
        p->ev.kind = MQTT_EV_PUB_DONE;
        p->t = t;
        p->size = len;
        /* the worker calls paho (mqtt_worker.c): never this thread */
        if (mqtt_worker_send(t, p, l->out_topic, iov, n, len) != 0) {
            free(p);
            nq_log(c, NQ_LOG_ERROR, "mqtt: out of memory for a publish of %zu bytes", len);
            break;
        }
        p->all_next = t->all;
        if (t->all)
            t->all->all_prev = p;
        t->all = p;
        mqtt_drops_sent(t, len);
        t->inflight += len;
        atomic_store(&t->paho_bytes, t->inflight);
        if (t->qos == 0) {
            nq_session_consume(c, s, len);
        } else {
            p->l = l;
            if (l->unacked_tail)
                l->unacked_tail->next = p;
            else
                l->unacked_head = p;
            l->unacked_tail = p;
            l->unacked += len;
        }
    }
    /* nothing awaits an ack: the link is done. Not closed here: kick runs
     * inside nq_core_flush, which uses the session after kick returns, and
     * closing a server's finished link frees its session (ASan:
     * use-after-free in nq_core_flush). The loop closes it next turn. */
    if (!l->unacked_head && nq_session_finished(s) && !l->finish_pending) {
        l->finish_pending = 1;
        ev_async_send(c->loop, &t->async);
    }
}

/* on_async: close the links kick found finished (see mqtt_link_kick) */
void mqtt_close_finished(struct mqtt_state *t)
{
    for (struct mqtt_link *l = t->links, *next; l; l = next) {
        next = l->next;
        if (!l->finish_pending)
            continue;
        l->finish_pending = 0;
        struct nq_session *s = l->link.s;
        if (s && s->link == &l->link && !l->unacked_head && nq_session_finished(s))
            mqtt_link_close(l, "session finished");
    }
}

void mqtt_kick_all(struct mqtt_state *t)
{
    for (struct mqtt_link *l = t->links, *next; l; l = next) {
        next = l->next;
        mqtt_link_kick(l);
    }
}

/* Every publish of l has completed, one way or the other. */
static int settled(struct mqtt_link *l)
{
    for (struct mqtt_pub *p = l->unacked_head; p; p = p->next)
        if (!p->done)
            return 0;
    return 1;
}

/* Paho discards the publishes it had not written when the connection
 * drops (those in flight it keeps and resends itself). Once all are
 * settled, what failed is sent again from the first failure on, so the
 * stream keeps its order. A success after a failure would mean paho
 * delivered out of order: that cannot be repaired, only said. */
static void rewind_link(struct mqtt_link *l)
{
    int seen_failure = 0;
    for (struct mqtt_pub *p = l->unacked_head; p; p = p->next) {
        if (p->failed)
            seen_failure = 1;
        else if (seen_failure)
            nq_log(l->t->c, NQ_LOG_ERROR, "mqtt: %s: a publish succeeded after an earlier one failed; "
                   "the stream to this peer may be corrupt", l->out_topic);
    }
    while (l->unacked_head) {
        struct mqtt_pub *q = l->unacked_head;
        l->unacked_head = q->next;
        free(q);
    }
    l->unacked_tail = NULL;
    l->unacked = 0;
    l->rewinding = 0;
    nq_log(l->t->c, NQ_LOG_INFO, "mqtt: %s: sending again what the broker did not take", l->out_topic);
}

void mqtt_pub_done(struct mqtt_state *t, struct mqtt_pub *p)
{
    struct nq_comm *c = t->c;
    all_unlink(t, p);
    t->inflight -= p->size;
    atomic_store(&t->paho_bytes, t->inflight);
    struct mqtt_link *l = p->l;
    if (p->ev.rc)
        /* QoS > 0: sent again (by the link, or from the session once its
         * link is gone); QoS 0: lost */
        nq_log(c, l || t->qos > 0 ? NQ_LOG_INFO : NQ_LOG_WARN, "mqtt: a publish of %llu bytes%s%s failed: %s",
               (unsigned long long)p->size, l ? " to " : "", l ? l->out_topic : "",
               MQTTAsync_strerror(p->ev.rc));
    if (!l) {
        free(p);
        mqtt_kick_all(t);
        return;
    }
    p->done = 1;
    p->failed = p->ev.rc != 0;
    if (!p->failed && t->qos > 0)
        mqtt_drops_done(t);
    if (p->failed)
        l->rewinding = 1;
    uint64_t n = 0;
    while (l->unacked_head && l->unacked_head->done && !l->unacked_head->failed) {
        struct mqtt_pub *q = l->unacked_head;
        l->unacked_head = q->next;
        if (!l->unacked_head)
            l->unacked_tail = NULL;
        n += q->size;
        free(q);
    }
    l->unacked -= n;
    if (l->rewinding && settled(l))
        rewind_link(l);
    struct nq_session *s = l->link.s;
    if (n && s && s->link == &l->link) {
        nq_session_consume(c, s, n);
        if (nq_session_finished(s)) {
            mqtt_link_close(l, "session finished");
            l = NULL;
        }
    }
    mqtt_kick_all(t);
}

/* How many of the len bytes at buf may go to the core: all of them, or
 * those before a frame header that announces more than the message limit.
 * The core would say so itself, but once per publish; a broker client can
 * send such publishes at will, so the warning is ours and rate-limited. */
static size_t scan_headers(struct mqtt_link *l, const uint8_t *buf, size_t len, uint64_t *bad)
{
    uint64_t limit = l->link.fr.limit;
    size_t i = 0;
    while (i < len) {
        if (l->scan_left) {
            size_t skip = l->scan_left < len - i ? (size_t)l->scan_left : len - i;
            l->scan_left -= skip;
            i += skip;
            continue;
        }
        l->scan_hdr[l->scan_have++] = buf[i++];
        if (l->scan_have < sizeof l->scan_hdr)
            continue;
        uint64_t size = 0;
        for (int k = 0; k < 8; k++)
            size = size << 8 | l->scan_hdr[k];
        l->scan_have = 0;
        if (size > limit) {
            *bad = size;
            return i >= 8 ? i - 8 : 0; /* begun in an earlier publish: 0 */
        }
        l->scan_left = size;
    }
    return len;
}

/* Drop l for garbage a broker client sent (rate-limited warning). */
static int refuse(struct mqtt_link *l, const char *fmt, unsigned long long a, unsigned long long b)
{
    struct mqtt_state *t = l->t;
    char what[160];
    snprintf(what, sizeof what, fmt, a, b);
    nq_log_limited(t->c, &t->warn_rl, NQ_LOG_WARN, "mqtt %s%s: %s: protocol error, dropping this link",
                   t->c->purpose == NQ_SERVER ? "c2s/" : "s2c/", l->hex, what);
    /* a frame cut off here is part of the garbage: no second warning for it */
    nq_framer_reset(&l->link.fr);
    mqtt_link_close(l, "protocol error");
    return -1;
}

static int feed(struct mqtt_link *l, const uint8_t *buf, size_t len)
{
    uint64_t bad = 0;
    size_t ok = scan_headers(l, buf, len, &bad);
    if (ok && nq_core_feed(l->t->c, &l->link, buf, ok) < 0) {
        mqtt_link_close(l, "protocol error");
        return -1;
    }
    if (ok < len)
        return refuse(l, "a frame of %llu bytes exceeds the message limit of %llu",
                      (unsigned long long)bad, (unsigned long long)l->link.fr.limit);
    return 0;
}

/* The held-back first frame is an ini (a 16-byte frame) naming another id
 * than the topic's c2s/<hex>. */
static int ini_mismatch(const struct mqtt_link *l, char *got)
{
    mqtt_hex(l->ini_head + 8, got);
    return memcmp(got, l->hex, MQTT_HEX_LEN) != 0;
}

/* The first 8 bytes held back announce a 16-byte frame (an ini). */
static int ini_header(const struct mqtt_link *l)
{
    static const uint8_t len16[8] = {0, 0, 0, 0, 0, 0, 0, NQ_ID_SIZE};
    return memcmp(l->ini_head, len16, sizeof len16) == 0;
}

int mqtt_link_feed(struct mqtt_link *l, struct mqtt_in *in)
{
    const uint8_t *p = in->msg->payload;
    size_t n = in->size;
    if (l->check_ini) {
        size_t take = sizeof l->ini_head - l->ini_len;
        if (take > n)
            take = n;
        memcpy(l->ini_head + l->ini_len, p, take);
        l->ini_len += take;
        p += take;
        n -= take;
        if (l->ini_len < 8)
            return 0;
        if (!ini_header(l)) {
            /* the core would refuse it too, with a warning per publish */
            uint64_t size = 0;
            for (int k = 0; k < 8; k++)
                size = size << 8 | l->ini_head[k];
            return refuse(l, "its first frame is %llu bytes, not a %llu-byte id",
                          (unsigned long long)size, NQ_ID_SIZE);
        }
        if (l->ini_len < sizeof l->ini_head)
            return 0; /* wait for the whole ini */
        l->check_ini = 0;
        char got[MQTT_HEX_LEN + 1];
        if (ini_mismatch(l, got)) {
            struct mqtt_state *t = l->t;
            nq_log_limited(t->c, &t->warn_rl, NQ_LOG_WARN, "mqtt c2s/%s: its ini names %s, not "
                           "the topic's id: protocol error, dropping this link", l->hex, got);
            mqtt_link_close(l, "protocol error");
            return -1;
        }
        if (feed(l, l->ini_head, l->ini_len) < 0)
            return -1;
    }
    return n ? feed(l, p, n) : 0;
}
