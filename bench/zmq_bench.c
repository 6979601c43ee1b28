/*
 * ZeroMQ over tcp://127.0.0.1: PUSH/PULL one way and PUSH/PULL the other
 * (port and port2) for sync and async, REQ/REP on port for pingpong.
 * Default high-water marks: zmq_send blocks when 1000 messages are queued.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "bench_run.h"

struct zb {
    void *ctx;
    void *out; /* the socket we put on */
    void *in;  /* the socket we get from */
    zmq_msg_t msg;
};

static void zb_put(void *ctx, const void *data, size_t size)
{
    struct zb *z = ctx;
    while (zmq_send(z->out, data, size, 0) < 0)
        if (errno != EINTR)
            bench_die("zmq: send: %s", zmq_strerror(errno));
}

static const void *zb_get(void *ctx, size_t *size)
{
    struct zb *z = ctx;
    while (zmq_msg_recv(&z->msg, z->in, 0) < 0)
        if (errno != EINTR)
            bench_die("zmq: recv: %s", zmq_strerror(errno));
    *size = zmq_msg_size(&z->msg);
    return zmq_msg_data(&z->msg);
}

/* Default linger (infinite) makes zmq_ctx_term wait until queued messages
 * have been handed to the peer. */
static void zb_finish(void *ctx)
{
    struct zb *z = ctx;
    zmq_msg_close(&z->msg);
    zmq_close(z->out);
    if (z->in != z->out)
        zmq_close(z->in);
    zmq_ctx_term(z->ctx);
}

static void *zb_socket(struct zb *z, int type, int bind, const char *host, int port)
{
    char ep[300];
    void *s = zmq_socket(z->ctx, type);
    snprintf(ep, sizeof ep, "tcp://%s:%d", host, port);
    if (!s || (bind ? zmq_bind(s, ep) : zmq_connect(s, ep)))
        bench_die("zmq: %s %s: %s", bind ? "bind" : "connect", ep, zmq_strerror(errno));
    return s;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    bench_parse(&o, argc, argv, "zmq_bench");
    struct zb z = { .ctx = zmq_ctx_new() };
    int server = o.role == ROLE_SERVER;
    if (o.mode == MODE_PINGPONG) {
        z.out = z.in = zb_socket(&z, server ? ZMQ_REP : ZMQ_REQ, server, o.host, o.port);
    } else {
        /* port carries client to server, port2 server to client */
        z.in = zb_socket(&z, ZMQ_PULL, server, o.host, server ? o.port : o.port2);
        z.out = zb_socket(&z, ZMQ_PUSH, server, o.host, server ? o.port2 : o.port);
    }
    if (server)
        bench_ready();
    zmq_msg_init(&z.msg);
    struct bench_io io = { zb_put, NULL, zb_get, zb_finish, &z };
    bench_run(&o, "zmq", &io);
    return 0;
}
