/*
 * A server driven by the program's own poll() loop instead of a thread
 * parked in nq_comm_get: it waits on the communicator's readiness
 * descriptor (nq_comm_fd) next to its other work, and when the descriptor
 * is readable takes what is queued with nq_comm_get and timeout 0. The
 * same pattern works with epoll, libev, libuv or Python's asyncio
 * (loop.add_reader).
 *
 * Two clients (in this process, for the example's sake) say hello; the
 * server answers each by name; it also asked for peer events, so it sees
 * each client connect and, after the client closed, finish. It stops once
 * both have finished. Prints a transcript; exits 1 if something is
 * missing.
 *
 *     cc poll_loop.c $(pkg-config --cflags --libs netqueue)
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <netqueue/netqueue.h>

#define WAIT_MS 5000

static nq_comm *open_comm(nq_purpose purpose, int port, unsigned events)
{
    nq_options *o = NULL;
    nq_comm *c = NULL;
    if (nq_options_new(&o) != NQ_OK || nq_options_set_host(o, "127.0.0.1") != NQ_OK ||
        nq_options_set_port(o, port) != NQ_OK || nq_options_set_events(o, events) != NQ_OK ||
        nq_comm_new(&c, NQ_TCP, purpose, o) != NQ_OK)
        fprintf(stderr, "poll_loop: %s\n", nq_last_error());
    nq_options_free(o);
    return c;
}

/* The server's state, as an event-driven program would keep it. */
struct app {
    nq_comm *server;
    int connected, answered, finished;
};

/* The descriptor was readable: take everything queued, without waiting. */
static void on_readable(struct app *a)
{
    nq_msg *m;
    while (nq_comm_get(a->server, NULL, 0, 0, &m) == NQ_OK) {
        uint8_t peer[NQ_ID_SIZE];
        char hex[33];
        nq_msg_peer(m, peer);
        nq_id_format(peer, hex);
        switch (nq_msg_kind_of(m)) {
        case NQ_EVENT_CONNECTED:
            printf("server: %.8s… connected (%s)\n", hex, nq_msg_event_detail(m));
            a->connected++;
            break;
        case NQ_EVENT_FINISHED:
            printf("server: %.8s… finished\n", hex);
            a->finished++;
            break;
        case NQ_MSG_DATA: {
            char reply[128];
            int n = snprintf(reply, sizeof reply, "hello %.8s…, you said \"%.*s\"", hex,
                             (int)nq_msg_size(m), (const char *)nq_msg_data(m));
            printf("server: got \"%.*s\"\n", (int)nq_msg_size(m), (const char *)nq_msg_data(m));
            if (nq_comm_put(a->server, reply, (size_t)n, peer, 1, NULL, NULL) == NQ_OK)
                a->answered++;
            break;
        }
        default: /* other events (lost, expired, refused): not asked for */
            break;
        }
        nq_msg_free(m);
    }
}

/* Run the loop until done(a) or WAIT_MS without anything; 0 on success. */
static int run_until(struct app *a, int (*done)(const struct app *))
{
    int fd;
    if (nq_comm_fd(a->server, &fd) != NQ_OK)
        return -1;
    while (!done(a)) {
        /* a real program would add its sockets, pipes and timers here */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, WAIT_MS);
        if (r <= 0)
            return -1; /* nothing came in time */
        if (p.revents & POLLIN)
            on_readable(a);
    }
    return 0;
}

static int answered_both(const struct app *a) { return a->answered == 2; }
static int finished_both(const struct app *a) { return a->finished == 2; }

static int client_reads_answer(nq_comm *c, const char *who)
{
    nq_msg *m = NULL;
    if (nq_comm_get(c, NULL, 0, WAIT_MS, &m) != NQ_OK) {
        fprintf(stderr, "poll_loop: %s got no answer: %s\n", who, nq_last_error());
        return -1;
    }
    printf("%s: got \"%.*s\"\n", who, (int)nq_msg_size(m), (const char *)nq_msg_data(m));
    nq_msg_free(m);
    return 0;
}

int main(void)
{
    struct app a = {0};
    a.server = open_comm(NQ_SERVER, 0, NQ_EVENT_BIT(NQ_EVENT_CONNECTED) |
                                           NQ_EVENT_BIT(NQ_EVENT_FINISHED));
    int port = 0;
    if (!a.server || nq_comm_port(a.server, &port) != NQ_OK)
        return 1;
    nq_comm *ca = open_comm(NQ_CLIENT, port, 0), *cb = open_comm(NQ_CLIENT, port, 0);
    if (!ca || !cb)
        return 1;
    nq_comm_put(ca, "I am A", 6, NULL, 0, NULL, NULL);
    nq_comm_put(cb, "I am B", 6, NULL, 0, NULL, NULL);

    int bad = run_until(&a, answered_both) < 0;
    bad |= client_reads_answer(ca, "client A") < 0;
    bad |= client_reads_answer(cb, "client B") < 0;
    /* each close sends fin and waits for the server's, which its I/O
     * thread answers by itself: the loop only learns of it */
    bad |= nq_comm_close(ca, WAIT_MS) != NQ_OK;
    bad |= nq_comm_close(cb, WAIT_MS) != NQ_OK;
    bad |= run_until(&a, finished_both) < 0;
    bad |= a.connected != 2;
    bad |= nq_comm_close(a.server, WAIT_MS) != NQ_OK;
    nq_comm_free(ca);
    nq_comm_free(cb);
    nq_comm_free(a.server);
    printf(bad ? "poll_loop: FAILED\n" : "poll_loop: done\n");
    return bad;
}
