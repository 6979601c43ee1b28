/*
 * netqueue over TCP, through the public ABI only. put copies the bytes
 * (nq_comm_put) and completes in the background, like the reference's
 * fire-and-forget put; get waits for the next message. With --zerocopy
 * (reported as "netqueue-zc") puts hand over chunks instead
 * (nq_comm_put_stream), as the reference's BufferSerializer does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netqueue/netqueue.h>

#include "bench_run.h"

struct nb {
    nq_comm *comm;
    nq_msg *last; /* kept until the next get, as bench_io promises */
};

static void check(nq_status st, const char *what)
{
    if (st != NQ_OK)
        bench_die("netqueue: %s: %s (%s)", what, nq_strerror(st), nq_last_error());
}

static void nb_put(void *ctx, const void *data, size_t size)
{
    struct nb *n = ctx;
    check(nq_comm_put(n->comm, data, size, NULL, 0, NULL, NULL), "put");
}

static void release_msg(void *user, void *data, size_t size)
{
    nq_msg_free(user);
}

static void nb_put_zc(void *ctx, const void *data, size_t size)
{
    struct nb *n = ctx;
    nq_release_fn release = NULL;
    void *user = NULL;
    /* The payload outlives the communicator; an echoed message does not,
     * so the chunk takes it over. */
    if (n->last && data == nq_msg_data(n->last)) {
        release = release_msg;
        user = n->last;
        n->last = NULL;
    }
    nq_stream *s;
    nq_chunk *c;
    check(nq_stream_new(&s), "stream_new");
    check(nq_chunk_wrap(&c, (void *)data, size, release, user), "chunk_wrap");
    check(nq_stream_write_chunk(s, c), "stream_write_chunk");
    check(nq_comm_put_stream(n->comm, s, NULL, 0, NULL, NULL), "put_stream");
}

static const void *nb_get(void *ctx, size_t *size)
{
    struct nb *n = ctx;
    nq_msg_free(n->last);
    n->last = NULL;
    check(nq_comm_get(n->comm, NULL, 0, BENCH_WAIT_MS, &n->last), "get");
    *size = nq_msg_size(n->last);
    return nq_msg_data(n->last);
}

static void nb_finish(void *ctx)
{
    struct nb *n = ctx;
    nq_msg_free(n->last);
    n->last = NULL;
    check(nq_comm_close(n->comm, BENCH_WAIT_MS), "close");
    nq_comm_free(n->comm);
}

int main(int argc, char **argv)
{
    /* --zerocopy and --send-limit are ours alone: take them out before the
     * shared parser. The send limit (default 16 MiB) keeps copying puts from
     * piling up copies when the sender outruns the socket; 0 turns it off. */
    int zerocopy = 0, grpc = 0, mqtt = 0, k = 1;
    unsigned long long send_limit = 16ull << 20, transport_size = 0;
    int qos = 0;
    const char *tls_dir = NULL; /* --tls DIR: TLS with DIR/server.pem, server.key, ca.pem */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--zerocopy"))
            zerocopy = 1;
        else if (!strcmp(argv[i], "--grpc")) /* bench/grpc_bench.py */
            grpc = 1;
        else if (!strcmp(argv[i], "--mqtt")) /* bench/mqtt_bench.py: --port is the broker's */
            mqtt = 1;
        else if (!strcmp(argv[i], "--send-limit") && i + 1 < argc)
            send_limit = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--transport-size") && i + 1 < argc) /* MQTT: bytes per publish */
            transport_size = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--qos") && i + 1 < argc) /* MQTT QoS */
            qos = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tls") && i + 1 < argc)
            tls_dir = argv[++i];
        else
            argv[k++] = argv[i];
    }
    argc = k;
    struct bench_opts o;
    bench_parse(&o, argc, argv, "nq_bench");
    nq_options *opts;
    check(nq_options_new(&opts), "options");
    check(nq_options_set_host(opts, o.host), "host");
    check(nq_options_set_port(opts, o.port), "port");
    /* Frames of the biggest benchmark message must be accepted. */
    check(nq_options_set_message_limit(opts, bench_max_size(&o) + 1024), "message limit");
    check(nq_options_set_send_limit(opts, send_limit), "send limit");
    if (transport_size)
        check(nq_options_set_transport_size(opts, transport_size), "transport size");
    if (qos)
        check(nq_options_set_mqtt_qos(opts, qos), "mqtt qos");

    int server = o.role == ROLE_SERVER;
    if (tls_dir) {
        char path[4096];
        check(nq_options_set_tls(opts, 1), "tls");
        if (server) {
            snprintf(path, sizeof path, "%s/server.pem", tls_dir);
            check(nq_options_set_tls_cert(opts, path), "tls cert");
            snprintf(path, sizeof path, "%s/server.key", tls_dir);
            check(nq_options_set_tls_key(opts, path), "tls key");
        } else {
            snprintf(path, sizeof path, "%s/ca.pem", tls_dir);
            check(nq_options_set_tls_ca(opts, path), "tls ca");
        }
    }
    struct nb n = { 0 };
    nq_protocol proto = grpc ? NQ_GRPC : mqtt ? NQ_MQTT : NQ_TCP;
    check(nq_comm_new(&n.comm, proto, server ? NQ_SERVER : NQ_CLIENT, opts), "comm_new");
    nq_options_free(opts);
    if (server)
        bench_ready();
    struct bench_io io = { zerocopy ? nb_put_zc : nb_put, NULL, nb_get, nb_finish, &n };
    bench_run(&o, grpc ? "netqueue-grpc" : mqtt ? "netqueue-mqtt" : tls_dir ? "netqueue-tls"
                   : zerocopy ? "netqueue-zc" : "netqueue", &io);
    return 0;
}
