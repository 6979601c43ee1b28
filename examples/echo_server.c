/*
 * An echo server over the public ABI: every message it gets goes back to
 * the client that sent it. Runs until SIGINT or SIGTERM, then closes
 * (waiting at most CLOSE_MS for clients to finish) and exits 0.
 *
 *     echo_server [--protocol tcp|mqtt|grpc] [--host H] [--port N]
 *                 [--tls-cert F --tls-key F] [--ca F] [--username U --password P]
 *
 * --tls-cert/--tls-key turn TLS on (tcp, grpc: the server's identity; mqtt:
 * the certificate shown to the broker). --ca turns TLS on for mqtt and
 * verifies the broker against F. --username/--password log in to the
 * MQTT broker. With mqtt, --host and --port are the broker's address.
 * Prints "echo_server: listening on HOST:PORT" on stderr once ready.
 *
 *     cc echo_server.c $(pkg-config --cflags --libs netqueue)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netqueue/netqueue.h>

#define POLL_MS 200    /* how often the loop looks at the stop flag */
#define CLOSE_MS 5000  /* how long close waits for clients to finish */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    stop = sig;
}

static int usage(const char *why)
{
    fprintf(stderr,
            "echo_server: %s\n"
            "usage: echo_server [--protocol tcp|mqtt|grpc] [--host H] [--port N]\n"
            "                   [--tls-cert F --tls-key F] [--ca F] [--username U --password P]\n",
            why);
    return 2;
}

/* "tcp", "mqtt", "grpc" to the protocol; -1 for anything else. */
static int parse_protocol(const char *s)
{
    return !strcmp(s, "tcp") ? NQ_TCP : !strcmp(s, "mqtt") ? NQ_MQTT : !strcmp(s, "grpc") ? NQ_GRPC : -1;
}

static int parse_port(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return *s && !*end && !errno && v >= 0 && v <= 65535 ? (int)v : -1;
}

int main(int argc, char **argv)
{
    int protocol = NQ_TCP, port = -1;
    const char *host = "127.0.0.1", *cert = NULL, *key = NULL, *ca = NULL;
    const char *user = NULL, *password = NULL;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = argv[i + 1];
        if (!strcmp(opt, "--help"))
            return usage("an echo server"), 0;
        if (i + 1 == argc)
            return usage(strncmp(opt, "--", 2) ? "unexpected argument" : "option needs a value");
        i++;
        if (!strcmp(opt, "--protocol")) {
            if ((protocol = parse_protocol(val)) < 0)
                return usage("--protocol is tcp, mqtt or grpc");
        } else if (!strcmp(opt, "--port")) {
            if ((port = parse_port(val)) < 0)
                return usage("--port is 0..65535");
        } else if (!strcmp(opt, "--host"))
            host = val;
        else if (!strcmp(opt, "--tls-cert"))
            cert = val;
        else if (!strcmp(opt, "--tls-key"))
            key = val;
        else if (!strcmp(opt, "--ca"))
            ca = val;
        else if (!strcmp(opt, "--username"))
            user = val;
        else if (!strcmp(opt, "--password"))
            password = val;
        else
            return usage("unknown option");
    }
    if (!cert != !key)
        return usage("--tls-cert and --tls-key go together");
    if ((user || password || ca) && protocol != NQ_MQTT)
        return usage("--username, --password and --ca are for --protocol mqtt");
    if (password && !user)
        return usage("--password needs --username");

    nq_options *o = NULL;
    nq_comm *server = NULL;
    nq_status st = nq_options_new(&o);
    if (st == NQ_OK)
        st = nq_options_set_host(o, host);
    if (st == NQ_OK && port >= 0)
        st = nq_options_set_port(o, port);
    if (st == NQ_OK && (cert || ca))
        st = nq_options_set_tls(o, 1);
    if (st == NQ_OK && cert)
        st = nq_options_set_tls_cert(o, cert);
    if (st == NQ_OK && key)
        st = nq_options_set_tls_key(o, key);
    if (st == NQ_OK && ca)
        st = nq_options_set_tls_ca(o, ca);
    if (st == NQ_OK && user)
        st = nq_options_set_mqtt_username(o, user);
    if (st == NQ_OK && password)
        st = nq_options_set_mqtt_password(o, password);
    if (st == NQ_OK)
        st = nq_comm_new(&server, (nq_protocol)protocol, NQ_SERVER, o);
    nq_options_free(o);
    if (st != NQ_OK) {
        fprintf(stderr, "echo_server: cannot start: %s\n", nq_last_error());
        return 1;
    }

    /* No SA_RESTART: the flag is polled between gets of POLL_MS. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    nq_comm_port(server, &port);
    fprintf(stderr, "echo_server: listening on %s:%d\n", host, port);

    int failed = 0;
    while (!stop) {
        nq_msg *m = NULL;
        st = nq_comm_get(server, NULL, 0, POLL_MS, &m);
        if (st == NQ_ETIMEDOUT)
            continue;
        if (st != NQ_OK) {
            fprintf(stderr, "echo_server: get: %s\n", nq_last_error());
            failed = 1;
            break;
        }
        uint8_t peer[NQ_ID_SIZE];
        char hex[2 * NQ_ID_SIZE + 1];
        nq_msg_peer(m, peer);
        nq_id_format(peer, hex);
        /* Only the sender is named: the other clients get nothing. */
        if (nq_comm_put(server, nq_msg_data(m), nq_msg_size(m), peer, 1, NULL, NULL) != NQ_OK)
            fprintf(stderr, "echo_server: put to %s: %s\n", hex, nq_last_error());
        else
            printf("echo_server: %zu bytes back to %s\n", nq_msg_size(m), hex);
        fflush(stdout);
        nq_msg_free(m);
    }
    st = nq_comm_close(server, CLOSE_MS);
    if (st != NQ_OK)
        fprintf(stderr, "echo_server: close: %s\n", nq_strerror(st));
    nq_comm_free(server);
    return failed;
}
