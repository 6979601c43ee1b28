/*
 * A server and two clients in one process over the in-process transport
 * (NQ_INPROC: no sockets, addressed by a port number). Each client says
 * hello; the server answers each by name and then broadcasts a goodbye;
 * everyone closes cleanly. Prints a transcript; exits 1 if a message is
 * missing. The same code runs over TCP by changing NQ_INPROC to NQ_TCP.
 *
 *     cc inproc_chat.c $(pkg-config --cflags --libs netqueue)
 */
#include <stdio.h>
#include <string.h>

#include <netqueue/netqueue.h>

#define WAIT_MS 5000

static nq_comm *open_comm(nq_purpose purpose, int port, const char *id_hex)
{
    nq_options *o = NULL;
    nq_comm *c = NULL;
    uint8_t id[NQ_ID_SIZE];
    if (nq_options_new(&o) != NQ_OK || nq_options_set_port(o, port) != NQ_OK ||
        nq_id_parse(id_hex, id) != NQ_OK || nq_options_set_id(o, id) != NQ_OK ||
        nq_comm_new(&c, NQ_INPROC, purpose, o) != NQ_OK)
        fprintf(stderr, "inproc_chat: %s\n", nq_last_error());
    nq_options_free(o);
    return c;
}

static const char *name_of(const uint8_t *peer)
{
    static const char *names[] = {"server", "client A", "client B"};
    return peer[0] < 3 ? names[peer[0]] : "?";
}

/* Get one message and print it; 0 when it is `want`. */
static int expect(nq_comm *c, const char *who, const char *want)
{
    nq_msg *m = NULL;
    if (nq_comm_get(c, NULL, 0, WAIT_MS, &m) != NQ_OK) {
        printf("  %-9s got nothing: %s\n", who, nq_last_error());
        return 1;
    }
    uint8_t from[NQ_ID_SIZE];
    nq_msg_peer(m, from);
    printf("  %-9s receives '%.*s' (from %s)\n", who, (int)nq_msg_size(m),
           (const char *)nq_msg_data(m), name_of(from));
    int bad = nq_msg_size(m) != strlen(want) || memcmp(nq_msg_data(m), want, strlen(want));
    nq_msg_free(m);
    return bad;
}

static int say(nq_comm *c, const char *who, const char *text, const uint8_t *to)
{
    printf("  %-9s sends    '%s'\n", who, text);
    nq_future *f = NULL;
    nq_status result = NQ_OK;
    if (nq_comm_put_future(c, text, strlen(text), to, to ? 1 : 0, &f) != NQ_OK)
        return 1;
    nq_status st = nq_future_wait(f, WAIT_MS, &result);
    nq_future_free(f);
    return st != NQ_OK || result != NQ_OK;
}

int main(void)
{
    int failed = 0;
    nq_comm *server = open_comm(NQ_SERVER, 0, "00000000000040008000000000000000");
    if (!server)
        return 1;
    int port = 0;
    nq_comm_port(server, &port);
    printf("== in process (NQ_INPROC, port %d) ==\n", port);
    nq_comm *a = open_comm(NQ_CLIENT, port, "01000000000040008000000000000000");
    nq_comm *b = open_comm(NQ_CLIENT, port, "02000000000040008000000000000000");
    if (!a || !b)
        return 1;
    uint8_t a_id[NQ_ID_SIZE], b_id[NQ_ID_SIZE];
    nq_comm_id(a, a_id);
    nq_comm_id(b, b_id);

    failed |= say(a, "client A", "hello from A", NULL);
    failed |= expect(server, "server", "hello from A");
    failed |= say(b, "client B", "hello from B", NULL);
    failed |= expect(server, "server", "hello from B");
    failed |= say(server, "server", "hi A", a_id);
    failed |= say(server, "server", "hi B", b_id);
    failed |= expect(a, "client A", "hi A");
    failed |= expect(b, "client B", "hi B");
    failed |= say(server, "server", "goodbye, all", NULL);
    failed |= expect(a, "client A", "goodbye, all");
    failed |= expect(b, "client B", "goodbye, all");

    /* clients finish their sessions (fin both ways), then the server */
    failed |= nq_comm_close(a, WAIT_MS) != NQ_OK;
    failed |= nq_comm_close(b, WAIT_MS) != NQ_OK;
    failed |= nq_comm_close(server, WAIT_MS) != NQ_OK;
    nq_comm_free(a);
    nq_comm_free(b);
    nq_comm_free(server);
    printf(failed ? "inproc: FAILED\n" : "inproc: every message arrived, everyone closed cleanly\n");
    return failed;
}
