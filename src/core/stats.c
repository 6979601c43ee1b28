/* Statistics snapshots (abi/netqueue/stats.h): the I/O thread's counters,
 * read while it is held still, copied into a key/value list the caller
 * owns. The keys and their meaning are documented in docs/abi.md
 * ("Statistics"): add new ones, never rename or drop one. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <netqueue/stats.h>

#include "core/comm_internal.h"
#include "core/shard.h"
#include "core/status.h"
#include "core/timeutil.h"

#define NQ_STATS_MAX 64

struct nq_stats {
    size_t n;
    const char *key[NQ_STATS_MAX];
    uint64_t value[NQ_STATS_MAX];
};

static void put(struct nq_stats *s, const char *key, uint64_t value)
{
    if (s->n < NQ_STATS_MAX) { /* the lists below are far shorter */
        s->key[s->n] = key;
        s->value[s->n] = value;
        s->n++;
    }
}

/* An I/O thread of a multi-loop server waits at most this long for
 * another shard's lock (two I/O threads that each hold their own and want
 * the other's would wait for ever): that shard is then left out. */
#define NQ_STATS_PEEK_NS 50000000

/* Hold the I/O thread still: it owns the counters and the sessions. On the
 * I/O thread itself (a put callback), or on the closing thread that acts
 * as it, the lock is already ours. 1 if taken, 0 if ours already, -1 if
 * not taken (another shard, seen from an I/O thread: skipped). */
static int hold(struct nq_comm *c)
{
    if (nq_core_on_io_thread(c))
        return 0;
    if (!nq_core_on_any_io_thread(c)) {
        pthread_mutex_lock(&c->io_mu);
        return 1;
    }
    int64_t until = nq_now_ns() + NQ_STATS_PEEK_NS;
    while (pthread_mutex_trylock(&c->io_mu) != 0) {
        if (nq_now_ns() > until)
            return -1;
        sched_yield();
    }
    return 1;
}

static void release(struct nq_comm *c, int held)
{
    if (held > 0)
        pthread_mutex_unlock(&c->io_mu);
}

/* Frames held for s: unsent, or written before the peer's ini and kept
 * until it comes (handshake frames included). */
static uint64_t send_items(const struct nq_session *s)
{
    uint64_t n = 0;
    for (const struct nq_send_item *it = s->head; it; it = it->next)
        n++;
    for (const struct nq_send_item *it = s->sent_head; it; it = it->next)
        n++;
    return n;
}

/* What one shard adds to the snapshot (held[i] >= 0: its lock is ours). */
struct sums {
    struct nq_counters k;
    uint64_t live, sessions, send_msgs, send_bytes, lingering, partial;
};

_Static_assert(sizeof(struct nq_counters) % sizeof(uint64_t) == 0,
               "struct nq_counters is summed as uint64_t fields");

static void add_shard(const struct nq_comm *c, struct sums *t)
{
    const uint64_t *from = (const uint64_t *)&c->ctr;
    uint64_t *to = (uint64_t *)&t->k;
    for (size_t i = 0; i < sizeof c->ctr / sizeof(uint64_t); i++)
        to[i] += from[i];
    for (const struct nq_session *ss = c->sessions; ss; ss = ss->next) {
        if (c->purpose == NQ_SERVER || ss->identified)
            t->sessions++;
        if (ss->link && ss->link->peer_ini)
            t->live++;
        t->send_msgs += send_items(ss);
        t->send_bytes += ss->queued;
    }
    t->lingering += c->lingering;
    t->partial += c->rx_pool.used;
}

static void fill_comm(struct nq_comm *c, const int *held, struct nq_stats *s)
{
    struct sums t = {0};
    for (int i = 0; i < c->nshards; i++)
        if (held[i] >= 0)
            add_shard(c->shards[i], &t);
    const struct nq_counters *k = &t.k;
    uint64_t live = t.live, sessions = t.sessions, send_msgs = t.send_msgs,
             send_bytes = t.send_bytes;
    uint64_t rq_msgs = 0, rq_bytes = 0;
    int all = 1;
    for (int i = 0; i < c->nshards; i++)
        all &= held[i] >= 0;
    if (all) /* (it reads every shard's delivery counts: only while all are held) */
        nq_recvq_held(&c->rq, NULL, &rq_msgs, &rq_bytes);
    uint64_t failed = 0;
    for (int i = 1; i < NQ_STATUS_SLOTS; i++)
        failed += k->puts_done[i];

    put(s, "uptime_ms", (uint64_t)(nq_now_ms() - c->created_ms));
    put(s, "msgs_in", k->msgs_in);
    put(s, "bytes_in", k->bytes_in);
    put(s, "msgs_out", k->msgs_out);
    put(s, "bytes_out", k->bytes_out);
    put(s, "frame_bytes_in", k->frame_bytes_in);
    put(s, "frame_bytes_out", k->frame_bytes_out);
    put(s, "puts_ok", k->puts_done[NQ_OK]);
    put(s, "puts_failed", failed);
    put(s, "puts_failed_enopeer", k->puts_done[NQ_ENOPEER]);
    put(s, "puts_failed_ereset", k->puts_done[NQ_ERESET]);
    put(s, "puts_failed_eaddr", k->puts_done[NQ_EADDR]);
    put(s, "puts_failed_ecanceled", k->puts_done[NQ_ECANCELED]);
    put(s, "puts_failed_enomem", k->puts_done[NQ_ENOMEM]);
    put(s, "recv_queue_msgs", rq_msgs);
    put(s, "recv_queue_bytes", rq_bytes);
    put(s, "recv_queue_charged", atomic_load(&c->rq.bytes));
    put(s, "recv_dropped", k->recv_dropped);
    put(s, "send_queue_msgs", send_msgs);
    put(s, "send_queue_bytes", send_bytes);
    put(s, "send_budget_bytes", atomic_load(&c->send_budget.used));
    put(s, "partial_bytes", t.partial);
    put(s, "connections", k->connections);
    put(s, "sessions", sessions);
    put(s, "sessions_live", live);
    put(s, "sessions_lingering", t.lingering);
    put(s, "sessions_opened", k->sessions_opened);
    put(s, "sessions_expired", k->sessions_expired);
    put(s, "reconnects", k->reconnects);
    put(s, "connect_failures", k->connect_failures);
    put(s, "conn_lost", k->conn_lost);
    put(s, "handshake_failures", k->handshake_failures);
    put(s, "frames_too_big", k->frames_too_big);
    put(s, "frames_over_partial_limit", k->frames_over_partial);
    put(s, "frames_truncated", k->frames_truncated);
    put(s, "peers_cut", k->peers_cut);
}

static void fill_peer(struct nq_comm *c, const struct nq_session *ss, struct nq_stats *s)
{
    uint64_t rq_msgs, rq_bytes;
    nq_recvq_held(&c->rq, ss->peer, &rq_msgs, &rq_bytes);
    put(s, "uptime_ms", (uint64_t)(nq_now_ms() - ss->opened_ms));
    put(s, "msgs_in", ss->msgs_in);
    put(s, "bytes_in", ss->bytes_in);
    put(s, "msgs_out", ss->msgs_out);
    put(s, "bytes_out", ss->bytes_out);
    put(s, "recv_queue_msgs", rq_msgs);
    put(s, "recv_queue_bytes", rq_bytes);
    put(s, "send_queue_msgs", send_items(ss));
    put(s, "send_queue_bytes", ss->queued);
    put(s, "connected", ss->link && ss->link->peer_ini);
    put(s, "lingering", (uint64_t)ss->lingering);
    put(s, "reconnects", ss->reconnects);
    put(s, "conn_lost", ss->conn_lost);
}

nq_status nq_comm_stats(nq_comm *c, nq_stats **out)
{
    if (!c || !out)
        return nq_fail(NQ_EINVAL, "stats: NULL argument");
    struct nq_stats *s = calloc(1, sizeof *s);
    if (!s)
        return nq_fail(NQ_ENOMEM, "stats: out of memory");
    /* every shard still at once (in index order: no two snapshots wait
     * for each other), so that the sums are of one moment */
    int held[NQ_SHARDS_MAX];
    for (int i = 0; i < c->nshards; i++)
        held[i] = hold(c->shards[i]);
    fill_comm(c, held, s);
    for (int i = c->nshards - 1; i >= 0; i--)
        release(c->shards[i], held[i]);
    *out = s;
    return NQ_OK;
}

static const struct nq_session *find_peer(struct nq_comm *c, const uint8_t *peer)
{
    if (c->purpose == NQ_SERVER) /* c: the peer's shard */
        return nq_idmap_get(&c->session_by_id, peer);
    const struct nq_session *s = c->sessions;
    return s && s->identified && memcmp(s->peer, peer, NQ_ID_SIZE) == 0 ? s : NULL;
}

nq_status nq_comm_peer_stats(nq_comm *c, const uint8_t *peer, nq_stats **out)
{
    if (!c || !peer || !out)
        return nq_fail(NQ_EINVAL, "stats: NULL argument");
    struct nq_stats *s = calloc(1, sizeof *s);
    if (!s)
        return nq_fail(NQ_ENOMEM, "stats: out of memory");
    struct nq_comm *sh = c->nshards > 1 ? c->shards[nq_shard_of(c, peer)] : c;
    int held = hold(sh);
    const struct nq_session *ss = held >= 0 ? find_peer(sh, peer) : NULL;
    if (ss)
        fill_peer(c, ss, s);
    release(sh, held);
    if (!ss) {
        free(s);
        char hex[33];
        nq_id_format(peer, hex);
        return nq_fail(NQ_ENOPEER, "stats: peer %s has no session", hex);
    }
    *out = s;
    return NQ_OK;
}

size_t nq_stats_count(const nq_stats *s)
{
    return s ? s->n : 0;
}

const char *nq_stats_key(const nq_stats *s, size_t i)
{
    return s && i < s->n ? s->key[i] : NULL;
}

uint64_t nq_stats_value(const nq_stats *s, size_t i)
{
    return s && i < s->n ? s->value[i] : 0;
}

nq_status nq_stats_get(const nq_stats *s, const char *key, uint64_t *out)
{
    if (!s || !key || !out)
        return nq_fail(NQ_EINVAL, "stats: NULL argument");
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->key[i], key) == 0) {
            *out = s->value[i];
            return NQ_OK;
        }
    }
    return nq_fail(NQ_EINVAL, "stats: no key '%s' in this snapshot", key);
}

void nq_stats_free(nq_stats *s)
{
    free(s);
}
