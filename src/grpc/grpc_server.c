/* gRPC server: listens in the constructor (so address and TLS errors are
 * reported there), accepts every call on the loop thread, answers calls to
 * any method but /grpc/comm with UNIMPLEMENTED, and hands /grpc/comm calls
 * to their peer's link (grpc_peers.c). */
#include <grpc/grpc_security.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "grpc/grpc_internal.h"

/* requests kept open so that clients calling at once need not wait */
#define ACCEPT_BACKLOG 8

static void request_one(struct gq_state *g)
{
    struct gq_call *k = nq_gq_call_new(g);
    if (!k) {
        nq_log(g->c, NQ_LOG_ERROR, "grpc: out of memory accepting calls");
        return;
    }
    grpc_call_error e = grpc_server_request_call(g->server, &k->call, &k->details, &k->md_req,
                                                 g->cq, g->cq, &k->op_new);
    if (e != GRPC_CALL_OK) {
        nq_log(g->c, NQ_LOG_ERROR, "grpc: cannot accept calls (error %d)", (int)e);
        nq_gq_call_free(k);
        return;
    }
    k->pending = 1;
}

static void reject(struct gq_state *g, struct gq_call *k, grpc_status_code code, const char *msg)
{
    k->reject = 1;
    k->status_details = grpc_slice_from_copied_string(msg);
    grpc_op ops[3] = {0};
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[1].data.send_status_from_server.status = code;
    ops[1].data.send_status_from_server.status_details = &k->status_details;
    ops[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[2].data.recv_close_on_server.cancelled = &k->cancelled;
    if (nq_gq_batch(k, &k->op_send, ops, 3) != GRPC_CALL_OK)
        nq_gq_call_free(k);
}

static void on_new_call(struct gq_state *g, struct gq_call *k, int success)
{
    k->pending--;
    if (!success || !k->call) { /* shutting down */
        nq_gq_call_free(k);
        return;
    }
    request_one(g);
    if (grpc_slice_str_cmp(k->details.method, NQ_GRPC_METHOD) != 0) {
        char *m = grpc_slice_to_c_string(k->details.method);
        char *peer = grpc_call_get_peer(k->call);
        char msg[300];
        snprintf(msg, sizeof msg, "unknown method %.200s: this server serves " NQ_GRPC_METHOD, m);
        nq_log(g->c, NQ_LOG_WARN, "%s: %s", peer, msg);
        gpr_free(m);
        gpr_free(peer);
        reject(g, k, GRPC_STATUS_UNIMPLEMENTED, msg);
        return;
    }
    nq_gq_server_new_call(g, k);
}

static void server_event(struct gq_state *g, struct gq_op *op)
{
    struct gq_call *k = op->call;
    if (op->kind == GQ_NEW_CALL) {
        on_new_call(g, k, op->success);
        return;
    }
    if (k->reject) {
        if (--k->pending == 0)
            nq_gq_call_free(k);
        return;
    }
    nq_gq_server_event(g, op);
}

static nq_status server_start(struct nq_comm *c)
{
    struct gq_state *g = nq_gq_new(c, server_event);
    if (!g)
        return nq_fail(NQ_ENOMEM, "grpc: cannot set up the completion queue");
    grpc_server_credentials *creds;
    nq_status st = nq_gq_server_creds(c, &creds);
    if (st != NQ_OK) {
        nq_gq_free(g);
        return st;
    }
    g->server = nq_gq_server_create(g);
    grpc_server_register_completion_queue(g->server, g->cq, NULL);
    char addr[NQ_HOST_MAX + 16];
    snprintf(addr, sizeof addr, strchr(c->o.host, ':') ? "[%s]:%d" : "%s:%d", c->o.host, c->o.port);
    int port = grpc_server_add_http2_port(g->server, addr, creds);
    grpc_server_credentials_release(creds);
    if (port <= 0) {
        grpc_server_destroy(g->server); /* never started: no shutdown needed */
        g->server = NULL;
        nq_gq_free(g);
        return nq_fail(NQ_EADDR, "grpc: cannot listen on %s (in use, bad address, or bad TLS key/certificate)",
                       addr);
    }
    nq_core_set_port(c, port);
    grpc_server_start(g->server);
    g->op_shutdown.kind = GQ_SHUTDOWN;
    nq_core_set_transport(c, g);
    for (int i = 0; i < ACCEPT_BACKLOG; i++)
        request_one(g);
    nq_gq_server_live_start(g);
    return NQ_OK;
}

static void server_kick(struct nq_comm *c, struct nq_session *s)
{
    nq_gq_server_kick(c->transport, (struct gq_peer *)s->link);
}

static void server_close_begin(struct nq_comm *c)
{
    struct gq_state *g = c->transport;
    /* clients already gone are not waited for */
    nq_gq_server_live_closing(g);
    /* links that never said who they are are not clients to wait for */
    for (struct gq_peer *p = g->peers, *next; p; p = next) {
        next = p->next;
        if (!p->link.s)
            nq_gq_peer_drop(g, p, "server closing");
    }
    /* read on to the clients' fin even if the receive queue is full */
    nq_gq_server_resume(g);
    if (nq_core_live_links(c) == 0)
        nq_core_close_done(c, NQ_OK);
}

static void server_abort(struct nq_comm *c)
{
    struct gq_state *g = c->transport;
    nq_gq_server_live_stop(g);
    /* the core's warning names the peers cut; here, where each one was */
    for (struct gq_peer *p = g->peers; p; p = p->next) {
        char hex[33] = "(no id yet)";
        if (p->link.s)
            nq_id_format(p->link.s->peer, hex);
        nq_log(c, NQ_LOG_DEBUG, "%s: peer %s cut at the close deadline %s", p->addr, hex,
               p->round ? "in a round" : "between rounds");
    }
    grpc_server_cancel_all_calls(g->server);
    while (g->peers)
        nq_gq_peer_drop(g, g->peers, "server close timed out");
}

static void server_resume(struct nq_comm *c)
{
    nq_gq_server_resume(c->transport);
}

static void server_drop_link(struct nq_comm *c, struct nq_link *l)
{
    nq_gq_peer_drop(c->transport, (struct gq_peer *)l, "replaced by a reconnection");
}

/* after the loop: buffers go, the call struct when nothing is left */
static void finish(struct gq_state *g, struct gq_op *op)
{
    struct gq_call *k = op->call;
    if (--k->pending <= 0)
        nq_gq_call_free(k);
}

static void server_destroy(struct nq_comm *c)
{
    struct gq_state *g = c->transport;
    if (!g)
        return;
    nq_gq_server_live_stop(g);
    grpc_server_shutdown_and_notify(g->server, g->cq, &g->op_shutdown);
    grpc_server_cancel_all_calls(g->server);
    pthread_mutex_lock(&g->shut_mu);
    while (!g->shut_done)
        pthread_cond_wait(&g->shut_cv, &g->shut_mu);
    pthread_mutex_unlock(&g->shut_mu);
    /* links already dropped live on while calls of theirs do (a round
     * being cancelled, statuses on their way): those calls go now */
    for (struct gq_call *k = g->calls; k; k = k->all_next) {
        struct gq_peer *p = k->peer;
        if (!p || !p->dropped)
            continue;
        if (k->ending)
            p->ending--;
        else if (p->round == k)
            p->round = NULL;
        else
            continue;
        k->ending = 0;
        k->peer = NULL;
        if (!p->round && !p->ending)
            free(p);
    }
    nq_gq_stop(g, finish);
    while (g->peers) {
        struct gq_peer *p = g->peers;
        g->peers = p->next;
        p->round = NULL;
        nq_core_link_lost(c, &p->link, "communicator freed");
        free(p);
    }
    grpc_server_destroy(g->server);
    nq_gq_free(g);
    nq_core_set_transport(c, NULL);
}

const struct nq_transport_ops nq_grpc_server_ops = {
    .start = server_start,
    .kick = server_kick,
    .close_begin = server_close_begin,
    .abort = server_abort,
    .resume = server_resume,
    .drop_link = server_drop_link,
    .destroy = server_destroy,
};
