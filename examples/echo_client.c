/*
 * The client of echo_server: puts each MESSAGE, gets the replies and
 * prints them one per line. Exits 0 if every message came back unchanged,
 * 1 otherwise (saying why), 2 on a usage error. Every wait has a deadline.
 *
 *     echo_client [--protocol tcp|mqtt|grpc] [--host H] [--port N] [--ca F]
 *                 [--username U --password P] MESSAGE...
 *
 * --ca turns TLS on and verifies the server (mqtt: the broker) against F.
 * --username/--password log in to the MQTT broker.
 *
 *     cc echo_client.c $(pkg-config --cflags --libs netqueue)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netqueue/netqueue.h>

#define WAIT_MS 10000   /* for each put, each reply and close */
#define CONNECT_MS 5000 /* an unreachable server fails the puts after this */

static int usage(const char *why)
{
    fprintf(stderr,
            "echo_client: %s\n"
            "usage: echo_client [--protocol tcp|mqtt|grpc] [--host H] [--port N] [--ca F]\n"
            "                   [--username U --password P] MESSAGE...\n",
            why);
    return 2;
}

static int parse_protocol(const char *s)
{
    return !strcmp(s, "tcp") ? NQ_TCP : !strcmp(s, "mqtt") ? NQ_MQTT : !strcmp(s, "grpc") ? NQ_GRPC : -1;
}

static int parse_port(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return *s && !*end && !errno && v >= 1 && v <= 65535 ? (int)v : -1;
}

/* Put one message and wait until it is written to the transport. */
static int put(nq_comm *c, const char *text)
{
    nq_future *f = NULL;
    nq_status result = NQ_OK;
    if (nq_comm_put_future(c, text, strlen(text), NULL, 0, &f) != NQ_OK) {
        fprintf(stderr, "echo_client: put: %s\n", nq_last_error());
        return 1;
    }
    nq_status st = nq_future_wait(f, WAIT_MS, &result);
    nq_future_free(f);
    if (st != NQ_OK || result != NQ_OK) {
        fprintf(stderr, "echo_client: put: %s\n", nq_strerror(st != NQ_OK ? st : result));
        return 1;
    }
    return 0;
}

/* Get the next reply, print it, and check that it is `want`. */
static int get(nq_comm *c, const char *want)
{
    nq_msg *m = NULL;
    if (nq_comm_get(c, NULL, 0, WAIT_MS, &m) != NQ_OK) {
        fprintf(stderr, "echo_client: no reply to '%s': %s\n", want, nq_last_error());
        return 1;
    }
    size_t n = nq_msg_size(m);
    printf("%.*s\n", (int)n, (const char *)nq_msg_data(m));
    int bad = n != strlen(want) || memcmp(nq_msg_data(m), want, n);
    if (bad)
        fprintf(stderr, "echo_client: expected '%s'\n", want);
    nq_msg_free(m);
    return bad;
}

int main(int argc, char **argv)
{
    int protocol = NQ_TCP, port = -1, i;
    const char *host = "127.0.0.1", *ca = NULL, *user = NULL, *password = NULL;
    for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i++) {
        const char *opt = argv[i], *val = argv[i + 1];
        if (!strcmp(opt, "--help"))
            return usage("the client of echo_server"), 0;
        if (!strcmp(opt, "--")) {
            i++;
            break;
        }
        if (i + 1 == argc)
            return usage("option needs a value");
        i++;
        if (!strcmp(opt, "--protocol")) {
            if ((protocol = parse_protocol(val)) < 0)
                return usage("--protocol is tcp, mqtt or grpc");
        } else if (!strcmp(opt, "--port")) {
            if ((port = parse_port(val)) < 0)
                return usage("--port is 1..65535");
        } else if (!strcmp(opt, "--host"))
            host = val;
        else if (!strcmp(opt, "--ca"))
            ca = val;
        else if (!strcmp(opt, "--username"))
            user = val;
        else if (!strcmp(opt, "--password"))
            password = val;
        else
            return usage("unknown option");
    }
    if (i == argc)
        return usage("no MESSAGE to send");
    if ((user || password) && protocol != NQ_MQTT)
        return usage("--username and --password are for --protocol mqtt");
    if (password && !user)
        return usage("--password needs --username");

    nq_options *o = NULL;
    nq_comm *c = NULL;
    nq_status st = nq_options_new(&o);
    if (st == NQ_OK)
        st = nq_options_set_host(o, host);
    if (st == NQ_OK && port > 0)
        st = nq_options_set_port(o, port);
    if (st == NQ_OK)
        st = nq_options_set_connect_timeout(o, CONNECT_MS);
    if (st == NQ_OK && ca)
        st = nq_options_set_tls(o, 1);
    if (st == NQ_OK && ca)
        st = nq_options_set_tls_ca(o, ca);
    if (st == NQ_OK && user)
        st = nq_options_set_mqtt_username(o, user);
    if (st == NQ_OK && password)
        st = nq_options_set_mqtt_password(o, password);
    if (st == NQ_OK)
        st = nq_comm_new(&c, (nq_protocol)protocol, NQ_CLIENT, o);
    nq_options_free(o);
    if (st != NQ_OK) {
        fprintf(stderr, "echo_client: cannot start: %s\n", nq_last_error());
        return 1;
    }

    int failed = 0, first = i;
    for (i = first; i < argc && !failed; i++)
        failed = put(c, argv[i]);
    /* the replies of one server come in the order it sent them */
    for (i = first; i < argc && !failed; i++)
        failed = get(c, argv[i]);
    /* after a failure, close only briefly: the server may be gone */
    st = nq_comm_close(c, failed ? 1000 : WAIT_MS);
    if (st != NQ_OK && !failed) {
        fprintf(stderr, "echo_client: close: %s\n", nq_strerror(st));
        failed = 1;
    }
    nq_comm_free(c);
    return failed;
}
