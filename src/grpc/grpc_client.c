/* gRPC client: one channel to the server; rounds start when there is
 * output, and an idle client polls with empty rounds, backing off from
 * 2^-10 s by doubling up to 0.5 s (reset whenever a round moves data). A
 * failed round (server down or restarted, bad status) drops the link: the
 * next round starts a new one with our ini, after a retry backoff. */
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "core/timeutil.h"
#include "grpc/grpc_internal.h"

#define POLL_FIRST (1.0 / 1024.0)
#define POLL_MAX 0.5
#define WATCH_BACKSTOP 0.25

static void schedule(struct gq_state *g, double delay)
{
    ev_timer_stop(g->c->loop, &g->poll);
    ev_timer_set(&g->poll, delay, 0.);
    ev_timer_start(g->c->loop, &g->poll);
}

static void on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct gq_state *g = w->data;
    nq_gq_client_round(g);
    nq_core_flush(g->c);
}

static const char *conn_name(grpc_connectivity_state st)
{
    switch (st) {
    case GRPC_CHANNEL_IDLE: return "idle";
    case GRPC_CHANNEL_CONNECTING: return "connecting";
    case GRPC_CHANNEL_READY: return "ready";
    case GRPC_CHANNEL_TRANSIENT_FAILURE: return "failing to connect";
    default: return "shut down";
    }
}

void nq_gq_client_wait_ready(struct gq_state *g, grpc_connectivity_state st)
{
    struct nq_comm *c = g->c;
    if (c->close_done)
        return;
    if (st != GRPC_CHANNEL_READY) {
        /* the connect timeout runs while the channel is not ready at all,
         * connecting included: a server that accepts connections but never
         * answers (frozen) keeps gRPC connecting for 20 s per attempt */
        char why[160];
        snprintf(why, sizeof why, "channel %s%s", conn_name(st),
                 st == GRPC_CHANNEL_TRANSIENT_FAILURE
                     ? " (server down, TLS on one side only, or a certificate refused?)"
                     : "");
        if (st == GRPC_CHANNEL_IDLE || st == GRPC_CHANNEL_CONNECTING)
            nq_core_client_waiting(c, why); /* normal at start: no warning */
        else
            nq_core_client_unreachable(c, why);
        if (c->close_phase && c->sessions->fin_queued && !nq_session_has_output(c->sessions)) {
            /* our fin was failed with the rest: nobody to say goodbye to */
            nq_core_close_done(c, NQ_ERESET);
            return;
        }
    }
    /* Look again in 250 ms ourselves as well: gRPC's watch is the fast
     * path, but its deadline has been seen not to fire (a watch pending for
     * good after the reference server closed the connection: no new round,
     * the puts waiting for ever). A late watch completion then only
     * triggers one more look. */
    schedule(g, WATCH_BACKSTOP);
    if (g->watching)
        return;
    g->watching = 1;
    g->op_conn.kind = GQ_CONN;
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_millis(250, GPR_TIMESPAN));
    grpc_channel_watch_connectivity_state(g->channel, st, deadline, g->cq, &g->op_conn);
}

void nq_gq_client_conn_event(struct gq_state *g)
{
    g->watching = 0;
    nq_gq_client_round(g);
}

/* The round failed: the link is gone; try again later. */
static void round_lost(struct gq_state *g, const char *why)
{
    struct nq_comm *c = g->c;
    if (g->linked) {
        g->linked = 0;
        nq_core_link_lost(c, &g->link.link, why);
    }
    /* the core's client policy: close settlement, a session the server
     * ended, else a backoff with jitter and the connect timeout */
    double delay = nq_core_client_lost(c, why);
    g->retrying = 1;
    if (delay >= 0)
        schedule(g, delay);
}

void nq_gq_client_round_done(struct gq_state *g, struct gq_call *k)
{
    struct nq_comm *c = g->c;
    int failed = k->failed, data = k->data;
    uint64_t carried = k->inflight;
    char why[sizeof k->why];
    snprintf(why, sizeof why, "%s", k->why);
    g->round = NULL;
    nq_gq_call_free(k);
    struct nq_session *cs = c->sessions;
    /* the server's OK says it took all of it: the puts complete now; a
     * failed round's bytes stay queued for the next link (a server that
     * restarted between two rounds answers the next one with an error,
     * and only then do we know to start over with our ini) */
    if (!failed && carried && g->linked && cs->link == &g->link.link)
        nq_session_consume(c, cs, carried);
    if (failed) {
        round_lost(g, why);
        return;
    }
    g->retrying = 0;
    nq_core_client_established(c); /* a round got through: the policy starts over */
    struct nq_session *s = c->sessions;
    if (nq_session_finished(s)) {
        g->linked = 0;
        nq_core_link_lost(c, &g->link.link, "session finished");
        if (!c->close_phase)
            nq_log(c, NQ_LOG_INFO, "%s:%d ended the session", c->o.host, c->o.port);
        return;
    }
    if (nq_session_has_output(s)) {
        g->poll_backoff = POLL_FIRST;
        nq_gq_client_round(g);
        return;
    }
    /* idle: poll for the server's data, slower and slower while none comes */
    if (data || g->poll_backoff == 0)
        g->poll_backoff = POLL_FIRST;
    else if ((g->poll_backoff *= 2) > POLL_MAX)
        g->poll_backoff = POLL_MAX;
    schedule(g, g->poll_backoff);
}

static nq_status client_start(struct nq_comm *c)
{
    struct gq_state *g = nq_gq_new(c, nq_gq_client_event);
    if (!g)
        return nq_fail(NQ_ENOMEM, "grpc: cannot set up the completion queue");
    grpc_channel_credentials *creds;
    nq_status st = nq_gq_channel_creds(c, &creds);
    if (st != NQ_OK) {
        nq_gq_free(g);
        return st;
    }
    char target[NQ_HOST_MAX + 16];
    snprintf(target, sizeof target, strchr(c->o.host, ':') ? "[%s]:%d" : "%s:%d", c->o.host,
             c->o.port);
    g->channel = grpc_channel_create(target, creds, &g->args);
    grpc_channel_credentials_release(creds);
    if (!g->channel) {
        nq_gq_free(g);
        return nq_fail(NQ_EADDR, "grpc: cannot create a channel to %s", target);
    }
    ev_timer_init(&g->poll, on_poll, 0., 0.);
    g->poll.data = g;
    ev_timer_start(c->loop, &g->poll); /* the first round: our ini */
    nq_core_set_transport(c, g);
    return NQ_OK;
}

static void client_kick(struct nq_comm *c, struct nq_session *s)
{
    struct gq_state *g = c->transport;
    if (g->round)
        nq_gq_client_send_next(g, g->round);
    else if (!g->retrying) /* after a failure the retry timer decides */
        nq_gq_client_round(g);
}

static void client_close_begin(struct nq_comm *c)
{
    struct gq_state *g = c->transport;
    nq_gq_client_resume(g); /* a stalled round reads on to the server's fin */
    nq_core_client_close_begin(c, g->linked);
}

static void client_abort(struct nq_comm *c)
{
    struct gq_state *g = c->transport;
    ev_timer_stop(c->loop, &g->poll);
    if (g->round)
        grpc_call_cancel(g->round->call, NULL);
}

static void client_resume(struct nq_comm *c)
{
    nq_gq_client_resume(c->transport);
}

static void client_drop_link(struct nq_comm *c, struct nq_link *l)
{
    struct gq_state *g = c->transport;
    if (g->round)
        grpc_call_cancel(g->round->call, NULL);
}

static void finish(struct gq_state *g, struct gq_op *op)
{
    struct gq_call *k = op->call;
    if (!k) /* the connectivity watch */
        return;
    if (--k->pending <= 0)
        nq_gq_call_free(k);
}

static void client_destroy(struct nq_comm *c)
{
    struct gq_state *g = c->transport;
    if (!g)
        return;
    ev_timer_stop(c->loop, &g->poll);
    /* close is done by now: the core marks it before destroy */
    if (g->round)
        grpc_call_cancel(g->round->call, NULL);
    /* first: it ends a connectivity watch at once */
    grpc_channel_destroy(g->channel);
    nq_gq_stop(g, finish);
    g->round = NULL;
    if (g->linked) {
        g->linked = 0;
        nq_core_link_lost(c, &g->link.link, "communicator closed");
    }
    nq_gq_free(g);
    nq_core_set_transport(c, NULL);
}

const struct nq_transport_ops nq_grpc_client_ops = {
    .start = client_start,
    .kick = client_kick,
    .close_begin = client_close_begin,
    .abort = client_abort,
    .resume = client_resume,
    .drop_link = client_drop_link,
    .destroy = client_destroy,
};
