/* The gRPC transport's shared machinery: the completion-queue thread that
 * hands finished operations to the loop thread, call bookkeeping, and the
 * conversion between session output / received messages and gRPC byte
 * buffers. */
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/time.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "grpc/grpc_internal.h"

/* runs of queued bytes per outgoing message */
#define TAKE_SEGS 1024
/* runs at least this long are referenced, shorter ones copied */
#define TAKE_REF_MIN (16 * 1024)
/* bytes per outgoing message (transport_size if smaller): a gRPC message
 * is delivered only once all of it arrived, so the receiver copies one
 * message out while the next is on the wire (measured: 1 MiB beat 256 KiB,
 * 2, 4 and 16 MiB) */
#define TAKE_MAX (1024 * 1024)

static void *cq_main(void *arg)
{
    struct gq_state *g = arg;
    sigset_t set;
    sigfillset(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (;;) {
        /* blocks in gRPC's poller: no busy-waiting, and this thread is
         * also where gRPC does the connection I/O */
        grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        struct gq_op *op = ev.tag;
        op->success = ev.success;
        if (op->kind == GQ_SHUTDOWN) {
            pthread_mutex_lock(&g->shut_mu);
            g->shut_done = 1;
            pthread_cond_broadcast(&g->shut_cv);
            pthread_mutex_unlock(&g->shut_mu);
            continue;
        }
        nq_mpsc_push(&g->events, &op->node);
        ev_async_send(g->c->loop, &g->wake);
    }
    return NULL;
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    struct gq_state *g = w->data;
    struct nq_mpsc_node *n;
    while ((n = nq_mpsc_pop(&g->events)))
        g->on_event(g, (struct gq_op *)n);
    /* last: it may start sends, end rounds, or finish the close */
    nq_core_flush(g->c);
}

/* Dead-peer detection (nq_options_set_keepalive, K ms): an HTTP/2 ping
 * after K/2 ms in which nothing arrived on the connection, and the
 * connection is closed when its ack has not come K/2 ms later, so a peer
 * that went silent is cut about K ms after its last word. Pings go out
 * with or without a call in flight (a server pings its clients between
 * their rounds). A peer that talks is never pinged: whatever it sends
 * restarts gRPC's keepalive timer. K = 0: no pings. */
static void set_keepalive_args(struct gq_state *g, int *np)
{
    struct nq_comm *c = g->c;
    int n = *np;
    int64_t k = c->o.keepalive_ms;
    int half = k > 0 ? (int)(k / 2 > INT_MAX ? INT_MAX : k / 2) : INT_MAX;
    g->arg_items[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS, {.integer = half}};
    if (k > 0)
        g->arg_items[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, {.integer = half}};
    /* The server pings idle clients as long as they are idle (an idle
     * reference client sends nothing, and clients do not police pings).
     * The client keeps gRPC's limit of 2 pings until it sends something
     * again: a client whose round stalls on its own full receive queue
     * hears nothing and would go on pinging, and a server with gRPC's
     * default policy (the reference) answers a 4th ping within 5 min
     * without its own data in between with GOAWAY too_many_pings, which
     * cut such a round (seen with a 1 s keepalive). One unanswered ping is
     * all it takes to notice a frozen server. */
    if (k > 0 && c->purpose == NQ_SERVER)
        g->arg_items[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA,
                                       {.integer = 0}};
    /* client: ping between rounds too (retry backoff); server: ping idle
     * clients, and accept pings from clients that have no call open */
    g->arg_items[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
                                   {.integer = k > 0 || c->purpose == NQ_SERVER}};
    if (c->purpose == NQ_SERVER) {
        /* gRPC servers refuse (GOAWAY "too_many_pings" after 2 strikes)
         * pings that come less than 5 min apart while they sent nothing:
         * our clients ping every keepalive/2 >= 500 ms when their server
         * is silent (a stalled round), which must not count as abuse */
        g->arg_items[n++] = (grpc_arg){GRPC_ARG_INTEGER,
                                       GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                                       {.integer = NQ_GQ_MIN_PING_MS}};
        /* the liveness check lists the server's connections through channelz */
        g->arg_items[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_CHANNELZ, {.integer = 1}};
    }
    *np = n;
}

static void set_args(struct gq_state *g)
{
    struct nq_comm *c = g->c;
    int size = c->o.transport_size > INT_MAX ? INT_MAX : (int)c->o.transport_size;
    int n = 0;
    g->arg_items[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, {.integer = size}};
    g->arg_items[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = size}};
    g->arg_items[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM,
                                   {.integer = GRPC_COMPRESS_NONE}};
    if (c->purpose == NQ_CLIENT) {
        /* the server tells clients apart by connection: never share one
         * with another communicator of this process */
        g->arg_items[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, {.integer = 1}};
        g->arg_items[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, {.integer = 100}};
        if (c->o.tls && c->o.tls_server_name)
            g->arg_items[n++] = (grpc_arg){GRPC_ARG_STRING, GRPC_SSL_TARGET_NAME_OVERRIDE_ARG,
                                           {.string = c->o.tls_server_name}};
    }
    if (c->purpose == NQ_SERVER)
        /* gRPC binds with SO_REUSEPORT by default: a second server on a
         * port in use would start without error and take half of the new
         * connections (seen: a test's client linked to another test's
         * server). A busy port must fail the bind, as it does over TCP. */
        g->arg_items[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_ALLOW_REUSEPORT, {.integer = 0}};
    set_keepalive_args(g, &n);
    /* no BDP probing: gRPC then announces its full receive window from the
     * start instead of growing it from 64 KiB with pings. Every round is a
     * new HTTP/2 stream, and a direction that was idle (the server's, while
     * the client sent) starts small again: measured, 2 MiB sync +30..40%
     * (medians of 15 interleaved quick runs), memory run unchanged */
    g->arg_items[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_HTTP2_BDP_PROBE, {.integer = 0}};
    g->args.num_args = (size_t)n;
    g->args.args = g->arg_items;
}

struct gq_state *nq_gq_new(struct nq_comm *c, void (*on_event)(struct gq_state *, struct gq_op *))
{
    struct gq_state *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->c = c;
    g->on_event = on_event;
    nq_mpsc_init(&g->events);
    pthread_mutex_init(&g->shut_mu, NULL);
    pthread_cond_init(&g->shut_cv, NULL);
    set_args(g);
    /* gRPC counts grpc_init/grpc_shutdown pairs itself: one pair per
     * communicator keeps the library up exactly while one is alive */
    grpc_init();
    g->cq = grpc_completion_queue_create_for_next(NULL);
    ev_async_init(&g->wake, on_wake);
    g->wake.data = g;
    ev_async_start(c->loop, &g->wake);
    if (pthread_create(&g->cq_thread, NULL, cq_main, g) != 0) {
        nq_gq_free(g);
        return NULL;
    }
    g->cq_thread_started = 1;
    return g;
}

struct gq_call *nq_gq_call_new(struct gq_state *g)
{
    struct gq_call *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->g = g;
    struct gq_op *ops[] = {&k->op_start, &k->op_send, &k->op_recv, &k->op_status, &k->op_new};
    enum gq_kind kinds[] = {GQ_START, GQ_SEND, GQ_RECV, GQ_STATUS, GQ_NEW_CALL};
    for (int i = 0; i < 5; i++) {
        ops[i]->kind = kinds[i];
        ops[i]->call = k;
    }
    grpc_metadata_array_init(&k->md_init);
    grpc_metadata_array_init(&k->md_trail);
    grpc_metadata_array_init(&k->md_req);
    grpc_call_details_init(&k->details);
    k->status_details = grpc_empty_slice();
    k->all_next = g->calls;
    if (g->calls)
        g->calls->all_prev = k;
    g->calls = k;
    return k;
}

void nq_gq_call_free(struct gq_call *k)
{
    struct gq_state *g = k->g;
    if (k->all_prev)
        k->all_prev->all_next = k->all_next;
    else
        g->calls = k->all_next;
    if (k->all_next)
        k->all_next->all_prev = k->all_prev;
    if (k->send_buf)
        grpc_byte_buffer_destroy(k->send_buf);
    if (k->recv_buf)
        grpc_byte_buffer_destroy(k->recv_buf);
    grpc_metadata_array_destroy(&k->md_init);
    grpc_metadata_array_destroy(&k->md_trail);
    grpc_metadata_array_destroy(&k->md_req);
    for (size_t i = 0; i < k->md_send_n; i++) {
        grpc_slice_unref(k->md_send[i].key);
        grpc_slice_unref(k->md_send[i].value);
    }
    grpc_call_details_destroy(&k->details);
    grpc_slice_unref(k->status_details);
    if (k->error_string)
        gpr_free((void *)k->error_string);
    if (k->call)
        grpc_call_unref(k->call);
    free(k);
}

grpc_call_error nq_gq_batch(struct gq_call *k, struct gq_op *op, const grpc_op *ops, size_t n)
{
    grpc_call_error e = grpc_call_start_batch(k->call, ops, n, op, NULL);
    if (e == GRPC_CALL_OK)
        k->pending++;
    return e;
}

void nq_gq_stop(struct gq_state *g, void (*finish)(struct gq_state *, struct gq_op *))
{
    if (g->cq_thread_started) {
        grpc_completion_queue_shutdown(g->cq);
        pthread_join(g->cq_thread, NULL);
        g->cq_thread_started = 0;
    }
    /* the loop thread has ended: this thread is the queue's consumer now */
    struct nq_mpsc_node *n;
    while ((n = nq_mpsc_pop(&g->events)))
        finish(g, (struct gq_op *)n);
    while (g->calls) /* nothing is outstanding any more */
        nq_gq_call_free(g->calls);
}

void nq_gq_free(struct gq_state *g)
{
    if (!g)
        return;
    ev_async_stop(g->c->loop, &g->wake);
    if (g->cq_thread_started) {
        grpc_completion_queue_shutdown(g->cq);
        pthread_join(g->cq_thread, NULL);
    }
    if (g->cq)
        grpc_completion_queue_destroy(g->cq);
    pthread_mutex_destroy(&g->shut_mu);
    pthread_cond_destroy(&g->shut_cv);
    free(g);
    grpc_shutdown();
}

/* One run of queued bytes: part of a payload's iovec. */
struct take_seg {
    struct nq_payload *p;
    const uint8_t *base;
    size_t len;
};

static void payload_slice_done(void *p)
{
    /* last gRPC reference to the slice: may run on a gRPC thread, which
     * payloads allow (stream chunks' release functions run on any thread) */
    nq_payload_unref(p);
}

/* The queued bytes from `skip` past the unsent part's start, up to max
 * bytes (hard at most) or TAKE_SEGS runs. */
static int take_segs(struct nq_session *s, uint64_t skip, uint64_t max, uint64_t hard,
                     struct take_seg *seg)
{
    int n = 0;
    uint64_t total = 0;
    skip += s->head_off;
    for (struct nq_send_item *it = s->head; it && n < TAKE_SEGS && total < max; it = it->next) {
        struct nq_payload *p = it->p;
        if (skip >= p->frame_size) {
            skip -= p->frame_size;
            continue;
        }
        for (int i = 0; i < p->niov && n < TAKE_SEGS && total < max; i++) {
            uint64_t len = p->iov[i].iov_len;
            if (skip >= len) {
                skip -= len;
                continue;
            }
            uint64_t take = len - skip;
            /* a cut that would leave a sliver of this run (the last bytes
             * of a frame) for a message of its own takes the sliver too */
            if (take > max - total && (take - (max - total) >= TAKE_REF_MIN || total + take > hard))
                take = max - total;
            seg[n++] = (struct take_seg){p, (const uint8_t *)p->iov[i].iov_base + skip, (size_t)take};
            skip = 0;
            total += take;
        }
    }
    return n;
}

grpc_byte_buffer *nq_gq_take(struct nq_comm *c, struct nq_session *s, uint64_t skip, size_t *len)
{
    struct take_seg seg[TAKE_SEGS];
    grpc_slice slices[TAKE_SEGS];
    uint64_t max = c->o.transport_size < TAKE_MAX ? c->o.transport_size : TAKE_MAX;
    int n = take_segs(s, skip, max, c->o.transport_size, seg), ns = 0;
    size_t total = 0;
    for (int i = 0; i < n;) {
        if (seg[i].len >= TAKE_REF_MIN) {
            /* big runs go out from the queued payload itself: it stays
             * alive as long as gRPC holds the slice (past the round's end,
             * past a failed link, past the communicator) */
            nq_payload_ref(seg[i].p);
            slices[ns++] = grpc_slice_new_with_user_data((void *)seg[i].base, seg[i].len,
                                                         payload_slice_done, seg[i].p);
            total += seg[i].len;
            i++;
            continue;
        }
        /* small frames: one copy into a slice of their own beats a
         * refcounted slice per frame */
        size_t run = 0;
        int j = i;
        for (; j < n && seg[j].len < TAKE_REF_MIN; j++)
            run += seg[j].len;
        grpc_slice sl = grpc_slice_malloc(run);
        uint8_t *q = GRPC_SLICE_START_PTR(sl);
        for (; i < j; i++) {
            memcpy(q, seg[i].base, seg[i].len);
            q += seg[i].len;
        }
        slices[ns++] = sl;
        total += run;
    }
    *len = total;
    if (ns == 0)
        return NULL;
    grpc_byte_buffer *b = grpc_raw_byte_buffer_create(slices, (size_t)ns);
    for (int i = 0; i < ns; i++)
        grpc_slice_unref(slices[i]);
    return b;
}

void nq_gq_sent(struct nq_comm *c, struct nq_session *s, struct gq_call *k)
{
    uint64_t n = k->inflight;
    k->inflight = 0;
    if (s && n)
        nq_session_consume(c, s, n);
}

int nq_gq_feed(struct nq_comm *c, struct nq_link *l, grpc_byte_buffer *b, size_t *len)
{
    grpc_byte_buffer_reader r;
    *len = 0;
    if (!grpc_byte_buffer_reader_init(&r, b)) {
        nq_log(c, NQ_LOG_WARN, "%s: cannot read a gRPC message", l->name);
        return -1;
    }
    grpc_slice sl;
    int rc = 0;
    while (rc == 0 && grpc_byte_buffer_reader_next(&r, &sl)) {
        size_t n = GRPC_SLICE_LENGTH(sl);
        *len += n;
        rc = nq_core_feed(c, l, GRPC_SLICE_START_PTR(sl), n);
        grpc_slice_unref(sl);
    }
    grpc_byte_buffer_reader_destroy(&r);
    return rc;
}

void nq_gq_link_init(struct nq_comm *c, struct gq_peer *p, const char *name)
{
    memset(&p->link, 0, sizeof p->link);
    snprintf(p->link.name, sizeof p->link.name, "%s", name);
    /* handshake frames pass whatever the limit */
    nq_framer_init(&p->link.fr, c->o.message_limit < NQ_ID_SIZE ? NQ_ID_SIZE : c->o.message_limit);
}

nq_status nq_gq_read_file(const char *what, const char *path, char **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return nq_fail(NQ_ETLS, "grpc: cannot open %s %s", what, path);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap)
            break;
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf)
        return nq_fail(NQ_ENOMEM, "grpc: out of memory reading %s", path);
    if (err || n == 0) {
        free(buf);
        return nq_fail(NQ_ETLS, "grpc: cannot read %s %s (empty or unreadable)", what, path);
    }
    buf[n] = 0;
    *out = buf;
    return NQ_OK;
}

const char *nq_gq_status_name(grpc_status_code st)
{
    static const char *names[] = {
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED"};
    return (unsigned)st < sizeof names / sizeof *names ? names[st] : "?";
}
