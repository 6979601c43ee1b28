/* The multi-loop server: shards, the hand-over of a link to the shard of
 * its peer, puts spread over shards, and the shards' part in close
 * (shard.h). With one shard (every client, every server with workers 1 or
 * on a transport without ops.attach) none of this runs but the checks. */
#include <stdlib.h>
#include <string.h>

#include "core/shard.h"
#include "core/status.h"
#include "core/timeutil.h"

int nq_shards_wanted(const struct nq_comm *root)
{
    int multi = root->purpose == NQ_SERVER && root->ops->attach && root->ops->detach &&
                root->o.workers > 1;
    return multi ? 1 + root->o.workers : 1;
}

nq_status nq_shards_new(struct nq_comm *root)
{
    int n = nq_shards_wanted(root);
    root->shards = calloc((size_t)n, sizeof *root->shards);
    if (!root->shards)
        return nq_fail(NQ_ENOMEM, "comm: out of memory");
    root->shards[0] = root;
    root->nshards = 1;
    /* peers choose their ids, not which thread serves them: a per-server
     * key spreads even ids made to collide */
    root->shard_key = (uint64_t)nq_now_ns() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)root;
    if (n == 1)
        return NQ_OK;
    /* big frames in progress count against the partial limit across
     * every shard (framer.h); the lost-session cap keeps its total, each
     * session shard holding its share */
    root->rx_pool.big_all = &root->big_all;
    root->o.linger_max = (root->o.linger_max + (size_t)n - 2) / (size_t)(n - 1);
    for (int i = 1; i < n; i++) {
        struct nq_comm *s = calloc(1, sizeof *s);
        if (!s)
            return nq_fail(NQ_ENOMEM, "comm: out of memory");
        s->root = root;
        s->shard_ix = i;
        s->nshards = 1;
        s->protocol = root->protocol;
        s->purpose = root->purpose;
        s->o = root->o; /* shallow: the root owns the strings */
        s->ops = root->ops;
        s->created_ms = root->created_ms;
        nq_mpsc_init(&s->cmdq);
        s->rx_pool.limit = root->rx_pool.limit;
        s->rx_pool.big_all = &root->big_all;
        s->rxsrc = &s->rxsrc_own;
        nq_recvq_add_src(&root->rq, s->rxsrc);
        pthread_mutex_init(&s->io_mu, NULL);
        s->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
        if (!s->loop) {
            pthread_mutex_destroy(&s->io_mu);
            free(s);
            return nq_fail(NQ_EIO, "comm: cannot create the event loop of worker %d", i);
        }
        root->shards[root->nshards++] = s;
    }
    return NQ_OK;
}

void nq_shards_free(struct nq_comm *root)
{
    if (!root->shards)
        return;
    for (int i = 1; i < root->nshards; i++) {
        nq_comm_free_loop_state(root->shards[i]);
        free(root->shards[i]);
    }
    free(root->shards);
    root->shards = NULL;
    root->nshards = 0;
}

int nq_shard_of(const struct nq_comm *root, const uint8_t *id)
{
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    uint64_t h = (a ^ root->shard_key) * 0x9E3779B97F4A7C15ull ^ b;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return root->nshards == 1 ? 0 : 1 + (int)(h % (uint64_t)(root->nshards - 1));
}

/* ---- hand-over ---- */

struct nq_handover {
    struct nq_link *l;
    uint8_t id[NQ_ID_SIZE];
    int target;
    struct nq_msg *head, *tail; /* frames read after the ini, in order */
    int bad;                    /* then a bad frame: the link is closed there */
    struct nq_put_req *cmd;     /* the ADOPT command, made up front */
};

static void free_frames(struct nq_msg *m)
{
    for (struct nq_msg *next; m; m = next) {
        next = m->next;
        nq_msg_free(m);
    }
}

int nq_shard_handover_begin(struct nq_comm *c, struct nq_link *l, const uint8_t *id)
{
    struct nq_comm *root = nq_root(c);
    if (root->nshards == 1)
        return 0;
    int target = nq_shard_of(root, id);
    if (target == c->shard_ix)
        return 0;
    struct nq_handover *ho = calloc(1, sizeof *ho);
    struct nq_put_req *cmd = calloc(1, sizeof *cmd);
    if (!ho || !cmd) {
        free(ho);
        free(cmd);
        nq_log(c, NQ_LOG_ERROR, "%s: out of memory handing the connection over", l->name);
        return -1;
    }
    ho->l = l;
    memcpy(ho->id, id, NQ_ID_SIZE);
    ho->target = target;
    cmd->kind = NQ_CMD_ADOPT;
    cmd->user = ho;
    ho->cmd = cmd;
    l->ho = ho;
    return 1;
}

void nq_shard_handover_hold(struct nq_link *l, struct nq_msg *m)
{
    struct nq_handover *ho = l->ho;
    m->next = NULL;
    if (ho->tail)
        ho->tail->next = m;
    else
        ho->head = m;
    ho->tail = m;
}

int nq_shard_handover_finish(struct nq_comm *c, struct nq_link *l, int r)
{
    struct nq_handover *ho = l->ho;
    /* a bad frame after the ini (logged already): the peer's session still
     * begins, and loses this link, where it lives, as with one thread */
    ho->bad = r < 0;
    c->ops->detach(c, l);
    nq_framer_move_pool(&l->fr, NULL);
    struct nq_comm *to = nq_root(c)->shards[ho->target];
    /* the queue's push publishes l, its framer and what is held to the
     * target's thread; nothing here touches them afterwards */
    nq_mpsc_push(&to->cmdq, &ho->cmd->node);
    nq_loop_wake(to);
    nq_core_note_change(c);
    return 1;
}

/* Take l over on c: its frame in progress now counts on c's pool. */
static struct nq_msg *take_link(struct nq_comm *c, struct nq_put_req *cmd, struct nq_link **lp,
                                uint8_t *id, int *bad)
{
    struct nq_handover *ho = cmd->user;
    struct nq_link *l = ho->l;
    struct nq_msg *frames = ho->head;
    memcpy(id, ho->id, NQ_ID_SIZE);
    *bad = ho->bad;
    free(ho);
    free(cmd);
    l->ho = NULL;
    nq_framer_move_pool(&l->fr, &c->rx_pool);
    c->ops->attach(c, l);
    *lp = l;
    return frames;
}

void nq_shard_adopt(struct nq_comm *c, struct nq_put_req *cmd)
{
    struct nq_link *l;
    uint8_t id[NQ_ID_SIZE];
    int bad;
    struct nq_msg *frames = take_link(c, cmd, &l, id, &bad);
    /* its ini goes out only now, after the peer's (attach in on_ini) */
    if (nq_core_adopted(c, l, id, frames) < 0 || bad) {
        nq_core_link_lost(c, l, "protocol error"); /* the session's side, with the cause */
        c->ops->drop_link(c, l);
    }
}

void nq_shard_orphans(struct nq_comm *c)
{
    /* pop everything (one consumer: this thread), keep the order of the
     * rest for cancel_leftovers */
    struct nq_put_req *keep = NULL, **tail = &keep;
    struct nq_mpsc_node *node;
    while ((node = nq_mpsc_pop(&c->cmdq))) {
        struct nq_put_req *r = (struct nq_put_req *)node;
        if (r->kind == NQ_CMD_ADOPT) {
            struct nq_link *l;
            uint8_t id[NQ_ID_SIZE];
            int bad;
            free_frames(take_link(c, r, &l, id, &bad)); /* the shard had closed */
            continue; /* attached without a session: destroy closes it */
        }
        r->deferred_next = NULL;
        *tail = r;
        tail = &r->deferred_next;
    }
    for (struct nq_put_req *r = keep, *next; r; r = next) {
        next = r->deferred_next;
        nq_mpsc_push(&c->cmdq, &r->node);
    }
}

/* ---- puts over several shards ---- */

struct nq_put_whole {
    atomic_size_t parts; /* parts not yet done */
    _Atomic int result;  /* the first failure of a part, else NQ_OK */
    struct nq_put_req *req; /* the user's put: its callback, payload, budget */
};

int nq_shard_route(struct nq_comm *root, struct nq_put_req *r)
{
    int n = root->nshards;
    size_t per[NQ_SHARDS_MAX] = {0};
    if (r->npeers) {
        int k = nq_shard_of(root, r->peers);
        size_t i = 1;
        while (i < r->npeers && nq_shard_of(root, r->peers + i * NQ_ID_SIZE) == k)
            i++;
        if (i == r->npeers)
            return k; /* the common case: one shard takes it whole */
        for (i = 0; i < r->npeers; i++)
            per[nq_shard_of(root, r->peers + i * NQ_ID_SIZE)]++;
    }
    /* split: a broadcast goes to every shard, named peers to theirs */
    struct nq_put_req *part[NQ_SHARDS_MAX] = {0};
    struct nq_put_whole *w = malloc(sizeof *w);
    int nparts = 0;
    for (int j = 1; j < n && w; j++) { /* the root holds no session */
        if (r->npeers && !per[j])
            continue;
        part[j] = malloc(sizeof *part[j] + per[j] * NQ_ID_SIZE);
        if (!part[j])
            goto oom;
        memset(part[j], 0, sizeof *part[j]);
        part[j]->kind = NQ_CMD_PUT;
        part[j]->p = r->p;
        part[j]->whole = w;
        nparts++;
    }
    if (!w)
        goto oom;
    for (size_t i = 0; i < r->npeers; i++) {
        struct nq_put_req *pj = part[nq_shard_of(root, r->peers + i * NQ_ID_SIZE)];
        memcpy(pj->peers + pj->npeers++ * NQ_ID_SIZE, r->peers + i * NQ_ID_SIZE, NQ_ID_SIZE);
    }
    atomic_init(&w->parts, (size_t)nparts);
    atomic_init(&w->result, NQ_OK);
    w->req = r;
    for (int j = 0; j < n; j++) {
        if (!part[j])
            continue;
        nq_payload_ref(r->p);
        nq_mpsc_push(&root->shards[j]->cmdq, &part[j]->node);
        nq_loop_wake_for_cmd(root->shards[j]);
    }
    return -1;
oom:
    for (int j = 0; j < n; j++)
        free(part[j]);
    free(w);
    return -2;
}

void nq_shard_part_done(struct nq_comm *c, struct nq_put_req *part)
{
    struct nq_put_whole *w = part->whole;
    if (part->result != NQ_OK) {
        int ok = NQ_OK;
        atomic_compare_exchange_strong(&w->result, &ok, (int)part->result);
    }
    nq_put_req_free(part); /* its payload reference */
    if (atomic_fetch_sub(&w->parts, 1) != 1)
        return;
    /* the last part: the put completes here, once, on this I/O thread */
    struct nq_put_req *r = w->req;
    nq_status st = (nq_status)atomic_load(&w->result);
    free(w);
    nq_count_put_done(c, st);
    if (r->fn)
        r->fn(r->user, st);
    nq_put_req_free(r);
}

/* ---- close ---- */

void nq_shard_close_others(struct nq_comm *c)
{
    struct nq_comm *root = nq_root(c);
    if (c != root)
        return;
    for (int i = 1; i < root->nshards; i++) {
        struct nq_put_req *r = calloc(1, sizeof *r);
        if (!r)
            continue; /* the closing thread's abort at the deadline covers it */
        r->kind = NQ_CMD_CLOSE;
        nq_mpsc_push(&root->shards[i]->cmdq, &r->node);
        nq_loop_wake(root->shards[i]);
    }
}
