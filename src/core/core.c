/* The transport-independent session logic on the I/O thread: handshake,
 * delivery to the receive queue, put dispatch, close. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/comm_internal.h"
#include "core/future_internal.h"
#include "core/handshake.h"
#include "core/shard.h"
#include "core/timeutil.h"

static void log_line(struct nq_comm *c, nq_log_level level, const char *line);

void nq_log(struct nq_comm *c, nq_log_level level, const char *fmt, ...)
{
    if (level > c->o.log_level)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_line(c, level, line);
}

void nq_log_limited(struct nq_comm *c, struct nq_ratelimit *rl, nq_log_level level,
                    const char *fmt, ...)
{
    if (level > c->o.log_level)
        return;
    int64_t now = nq_now_ms();
    if (now < rl->next_ms) {
        rl->suppressed++;
        return;
    }
    rl->next_ms = now + NQ_LOG_INTERVAL_MS;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (rl->suppressed && n >= 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, " (%lu similar suppressed)", rl->suppressed);
    rl->suppressed = 0;
    log_line(c, level, line);
}

static void log_line(struct nq_comm *c, nq_log_level level, const char *line)
{
    if (c->o.log_fn) {
        c->o.log_fn(c->o.log_user, level, line);
        return;
    }
    static const char *names[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "netqueue: %s: %s\n", names[level], line);
}

/* ---- peer events (abi/netqueue/receive.h) ---- */

/* Queued like a message, so that receivers see it in order with the
 * peer's data: the frames before it were pushed before it. */
void nq_core_event(struct nq_comm *c, nq_msg_kind kind, const uint8_t *peer, const char *detail)
{
    if (!(c->o.events & NQ_EVENT_BIT(kind)))
        return;
    struct nq_msg *m = nq_msg_event(kind, peer, detail);
    if (!m) {
        nq_log(c, NQ_LOG_ERROR, "out of memory queueing a peer event");
        return;
    }
    size_t dropped = nq_recvq_push_from(&nq_root(c)->rq, c->rxsrc, m);
    if (dropped)
        nq_log_limited(c, &c->drop_log, NQ_LOG_WARN, "receive queue full: dropped %zu message(s)", dropped);
}

void nq_core_refused(struct nq_comm *c, struct nq_link *l, const char *why)
{
    char detail[512];
    snprintf(detail, sizeof detail, "%s: %s", l->name, why);
    nq_core_event(c, NQ_EVENT_REFUSED, NULL, detail);
}

/* ---- live peer list (read by application threads) ---- */

static void peers_update(struct nq_comm *shard, const uint8_t *id, int live, int known)
{
    struct nq_comm *c = nq_root(shard); /* one set for every I/O thread */
    pthread_mutex_lock(&c->peers_mu);
    if (live)
        nq_idset_add(&c->live, id);
    else
        nq_idset_remove(&c->live, id);
    if (known)
        nq_idset_add(&c->known, id);
    else
        nq_idset_remove(&c->known, id);
    atomic_store_explicit(&c->live_n, c->live.n, memory_order_relaxed);
    pthread_mutex_unlock(&c->peers_mu);
}

/* ---- sessions ---- */

/* Server: the session of a peer id (hashed: every targeted put looks its
 * peers up here). */
static struct nq_session *session_find(struct nq_comm *c, const uint8_t *id)
{
    return nq_idmap_get(&c->session_by_id, id);
}

static void mark_dirty(struct nq_comm *c, struct nq_session *s)
{
    if (!s->dirty) {
        s->dirty = 1;
        s->dirty_next = c->dirty;
        c->dirty = s;
    }
}

void nq_core_flush(struct nq_comm *c)
{
    while (c->dirty) {
        struct nq_session *s = c->dirty;
        c->dirty = s->dirty_next;
        s->dirty = 0;
        /* a kick may finish the session and free s: do not look at it after
         * (a direct put's partial write is flagged by the transport's
         * watcher change) */
        if (s->link)
            c->ops->kick(c, s);
        else
            nq_core_note_change(c);
    }
}

/* A session starts lingering just after it got the newest lost_seq, so
 * appending keeps the list in loss order. */
static void set_lingering(struct nq_comm *c, struct nq_session *s, int on)
{
    if (s->lingering == on)
        return;
    s->lingering = on;
    c->lingering += on ? 1 : -1;
    if (on) {
        s->ling_next = NULL;
        s->ling_prev = c->ling_tail;
        if (c->ling_tail)
            c->ling_tail->ling_next = s;
        else
            c->ling_head = s;
        c->ling_tail = s;
        return;
    }
    if (s->ling_prev)
        s->ling_prev->ling_next = s->ling_next;
    else
        c->ling_head = s->ling_next;
    if (s->ling_next)
        s->ling_next->ling_prev = s->ling_prev;
    else
        c->ling_tail = s->ling_prev;
    s->ling_next = s->ling_prev = NULL;
}

/* Every change of s->link goes through here: the count of live links is
 * what a closing server waits on, asked at each link lost. */
static void set_link(struct nq_comm *c, struct nq_session *s, struct nq_link *l)
{
    c->live_links += (l != NULL) - (s->link != NULL);
    s->link = l;
}

/* O(1) in the number of sessions (the list is doubly linked): a server
 * closing N sessions removes N of them. */
static void session_remove(struct nq_comm *c, struct nq_session *s)
{
    set_lingering(c, s, 0);
    if (s->identified && nq_idmap_get(&c->session_by_id, s->peer) == s)
        nq_idmap_del(&c->session_by_id, s->peer);
    if (s->prev)
        s->prev->next = s->next;
    else if (c->sessions == s)
        c->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    /* unlink from the dirty list too (short: sessions with output) */
    struct nq_session **dp = &c->dirty;
    while (s->dirty && *dp && *dp != s)
        dp = &(*dp)->dirty_next;
    if (s->dirty && *dp)
        *dp = s->dirty_next;
    nq_session_fail_all(c, s, NQ_ERESET);
    free(s);
}

static int queue_control(struct nq_session *s, const uint8_t *id, int fin, int front)
{
    struct nq_send_item *it = calloc(1, sizeof *it);
    if (!it)
        return -1;
    it->p = nq_payload_control(id);
    if (!it->p) {
        free(it);
        return -1;
    }
    it->fin = fin;
    it->ini = !fin;
    if (front)
        nq_session_push_front(s, it);
    else
        nq_session_push(s, it);
    return 0;
}

/* Our fin: the id again (current) or an empty frame (legacy). */
static int queue_fin(struct nq_comm *c, struct nq_session *s)
{
    if (s->fin_queued)
        return 0;
    s->fin_queued = 1;
    return queue_control(s, c->o.dialect == NQ_DIALECT_LEGACY ? NULL : c->o.id, 1, 0);
}

/* A new link carries the session on: restart a partly written frame from
 * its start, and put ini in front of everything. */
static void attach(struct nq_comm *c, struct nq_session *s, struct nq_link *l)
{
    set_lingering(c, s, 0);
    set_link(c, s, l);
    l->s = s;
    s->head_off = 0;
    if (queue_control(s, c->o.id, 0, 1) < 0)
        nq_log(c, NQ_LOG_ERROR, "%s: out of memory queueing ini", l->name);
    mark_dirty(c, s);
}

void nq_core_client_attach(struct nq_comm *c, struct nq_link *l)
{
    attach(c, c->sessions, l);
}

static int on_ini(struct nq_comm *c, struct nq_link *l, const uint8_t *id)
{
    if (c->purpose == NQ_CLIENT) {
        struct nq_session *s = l->s;
        if (s->identified && memcmp(s->peer, id, NQ_ID_SIZE) != 0)
            nq_log(c, NQ_LOG_INFO, "%s: server id changed on reconnect", l->name);
        if (s->identified && memcmp(s->peer, id, NQ_ID_SIZE) != 0)
            peers_update(c, s->peer, 0, 0);
        memcpy(s->peer, id, NQ_ID_SIZE);
        peers_update(c, id, 1, 1);
        c->ctr.sessions_opened++;
        if (s->opened_ms) { /* the session goes on over a new connection */
            s->reconnects++;
            c->ctr.reconnects++;
        } else {
            s->opened_ms = nq_now_ms();
        }
        s->identified = 1;
        s->fin_received = 0;
        l->peer_ini = 1;
        nq_core_client_established(c);
        nq_session_ack(c, s);
        nq_core_event(c, NQ_EVENT_CONNECTED, id, l->name);
        return 0;
    }
    struct nq_session *s = session_find(c, id);
    if (s && s->link && s->link != l) {
        nq_log(c, NQ_LOG_INFO, "%s: peer reconnected; dropping its old connection %s",
               l->name, s->link->name);
        struct nq_link *old = s->link;
        set_link(c, s, NULL);
        old->s = NULL;
        c->ops->drop_link(c, old);
    }
    if (s) { /* a known peer came back (or replaced its live link) */
        s->reconnects++;
        c->ctr.reconnects++;
    } else {
        s = calloc(1, sizeof *s);
        if (!s) {
            nq_log(c, NQ_LOG_ERROR, "%s: out of memory for a session", l->name);
            return -1;
        }
        memcpy(s->peer, id, NQ_ID_SIZE);
        if (nq_idmap_put(&c->session_by_id, id, s) < 0) {
            nq_log(c, NQ_LOG_ERROR, "%s: out of memory for a session", l->name);
            free(s);
            return -1;
        }
        s->identified = 1;
        s->opened_ms = nq_now_ms();
        s->next = c->sessions;
        if (s->next)
            s->next->prev = s;
        c->sessions = s;
        c->ctr.sessions_opened++;
    }
    s->fin_received = s->fin_sent = s->fin_queued = 0;
    peers_update(c, id, 1, 1);
    attach(c, s, l);
    nq_core_event(c, NQ_EVENT_CONNECTED, id, l->name);
    return 0;
}

int nq_core_frame(struct nq_comm *c, struct nq_link *l, struct nq_msg *m)
{
    struct nq_session *s = l->s;
    enum nq_frame_kind k = nq_handshake_classify(c->o.dialect, l->peer_ini,
                                                 s ? s->peer : NULL, m->data, m->size);
    switch (k) {
    case NQ_FRAME_BAD_INI: {
        nq_log_limited(c, &c->peer_log, NQ_LOG_WARN, "%s: first frame is %zu bytes, not a 16-byte id: closing",
               l->name, m->size);
        char why[96];
        snprintf(why, sizeof why, "first frame is %zu bytes, not a 16-byte id", m->size);
        nq_msg_free(m);
        nq_core_refused(c, l, why);
        return -1;
    }
    case NQ_FRAME_INI: {
        /* a multi-loop server hands the link to the I/O thread that owns
         * this peer's session, which then runs on_ini */
        int moving = c->purpose == NQ_SERVER ? nq_shard_handover_begin(c, l, m->data) : 0;
        if (moving) {
            nq_msg_free(m);
            return moving < 0 ? -1 : 0;
        }
        int r = on_ini(c, l, m->data);
        nq_msg_free(m);
        l->peer_ini = 1;
        return r;
    }
    case NQ_FRAME_FIN:
        nq_msg_free(m);
        if (!s->fin_received)
            nq_core_event(c, NQ_EVENT_FINISHED, s->peer, "");
        s->fin_received = 1;
        if (queue_fin(c, s) < 0)
            return -1;
        mark_dirty(c, s);
        return 0;
    case NQ_FRAME_DATA:
        break;
    }
    if (s->fin_received)
        nq_log_limited(c, &c->peer_log, NQ_LOG_WARN, "%s: message after fin; delivering it", l->name);
    memcpy(m->peer, s->peer, NQ_ID_SIZE);
    s->msgs_in++;
    s->bytes_in += m->size;
    c->ctr.msgs_in++;
    c->ctr.bytes_in += m->size;
    size_t dropped = nq_recvq_push_from(&nq_root(c)->rq, c->rxsrc, m);
    c->ctr.recv_dropped += dropped;
    if (dropped)
        nq_log_limited(c, &c->drop_log, NQ_LOG_WARN, "receive queue full: dropped %zu message(s)", dropped);
    return 0;
}

struct feed_ctx {
    struct nq_comm *c;
    struct nq_link *l;
    int failed;
};

static void feed_frame(void *ctx, struct nq_msg *m)
{
    struct feed_ctx *f = ctx;
    if (f->failed) {
        nq_msg_free(m);
        return;
    }
    if (f->l->ho) { /* read after the ini, for the I/O thread it goes to */
        nq_shard_handover_hold(f->l, m);
        return;
    }
    if (nq_core_frame(f->c, f->l, m) < 0)
        f->failed = 1;
}

static int feed_status(struct nq_comm *c, struct nq_link *l, nq_status st, int failed)
{
    if (st == NQ_ETOOBIG) {
        c->ctr.frames_too_big++;
        nq_log_limited(c, &c->peer_log, NQ_LOG_WARN, "%s: frame of %llu bytes exceeds the message limit of %llu: closing",
               l->name, (unsigned long long)l->fr.bad_size, (unsigned long long)l->fr.limit);
        return -1;
    }
    if (st == NQ_EAGAIN) {
        c->ctr.frames_over_partial++;
        nq_log_limited(c, &c->pool_log, NQ_LOG_WARN,
                       "%s: a frame of %llu bytes would take the frames being received past "
                       "the partial limit of %llu bytes (%llu held): closing",
                       l->name, (unsigned long long)l->fr.bad_size,
                       (unsigned long long)c->rx_pool.limit, (unsigned long long)c->rx_pool.used);
        return -1;
    }
    if (st == NQ_ENOMEM) {
        nq_log(c, NQ_LOG_ERROR, "%s: out of memory receiving a frame: closing", l->name);
        return -1;
    }
    return failed ? -1 : 0;
}

/* The frames of one read are one batch of the receive queue (getters
 * woken once, at its end). */
static struct feed_ctx feed_begin(struct nq_comm *c, struct nq_link *l, size_t n)
{
    c->ctr.frame_bytes_in += n;
    nq_recvq_batch_begin(c->rxsrc);
    return (struct feed_ctx){c, l, 0};
}

static int feed_end(struct feed_ctx *f, nq_status st)
{
    struct nq_comm *c = f->c;
    struct nq_link *l = f->l;
    nq_recvq_batch_end(&nq_root(c)->rq, c->rxsrc);
    int r = feed_status(c, l, st, f->failed);
    return l->ho ? nq_shard_handover_finish(c, l, r) : r;
}

int nq_core_feed(struct nq_comm *c, struct nq_link *l, const uint8_t *buf, size_t len)
{
    struct feed_ctx f = feed_begin(c, l, len);
    return feed_end(&f, nq_framer_feed(&l->fr, buf, len, feed_frame, &f));
}

int nq_core_direct_commit(struct nq_comm *c, struct nq_link *l, size_t n)
{
    struct feed_ctx f = feed_begin(c, l, n);
    nq_framer_direct_commit(&l->fr, n, feed_frame, &f);
    return feed_end(&f, NQ_OK);
}

int nq_core_scatter_commit(struct nq_comm *c, struct nq_link *l, struct nq_scatter *sc, size_t n)
{
    struct feed_ctx f = feed_begin(c, l, n);
    return feed_end(&f, nq_framer_scatter_commit(&l->fr, sc, n, feed_frame, &f));
}

int nq_core_adopted(struct nq_comm *c, struct nq_link *l, const uint8_t *id,
                    struct nq_msg *frames)
{
    struct feed_ctx f = {c, l, 0};
    f.failed = on_ini(c, l, id) < 0;
    l->peer_ini = 1;
    nq_recvq_batch_begin(c->rxsrc);
    for (struct nq_msg *m = frames, *next; m; m = next) {
        next = m->next;
        m->next = NULL;
        feed_frame(&f, m);
    }
    nq_recvq_batch_end(&nq_root(c)->rq, c->rxsrc);
    return f.failed ? -1 : 0;
}

size_t nq_core_live_links(struct nq_comm *c)
{
    return c->live_links;
}

static void drop_stale_ini(struct nq_comm *c, struct nq_session *s)
{
    nq_session_requeue(s);
    /* a partly written ini belongs to the dead link; the next link sends its own */
    if (s->head && s->head->ini) {
        struct nq_send_item *it = s->head;
        s->head = it->next;
        if (!s->head)
            s->tail = NULL;
        nq_session_fail_item(c, s, it, NQ_OK);
    }
    s->head_off = 0;
}

/* More sessions wait for their peers than the cap allows (peers that say
 * hello under ever new ids and vanish): the one waiting longest goes, the
 * head of the lingering list (it was a scan of every session per
 * eviction: 10,000 evictions among 76,000 sessions stalled the I/O thread
 * for seconds, issue 16). */
static void evict_oldest_lingering(struct nq_comm *c)
{
    struct nq_session *oldest = c->ling_head;
    if (!oldest)
        return;
    char hex[33];
    nq_id_format(oldest->peer, hex);
    nq_log_limited(c, &c->evict_log, NQ_LOG_WARN,
                   "%zu lost sessions wait for their peers, over the cap of %zu: peer %s's "
                   "session dropped early", c->lingering, c->o.linger_max, hex);
    c->ctr.sessions_expired++;
    nq_core_event(c, NQ_EVENT_EXPIRED, oldest->peer, "dropped early: too many lost sessions wait");
    peers_update(c, oldest->peer, 0, 0);
    session_remove(c, oldest);
}

void nq_core_link_lost(struct nq_comm *c, struct nq_link *l, const char *why)
{
    nq_core_note_change(c);
    struct nq_session *s = l->s;
    if (c->purpose == NQ_SERVER && !l->peer_ini && !c->close_phase)
        c->ctr.handshake_failures++; /* refused TLS, garbage, a bad ini, a silent prober */
    /* (a frame refused as too big was reported as that already) */
    if (nq_framer_partial(&l->fr) && !l->fr.bad_size) {
        c->ctr.frames_truncated++;
        nq_log_limited(c, &c->peer_log, NQ_LOG_WARN, "%s: connection ended inside a frame (%s); the partial frame is dropped",
               l->name, why);
    }
    nq_framer_reset(&l->fr);
    l->s = NULL;
    if (!s || s->link != l)
        return;
    set_link(c, s, NULL);
    int clean = s->fin_sent && s->fin_received;
    /* a client's link that never got the server's ini is a failed
     * attempt, which the retry policy reports */
    if (!clean && !c->close_phase && (c->purpose == NQ_SERVER || l->peer_ini)) {
        s->conn_lost++;
        c->ctr.conn_lost++;
        nq_log_limited(c, &c->lost_log, NQ_LOG_WARN, "%s: connection lost without fin (%s)",
                       l->name, why);
    }
    if (!clean && s->identified && (c->purpose == NQ_SERVER || l->peer_ini))
        nq_core_event(c, NQ_EVENT_LOST, s->peer, why);
    drop_stale_ini(c, s);
    if (c->purpose == NQ_SERVER) {
        /* a session that ended without fin is kept for a reconnection */
        peers_update(c, s->peer, 0, !clean);
        s->lost_ms = nq_now_ms();
        s->lost_seq = ++c->lost_count;
        if (clean) {
            session_remove(c, s);
        } else {
            set_lingering(c, s, 1);
            if (c->lingering > c->o.linger_max)
                evict_oldest_lingering(c);
        }
        if (c->close_phase && nq_core_live_links(c) == 0)
            nq_core_close_done(c, NQ_OK);
    } else {
        peers_update(c, s->peer, 0, 1);
        c->retry.after_session = l->peer_ini; /* its retry is no failed attempt */
        if (clean && c->close_phase) {
            nq_session_fail_all(c, s, NQ_OK);
            nq_core_close_done(c, NQ_OK);
        }
    }
}

/* ---- puts and commands from application threads ---- */

/* Server: a peer whose backlog passed the per-peer limit loses its link
 * and its session (what was queued for it fails with NQ_ERESET): its memory
 * comes back now, not after a linger. It may connect again as a new
 * session. */
static void cut_slow_peer(struct nq_comm *c, struct nq_session *s)
{
    char hex[33];
    nq_id_format(s->peer, hex);
    nq_log_limited(c, &c->slow_log, NQ_LOG_WARN,
                   "peer %s holds %llu unsent bytes, over the per-peer limit of %llu: "
                   "disconnecting it; its pending puts fail", hex,
                   (unsigned long long)s->queued, (unsigned long long)c->o.peer_limit);
    c->ctr.peers_cut++;
    struct nq_link *l = s->link;
    if (l) {
        set_link(c, s, NULL);
        l->s = NULL;
        c->ops->drop_link(c, l);
    }
    nq_core_event(c, NQ_EVENT_EXPIRED, s->peer, "over the per-peer limit: disconnected");
    peers_update(c, s->peer, 0, 0);
    session_remove(c, s);
    nq_core_note_change(c);
}

static void dispatch_put(struct nq_comm *c, struct nq_put_req *r)
{
    struct nq_session *targets_inline[1];
    struct nq_session **targets = targets_inline;
    size_t n = 0, cap = 1;
    r->result = NQ_OK;

    if (c->purpose == NQ_CLIENT) {
        targets[n++] = c->sessions;
    } else if (r->npeers == 0) {
        for (struct nq_session *s = c->sessions; s; s = s->next) {
            if (!s->link || !s->identified || s->fin_queued)
                continue;
            if (n == cap) {
                size_t ncap = cap * 2;
                struct nq_session **t = malloc(ncap * sizeof *t);
                if (!t)
                    break;
                memcpy(t, targets, n * sizeof *t);
                if (targets != targets_inline)
                    free(targets);
                targets = t;
                cap = ncap;
            }
            targets[n++] = s;
        }
    } else {
        if (r->npeers > 1 && !(targets = malloc(r->npeers * sizeof *targets))) {
            r->npeers = 0;
            r->result = NQ_ENOMEM;
            targets = targets_inline;
        }
        for (size_t i = 0; i < r->npeers; i++) {
            struct nq_session *s = session_find(c, r->peers + i * NQ_ID_SIZE);
            if (s)
                targets[n++] = s;
            else
                r->result = NQ_ENOPEER;
        }
    }

    /* the put was charged for its estimated targets (submit): settle the
     * difference with the real ones, without waiting (this may be the I/O
     * thread) */
    if (r->budget) {
        uint64_t extra = n > 1 ? (uint64_t)(n - 1) * NQ_TARGET_COST : 0;
        if (extra > r->charged_extra)
            nq_budget_charge(r->budget, extra - r->charged_extra, 0);
        else if (extra < r->charged_extra)
            nq_budget_refund(r->budget, r->charged_extra - extra);
        r->charged += extra - r->charged_extra;
        r->charged_extra = extra;
    }
    r->pending = n + 1; /* +1 holds the request while items are queued */
    for (size_t i = 0; i < n; i++) {
        struct nq_session *ts = targets[i];
        /* a peer that does not take what is sent to it is cut rather than
         * let its backlog grow without bound (one message always fits) */
        if (c->purpose == NQ_SERVER && c->o.peer_limit && ts->queued &&
            (ts->over_limit || ts->queued + r->p->frame_size > c->o.peer_limit)) {
            ts->over_limit = 1;
            r->result = NQ_ERESET;
            r->pending--;
            continue;
        }
        struct nq_send_item *it = i == 0 ? &r->item : calloc(1, sizeof *it);
        if (!it) {
            r->result = NQ_ENOMEM;
            r->pending--;
            continue;
        }
        it->req = r;
        it->p = r->p;
        nq_payload_ref(r->p);
        nq_session_push(targets[i], it);
        mark_dirty(c, targets[i]);
    }
    for (size_t i = 0; i < n; i++) {
        struct nq_session *ts = targets[i];
        if (!ts || !ts->over_limit)
            continue;
        for (size_t j = i + 1; j < n; j++) /* a peer named twice is cut once */
            if (targets[j] == ts)
                targets[j] = NULL;
        cut_slow_peer(c, ts);
    }
    if (targets != targets_inline)
        free(targets);
    /* drop the hold: a put with no target completes at once */
    if (--r->pending == 0)
        nq_core_put_complete(c, r);
}

static void begin_close(struct nq_comm *c)
{
    if (c->close_phase)
        return;
    c->close_phase = 1;
    /* the accepting I/O thread stops handing links over (its close_begin
     * below) before the others close: a hand-over it made is queued ahead
     * of their CLOSE, so no session is adopted after its shard closed */
    nq_shard_close_others(c);
    if (c->purpose == NQ_CLIENT) {
        struct nq_session *s = c->sessions;
        if (queue_fin(c, s) < 0)
            nq_log(c, NQ_LOG_ERROR, "out of memory queueing fin");
        mark_dirty(c, s);
    }
    c->ops->close_begin(c);
}

void nq_core_defer(struct nq_comm *c, struct nq_put_req *r)
{
    r->deferred_next = NULL;
    if (c->deferred_tail)
        c->deferred_tail->deferred_next = r;
    else
        c->deferred = r;
    c->deferred_tail = r;
    nq_core_note_change(c);
}

void nq_core_run_deferred(struct nq_comm *c)
{
    struct nq_put_req *r = c->deferred;
    c->deferred = c->deferred_tail = NULL;
    while (r) {
        struct nq_put_req *next = r->deferred_next;
        nq_core_put_finish(c, r);
        r = next;
    }
}

void nq_core_put_complete(struct nq_comm *c, struct nq_put_req *r)
{
    /* a direct put's thread must not run callbacks: they run on the I/O
     * thread (a part of a put spread over I/O threads may end in the
     * user's callback too) */
    if (c->in_direct && (r->whole || (r->fn && !nq_done_fn_any_thread(r->fn)))) {
        nq_core_defer(c, r);
        return;
    }
    nq_core_put_finish(c, r);
}

void nq_core_put_finish(struct nq_comm *c, struct nq_put_req *r)
{
    if (r->whole) {
        nq_shard_part_done(c, r);
        return;
    }
    nq_count_put_done(c, r->result);
    if (r->fn)
        r->fn(r->user, r->result);
    nq_put_req_free(r);
}

int nq_core_put_direct(struct nq_comm *c, struct nq_put_req *r)
{
    c->in_direct = 1;
    c->io_changed = 0;
    dispatch_put(c, r);
    nq_core_flush(c);
    c->in_direct = 0;
    return c->io_changed;
}

void nq_core_drain(struct nq_comm *c)
{
    if (atomic_exchange(&c->resume_asked, 0))
        c->ops->resume(c);
    /* receives: callbacks other threads decided, an earlier deadline (the
     * root's I/O thread serves the shared receive queue) */
    if (c == nq_root(c)) {
        nq_recvq_run_done(&c->rq);
        if (atomic_exchange(&c->rq.rearm, 0))
            nq_loop_receive_deadlines(c);
    }
    struct nq_mpsc_node *node;
    while ((node = nq_mpsc_pop(&c->cmdq))) {
        struct nq_put_req *r = (struct nq_put_req *)node;
        switch (r->kind) {
        case NQ_CMD_PUT:
            dispatch_put(c, r);
            break;
        case NQ_CMD_ADOPT:
            nq_shard_adopt(c, r);
            break;
        case NQ_CMD_CLOSE:
            free(r);
            begin_close(c);
            break;
        case NQ_CMD_ABORT: {
            free(r);
            char why[sizeof c->close_why];
            nq_core_close_why(c, why, sizeof why);
            pthread_mutex_lock(&nq_root(c)->close_mu);
            snprintf(c->close_why, sizeof c->close_why, "%s", why);
            pthread_mutex_unlock(&nq_root(c)->close_mu);
            if (why[0])
                nq_log(c, NQ_LOG_WARN, "close timed out: %s", why);
            c->ops->abort(c);
            nq_core_close_done(c, NQ_ETIMEDOUT);
            break;
        }
        }
    }
    nq_core_flush(c);
}

void nq_core_client_close_begin(struct nq_comm *c, int linked)
{
    struct nq_session *s = c->sessions;
    if (!linked && s->fin_sent && s->fin_received)
        nq_core_close_done(c, NQ_OK);
}

void nq_core_close_done(struct nq_comm *c, nq_status result)
{
    nq_core_note_change(c);
    struct nq_comm *root = nq_root(c); /* the closing thread waits for every shard there */
    pthread_mutex_lock(&root->close_mu);
    if (!c->close_done) {
        c->close_done = 1;
        c->close_result = result;
    }
    pthread_cond_broadcast(&root->close_cv);
    pthread_mutex_unlock(&root->close_mu);
    ev_break(c->loop, EVBREAK_ALL);
}

/* The lingering list is in loss order: the expired ones are its head. */
void nq_core_sweep(struct nq_comm *c)
{
    int64_t now = nq_now_ms();
    struct nq_session *s;
    while ((s = c->ling_head) && now - s->lost_ms >= c->o.linger_ms) {
        char hex[33];
        nq_id_format(s->peer, hex);
        nq_log(c, NQ_LOG_INFO, "peer %s did not come back: session dropped", hex);
        c->ctr.sessions_expired++;
        nq_core_event(c, NQ_EVENT_EXPIRED, s->peer, "did not come back within the linger");
        peers_update(c, s->peer, 0, 0);
        session_remove(c, s);
    }
}
