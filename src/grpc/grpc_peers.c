/* gRPC server rounds. Clients are known by their nq-client-id / nq-link
 * headers (grpc_ident.c), or without them by the call's peer address (one
 * channel, one HTTP/2 connection, one client): each key has a link whose
 * byte streams continue from call to call. A round streams what is
 * pending for the client, then reads the client's messages, then ends
 * with status OK; calls from a client whose round is still running wait
 * their turn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "grpc/grpc_internal.h"

static void round_start(struct gq_state *g, struct gq_peer *p, struct gq_call *k);

static struct gq_peer *peer_get(struct gq_state *g, const char *key, const char *addr, int by_header,
                                const uint8_t *id)
{
    for (struct gq_peer *p = g->peers; p; p = p->next)
        if (strcmp(p->key, key) == 0) {
            if (strcmp(p->addr, addr) != 0) {
                /* a header-keyed client on another connection: a proxy
                 * that does not keep its upstream connections, or our
                 * client's channel reconnected between rounds */
                nq_log(g->c, NQ_LOG_DEBUG, "%s: gRPC peer %s now on this connection", addr, key);
                snprintf(p->addr, sizeof p->addr, "%s", addr);
                p->conns++;
            }
            return p;
        }
    struct gq_peer *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    snprintf(p->key, sizeof p->key, "%s", key);
    p->by_header = by_header;
    if (by_header)
        memcpy(p->hid, id, NQ_ID_SIZE);
    p->conns = 1;
    p->quiet_ms = nq_now_ms();
    nq_gq_link_init(g->c, p, addr);
    p->next = g->peers;
    g->peers = p;
    nq_log(g->c, NQ_LOG_DEBUG, "%s: new gRPC peer%s%s", addr, by_header ? " " : "",
           by_header ? key : "");
    return p;
}

void nq_gq_server_new_call(struct gq_state *g, struct gq_call *k)
{
    char *peer = grpc_call_get_peer(k->call);
    const char *addr = peer ? peer : "?";
    char key[NQ_GQ_KEY_MAX], why[200];
    uint8_t id[NQ_ID_SIZE];
    int by_header = nq_gq_ident_key(k, key, id, why, sizeof why);
    if (by_header < 0) {
        nq_log(g->c, NQ_LOG_WARN, "%s: call refused: %s", addr, why);
        grpc_call_cancel_with_status(k->call, GRPC_STATUS_INVALID_ARGUMENT, why, NULL);
        gpr_free(peer);
        nq_gq_call_free(k);
        return;
    }
    struct gq_peer *p = peer_get(g, by_header ? key : addr, addr, by_header, id);
    gpr_free(peer);
    if (!p) {
        nq_log(g->c, NQ_LOG_ERROR, "grpc: out of memory for a peer");
        grpc_call_cancel_with_status(k->call, GRPC_STATUS_RESOURCE_EXHAUSTED, "server out of memory", NULL);
        nq_gq_call_free(k);
        return;
    }
    k->peer = p;
    if (p->round) {
        k->next_wait = NULL;
        if (p->wait_tail)
            p->wait_tail->next_wait = k;
        else
            p->wait_head = k;
        p->wait_tail = k;
        return;
    }
    round_start(g, p, k);
}

static void fail(struct gq_call *k, grpc_status_code code, const char *why)
{
    if (k->failed)
        return;
    k->failed = 1;
    snprintf(k->why, sizeof k->why, "%s", why);
    /* ends the call now, whatever operations are outstanding */
    grpc_call_cancel_with_status(k->call, code, why, NULL);
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
        fail(k, GRPC_STATUS_INTERNAL, "cannot start a receive");
}

static struct nq_session *session_of(struct gq_peer *p)
{
    struct nq_session *s = p->link.s;
    return s && s->link == &p->link ? s : NULL;
}

static void send_next(struct gq_state *g, struct gq_call *k)
{
    if (k->sending || k->send_done || k->failed)
        return;
    struct nq_session *s = session_of(k->peer);
    size_t len = 0;
    grpc_byte_buffer *b = s ? nq_gq_take(g->c, s, k->inflight, &len) : NULL;
    if (!b) {
        /* our part of the round is out: now the client's */
        k->send_done = 1;
        start_recv(g, k);
        return;
    }
    k->send_buf = b;
    k->inflight += len;
    grpc_op op = {0};
    op.op = GRPC_OP_SEND_MESSAGE;
    op.flags = GRPC_WRITE_NO_COMPRESS;
    op.data.send_message.send_message = b;
    if (nq_gq_batch(k, &k->op_send, &op, 1) != GRPC_CALL_OK) {
        fail(k, GRPC_STATUS_INTERNAL, "cannot start a send");
        return;
    }
    k->sending = 1;
}

static void round_start(struct gq_state *g, struct gq_peer *p, struct gq_call *k)
{
    p->round = k;
    grpc_op ops[1] = {0};
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    grpc_call_error e1 = nq_gq_batch(k, &k->op_start, ops, 1);
    grpc_op close_op = {0};
    close_op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    close_op.data.recv_close_on_server.cancelled = &k->cancelled;
    grpc_call_error e2 = nq_gq_batch(k, &k->op_status, &close_op, 1);
    if (e1 != GRPC_CALL_OK || e2 != GRPC_CALL_OK) {
        fail(k, GRPC_STATUS_INTERNAL, "cannot start the round");
        return;
    }
    send_next(g, k);
}

static void round_next(struct gq_state *g, struct gq_peer *p, int failed, const char *why);

static void send_status(struct gq_state *g, struct gq_call *k)
{
    k->status_sent = 1;
    grpc_op op = {0};
    op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    op.data.send_status_from_server.status = GRPC_STATUS_OK;
    if (nq_gq_batch(k, &k->op_send, &op, 1) != GRPC_CALL_OK) {
        fail(k, GRPC_STATUS_INTERNAL, "cannot end the round");
        return;
    }
    /* Both byte streams of this round are complete: the client's next
     * call may start now instead of after our status's write completed
     * (under load that took milliseconds). The client starts a call only
     * after the previous one ended OK, so this call's outcome matters
     * only if it fails (round_end then drops the link). */
    struct gq_peer *p = k->peer;
    k->ending = 1;
    p->ending++;
    p->round = NULL;
    round_next(g, p, 0, NULL);
}

static void redispatch_waiting(struct gq_state *g, struct gq_peer *p)
{
    struct gq_call *w = p->wait_head;
    p->wait_head = p->wait_tail = NULL;
    while (w) {
        struct gq_call *next = w->next_wait;
        nq_gq_server_new_call(g, w);
        w = next;
    }
}

void nq_gq_peer_drop(struct gq_state *g, struct gq_peer *p, const char *why)
{
    for (struct gq_peer **pp = &g->peers; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    p->next = NULL;
    nq_core_link_lost(g->c, &p->link, why);
    /* later calls from that address start a new link (with ini) */
    redispatch_waiting(g, p);
    p->dropped = 1;
    if (p->round) {
        fail(p->round, GRPC_STATUS_UNAVAILABLE, why);
        return;
    }
    if (!p->ending)
        free(p);
}

static void round_end(struct gq_state *g, struct gq_call *k)
{
    struct gq_peer *p = k->peer;
    int failed = k->failed, ending = k->ending;
    char why[sizeof k->why];
    snprintf(why, sizeof why, "%s", k->why);
    nq_gq_call_free(k);
    if (ending) {
        p->ending--;
        if (p->dropped) {
            if (!p->round && !p->ending)
                free(p);
        } else if (failed) {
            /* the client did not get our OK: it starts over with a new
             * link, so this one must go (with the round now running) */
            nq_log(g->c, NQ_LOG_WARN, "%s: round failed at its end: %s", p->addr, why);
            nq_gq_peer_drop(g, p, why);
        }
        return;
    }
    p->round = NULL;
    if (p->dropped) {
        if (!p->ending)
            free(p);
        return;
    }
    round_next(g, p, failed, why);
}

/* The peer's round is over: drop the link, end it, or start the call
 * waiting next. */
static void round_next(struct gq_state *g, struct gq_peer *p, int failed, const char *why)
{
    struct nq_session *s = session_of(p);
    p->quiet_ms = nq_now_ms();
    if (failed) {
        nq_log(g->c, NQ_LOG_WARN, "%s: round failed: %s", p->addr, why);
        nq_gq_peer_drop(g, p, why);
    } else if (s && nq_session_finished(s)) {
        nq_gq_peer_drop(g, p, "session finished");
    } else if (p->wait_head) {
        struct gq_call *w = p->wait_head;
        p->wait_head = w->next_wait;
        if (!p->wait_head)
            p->wait_tail = NULL;
        round_start(g, p, w);
    }
}

static void on_recv(struct gq_state *g, struct gq_call *k, int success)
{
    struct nq_comm *c = g->c;
    if (!success) {
        fail(k, GRPC_STATUS_CANCELLED, "receive failed (call cancelled or connection lost)");
        return;
    }
    if (!k->recv_buf) { /* the client half-closed: its part is in */
        k->recv_done = 1;
        struct gq_peer *p = k->peer;
        if (p->by_header && p->ini_n == 0 && !p->link.s) {
            /* Our clients' first round of a link carries their ini: a
             * link we do not know is one another server had (a proxy
             * moved the client here after its backend died) or we lost
             * (restart, liveness). Said at once, not at its next put. */
            fail(k, GRPC_STATUS_FAILED_PRECONDITION,
                 "unknown nq-link (another server's, or lost): start a new link with your ini");
            return;
        }
        if (!k->failed)
            send_status(g, k);
        return;
    }
    grpc_byte_buffer *b = k->recv_buf;
    k->recv_buf = NULL;
    char why[200];
    int id_ok = nq_gq_ident_check(k->peer, b, why, sizeof why);
    if (id_ok < 0) {
        /* before the core saw the ini: no session is touched */
        nq_log(c, NQ_LOG_WARN, "%s: link refused: %s", k->peer->addr, why);
        grpc_byte_buffer_destroy(b);
        fail(k, id_ok == -1 ? GRPC_STATUS_PERMISSION_DENIED : GRPC_STATUS_FAILED_PRECONDITION, why);
        return;
    }
    /* ask for the next message before copying this one out: gRPC reads
     * on while the loop thread copies (one more message held at most) */
    start_recv(g, k);
    size_t len;
    int r = nq_gq_feed(c, &k->peer->link, b, &len);
    grpc_byte_buffer_destroy(b);
    if (r < 0) {
        fail(k, GRPC_STATUS_INVALID_ARGUMENT, "protocol error in the client's byte stream");
        return;
    }
    nq_recvq_pause_if_full(&c->rq);
}

void nq_gq_server_event(struct gq_state *g, struct gq_op *op)
{
    struct gq_call *k = op->call;
    k->pending--;
    switch (op->kind) {
    case GQ_START:
        if (!op->success)
            fail(k, GRPC_STATUS_CANCELLED, "the call ended before it began");
        break;
    case GQ_SEND:
        if (k->send_buf) {
            grpc_byte_buffer_destroy(k->send_buf);
            k->send_buf = NULL;
        }
        k->sending = 0;
        if (op->success && !k->status_sent)
            nq_gq_sent(g->c, session_of(k->peer), k);
        if (!op->success)
            fail(k, GRPC_STATUS_CANCELLED, "send failed (call cancelled or connection lost)");
        else if (!k->status_sent)
            send_next(g, k);
        break;
    case GQ_RECV:
        on_recv(g, k, op->success);
        break;
    case GQ_STATUS:
        if (k->cancelled && !k->failed) {
            k->failed = 1;
            snprintf(k->why, sizeof k->why, "the client cancelled the call or went away");
        }
        break;
    default:
        break;
    }
    if (k->pending == 0)
        round_end(g, k);
}

void nq_gq_server_kick(struct gq_state *g, struct gq_peer *p)
{
    if (p && p->round && !p->round->send_done)
        send_next(g, p->round);
}

void nq_gq_server_resume(struct gq_state *g)
{
    for (struct gq_peer *p = g->peers; p; p = p->next) {
        struct gq_call *k = p->round;
        if (k && k->recv_stalled) {
            k->recv_stalled = 0;
            start_recv(g, k);
        }
    }
}
