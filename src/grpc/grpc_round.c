/* gRPC client rounds: one call per exchange round. The client streams its
 * pending bytes and half-closes; meanwhile it reads what the server
 * streams; the round ends with the server's status. */
#include <stdio.h>
#include <string.h>

#include <grpc/support/time.h>

#include "grpc/grpc_internal.h"

static void fail(struct gq_call *k, const char *why)
{
    if (k->failed)
        return;
    k->failed = 1;
    snprintf(k->why, sizeof k->why, "%s", why);
    grpc_call_cancel_with_status(k->call, GRPC_STATUS_CANCELLED, why, NULL);
}

static struct nq_session *session_of(struct gq_state *g)
{
    struct nq_session *s = g->c->sessions;
    return s->link == &g->link.link ? s : NULL;
}

static void start_recv(struct gq_state *g, struct gq_call *k)
{
    if (k->recv_done || k->failed || k->recv_buf)
        return;
    /* closing: read on to the peer's fin whatever the queue holds (as TCP) */
    if (atomic_load(&g->c->rq.paused) && !g->c->close_phase) {
        k->recv_stalled = 1;
        return;
    }
    grpc_op op = {0};
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &k->recv_buf;
    if (nq_gq_batch(k, &k->op_recv, &op, 1) != GRPC_CALL_OK)
        fail(k, "cannot start a receive");
}

void nq_gq_client_send_next(struct gq_state *g, struct gq_call *k)
{
    if (k->sending || k->send_done || k->failed)
        return;
    struct nq_session *s = session_of(g);
    size_t len = 0;
    /* the round's bytes count against the send limit until its OK: end it
     * at half the limit, so that puts fill the other half while the
     * server answers, instead of the sender stalling on a spent limit */
    uint64_t limit = g->c->o.send_limit;
    int enough = limit && k->inflight >= limit / 2;
    grpc_byte_buffer *b = s && !enough ? nq_gq_take(g->c, s, k->inflight, &len) : NULL;
    grpc_op op = {0};
    if (b) {
        k->send_buf = b;
        k->data = 1;
        k->inflight += len;
        op.op = GRPC_OP_SEND_MESSAGE;
        op.flags = GRPC_WRITE_NO_COMPRESS;
        op.data.send_message.send_message = b;
    } else {
        /* all that was pending is out: half-close, the server answers */
        op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
        k->send_done = 1;
    }
    if (nq_gq_batch(k, &k->op_send, &op, 1) != GRPC_CALL_OK) {
        fail(k, "cannot start a send");
        return;
    }
    k->sending = 1;
}

void nq_gq_client_round(struct gq_state *g)
{
    struct nq_comm *c = g->c;
    if (g->round || c->close_done)
        return;
    struct nq_session *s = c->sessions;
    if (!g->linked && s->fin_sent && s->fin_received)
        return; /* the session is over: nothing to poll for */
    ev_timer_stop(c->loop, &g->poll);
    if (!g->linked) {
        /* a link starts only on a usable channel: no ini (and no lost
         * link) per failed connection attempt */
        grpc_connectivity_state st = grpc_channel_check_connectivity_state(g->channel, 1);
        if (st != GRPC_CHANNEL_READY) {
            nq_gq_client_wait_ready(g, st);
            return;
        }
    }
    struct gq_call *k = nq_gq_call_new(g);
    if (!k) {
        nq_log(c, NQ_LOG_ERROR, "grpc: out of memory starting a round");
        return;
    }
    if (!g->linked) {
        /* a new link: the first bytes of this round are our ini */
        char name[NQ_HOST_MAX + 16];
        snprintf(name, sizeof name, "%s:%d", c->o.host, c->o.port);
        nq_gq_link_init(c, &g->link, name);
        nq_gq_ident_new_link(g);
        g->linked = 1;
        nq_core_client_attach(c, &g->link.link);
    }
    k->peer = &g->link;
    k->call = grpc_channel_create_call(g->channel, NULL, GRPC_PROPAGATE_DEFAULTS, g->cq,
                                       grpc_slice_from_static_string(NQ_GRPC_METHOD), NULL,
                                       gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    g->round = k;
    /* the server's initial metadata is asked for here, not with the first
     * receive: gRPC delivers no message before that op was started, and a
     * round that begins while the receive queue is full starts its first
     * receive only later (that receive then never completed, and the round
     * with it: messages stuck, close hung in destroy) */
    grpc_op start[2] = {{0}, {0}};
    start[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    /* who we are, for a server behind a proxy (grpc_ident.c) */
    nq_gq_ident_metadata(g, k);
    start[0].data.send_initial_metadata.count = k->md_send_n;
    start[0].data.send_initial_metadata.metadata = k->md_send;
    start[1].op = GRPC_OP_RECV_INITIAL_METADATA;
    start[1].data.recv_initial_metadata.recv_initial_metadata = &k->md_init;
    grpc_op status = {0};
    status.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    status.data.recv_status_on_client.trailing_metadata = &k->md_trail;
    status.data.recv_status_on_client.status = &k->status;
    status.data.recv_status_on_client.status_details = &k->status_details;
    status.data.recv_status_on_client.error_string = &k->error_string;
    if (!k->call || nq_gq_batch(k, &k->op_start, start, 2) != GRPC_CALL_OK ||
        nq_gq_batch(k, &k->op_status, &status, 1) != GRPC_CALL_OK) {
        if (k->call)
            fail(k, "cannot start a call");
        if (k->pending == 0) {
            k->failed = 1;
            snprintf(k->why, sizeof k->why, "cannot start a call");
            nq_gq_client_round_done(g, k);
        }
        return;
    }
    start_recv(g, k);
    nq_gq_client_send_next(g, k);
}

static void on_recv(struct gq_state *g, struct gq_call *k, int success)
{
    struct nq_comm *c = g->c;
    if (!success || !k->recv_buf) { /* the server's part ended (the status says how) */
        k->recv_done = 1;
        return;
    }
    grpc_byte_buffer *b = k->recv_buf;
    k->recv_buf = NULL;
    /* ask for the next message before copying this one out: gRPC reads
     * on while the loop thread copies (one more message held at most) */
    start_recv(g, k);
    size_t len;
    int r = nq_gq_feed(c, &g->link.link, b, &len);
    grpc_byte_buffer_destroy(b);
    k->data = 1;
    if (r < 0) {
        fail(k, "protocol error in the server's byte stream");
        return;
    }
    nq_recvq_pause_if_full(&c->rq);
}

static void on_status(struct gq_call *k)
{
    if (k->status == GRPC_STATUS_OK || k->failed)
        return;
    char *details = grpc_slice_to_c_string(k->status_details);
    k->failed = 1;
    snprintf(k->why, sizeof k->why, "round ended with %s: %s", nq_gq_status_name(k->status),
             details && *details ? details : (k->error_string ? k->error_string : "no details"));
    gpr_free(details);
}

void nq_gq_client_event(struct gq_state *g, struct gq_op *op)
{
    if (op->kind == GQ_CONN) {
        nq_gq_client_conn_event(g);
        return;
    }
    struct gq_call *k = op->call;
    k->pending--;
    switch (op->kind) {
    case GQ_SEND:
        if (k->send_buf) {
            grpc_byte_buffer_destroy(k->send_buf);
            k->send_buf = NULL;
        }
        k->sending = 0;
        /* a failed send shows in the status */
        if (op->success)
            nq_gq_client_send_next(g, k);
        else
            k->send_done = 1;
        break;
    case GQ_RECV:
        on_recv(g, k, op->success);
        break;
    case GQ_STATUS:
        on_status(k);
        break;
    default:
        break;
    }
    if (k->pending == 0)
        nq_gq_client_round_done(g, k);
}

void nq_gq_client_resume(struct gq_state *g)
{
    struct gq_call *k = g->round;
    if (k && k->recv_stalled) {
        k->recv_stalled = 0;
        start_recv(g, k);
    }
}
