/* gRPC server: noticing clients whose connection is gone.
 *
 * The server knows a client only through its calls. A client that vanishes
 * during a round fails that call, but one that vanishes between rounds
 * (killed, its host gone, or cut by a keepalive ping that got no answer)
 * leaves nothing to fail: gRPC closes the connection and tells no one. So
 * every second (every 0.25 s while closing) the loop thread lists the
 * server's open connections through channelz (the one part of gRPC's C API
 * that shows them) and drops the link of every peer that is between rounds
 * and whose address is no longer among them: its session is then lost as
 * with TCP (kept for a reconnection, nq_comm_peers no longer lists it,
 * close stops waiting for it). Clients keyed by their headers are judged
 * by their calls as well (header_peer_gone): behind a proxy the
 * connection says little about them.
 *
 * Channelz lists every server of the process; ours is the one created
 * while no other communicator of ours was being created, found by its id
 * (ids only grow). When that is not certain (another part of the process
 * created a gRPC server at the same moment) or channelz answers something
 * unexpected, the check is off, and a vanished client is noticed only when
 * close gives up on it. */
#include <grpc/support/alloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "grpc/grpc_internal.h"

#define LIVE_EVERY 1.0
#define LIVE_EVERY_CLOSING 0.25

static pthread_mutex_t create_mu = PTHREAD_MUTEX_INITIALIZER;

/* The numbers after each `"key":"` in json, above `above`: their count,
 * the largest in *max, the only one in *one (when count is 1). */
static int ids_after(const char *json, const char *key, intptr_t above, intptr_t *max,
                     intptr_t *one)
{
    char pat[40];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    size_t pl = strlen(pat);
    int n = 0;
    for (const char *p = strstr(json, pat); p; p = strstr(p, pat)) {
        p += pl;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || *end != '"')
            continue;
        if (v > *max)
            *max = (intptr_t)v;
        if (v > above) {
            *one = (intptr_t)v;
            n++;
        }
    }
    return n;
}

static int is_end(const char *json)
{
    return strstr(json, "\"end\":true") != NULL;
}

/* The servers with an id above `above`: how many, and one of them. -1 when
 * channelz gives no answer. *max gets the largest id seen. */
static int servers_above(intptr_t above, intptr_t *max, intptr_t *one)
{
    int n = 0;
    intptr_t start = 0;
    *max = 0;
    for (int pages = 0; pages < 1000; pages++) {
        char *json = grpc_channelz_get_servers(start);
        if (!json)
            return -1;
        intptr_t page_max = 0;
        n += ids_after(json, "serverId", above, &page_max, one);
        int end = is_end(json);
        gpr_free(json);
        if (page_max > *max)
            *max = page_max;
        if (end || page_max < start)
            return n;
        start = page_max + 1;
    }
    return -1;
}

grpc_server *nq_gq_server_create(struct gq_state *g)
{
    intptr_t before, after, ours = 0;
    pthread_mutex_lock(&create_mu);
    int known = servers_above(INTPTR_MAX, &before, &ours) >= 0;
    grpc_server *server = grpc_server_create(&g->args, NULL);
    int n = known ? servers_above(before, &after, &ours) : -1;
    pthread_mutex_unlock(&create_mu);
    g->cz_server = n == 1 ? ours : 0;
    if (!g->cz_server)
        nq_log(g->c, NQ_LOG_INFO,
               "grpc: cannot tell this server apart in channelz (%d new servers): clients that "
               "vanish between rounds are noticed only at close",
               n);
    return server;
}

/* Is addr among the connections in json ("name":"chttp2 <addr>")? */
static int lists(const char *json, const char *addr)
{
    size_t al = strlen(addr);
    for (const char *p = strstr(json, addr); p; p = strstr(p + 1, addr)) {
        if (p > json && (p[-1] == ' ' || p[-1] == '"') && p[al] == '"')
            return 1;
    }
    return 0;
}

/* The server's connections, all pages in one string (free()); NULL when
 * channelz does not answer as expected. */
static char *connections(struct gq_state *g)
{
    char *all = NULL;
    size_t len = 0;
    intptr_t start = 0;
    for (int pages = 0; pages < 100000; pages++) {
        char *json = grpc_channelz_get_server_sockets(g->cz_server, start, 0);
        if (!json || (!strstr(json, "\"socketRef\"") && !is_end(json))) {
            gpr_free(json);
            free(all);
            return NULL;
        }
        size_t jl = strlen(json);
        char *grown = realloc(all, len + jl + 1);
        if (!grown) {
            gpr_free(json);
            free(all);
            return NULL;
        }
        all = grown;
        memcpy(all + len, json, jl + 1);
        len += jl;
        intptr_t max = 0, one = 0;
        ids_after(json, "socketId", INTPTR_MAX, &max, &one);
        int end = is_end(json);
        gpr_free(json);
        if (end)
            return all;
        if (max < start) /* no progress: do not trust it */
            break;
        start = max + 1;
    }
    free(all);
    return NULL;
}

/* A client keyed by its headers is one of ours, and ours call at least
 * every POLL_MAX (0.5 s) while linked; its connection may be a proxy's,
 * closed after each call (nginx without upstream keepalive) or shared by
 * other clients and never closed (with it). So: gone when its latest
 * connection closed and it stayed quiet for longer than a poll interval
 * (GONE_ONE when all its calls came on that one connection, as a direct
 * client's do: a killed client leaves as fast as before), or when quiet
 * for the keepalive (2 s at least) on a connection that stays (a proxy's:
 * its death reaches no one). NULL while it is there. */
#define GONE_ONE_MS 250
#define GONE_MANY_MS 1500
#define QUIET_MIN_MS 2000

static const char *header_peer_gone(struct gq_state *g, struct gq_peer *p, int listed, int64_t quiet)
{
    if (!listed)
        return quiet > (p->conns > 1 ? GONE_MANY_MS : GONE_ONE_MS)
                   ? "connection closed between rounds and no call since: client gone"
                   : NULL;
    int64_t k = g->c->o.keepalive_ms;
    if (k <= 0)
        return NULL;
    return quiet > (k < QUIET_MIN_MS ? QUIET_MIN_MS : k)
               ? "no call for the keepalive on a connection that stays (a proxy's?): client gone"
               : NULL;
}

void nq_gq_server_check_links(struct gq_state *g)
{
    if (!g->cz_server)
        return;
    /* a peer with a call in progress hears of its connection's end through
     * that call; only those between rounds need looking for */
    int idle = 0;
    for (struct gq_peer *p = g->peers; p; p = p->next)
        if (!p->round && !p->wait_head && !p->ending)
            idle++;
    if (!idle)
        return;
    char *json = connections(g);
    if (!json) {
        nq_log(g->c, NQ_LOG_DEBUG, "grpc: channelz did not list the server's connections");
        return;
    }
    int64_t now = nq_now_ms();
    for (struct gq_peer *p = g->peers, *next; p; p = next) {
        next = p->next;
        if (p->round || p->wait_head || p->ending)
            continue;
        if (!p->by_header) {
            if (!lists(json, p->addr))
                nq_gq_peer_drop(g, p, "connection closed between rounds: client gone, or "
                                      "keepalive unanswered");
            continue;
        }
        const char *why = header_peer_gone(g, p, lists(json, p->addr), now - p->quiet_ms);
        if (why)
            nq_gq_peer_drop(g, p, why);
    }
    free(json);
}

static void on_live(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct gq_state *g = w->data;
    nq_gq_server_check_links(g);
    nq_core_flush(g->c);
}

void nq_gq_server_live_start(struct gq_state *g)
{
    ev_timer_init(&g->live, on_live, LIVE_EVERY, LIVE_EVERY);
    g->live.data = g;
    if (g->cz_server)
        ev_timer_start(g->c->loop, &g->live);
}

void nq_gq_server_live_closing(struct gq_state *g)
{
    if (!g->cz_server)
        return;
    ev_timer_stop(g->c->loop, &g->live);
    ev_timer_set(&g->live, LIVE_EVERY_CLOSING, LIVE_EVERY_CLOSING);
    ev_timer_start(g->c->loop, &g->live);
    nq_gq_server_check_links(g);
}

void nq_gq_server_live_stop(struct gq_state *g)
{
    ev_timer_stop(g->c->loop, &g->live);
}
