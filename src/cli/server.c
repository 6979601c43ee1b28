/* `nq server`: print what arrives, optionally answer, stop when told. */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* How often the get loop looks at signals and departed clients. */
#define SLICE_MS 100

static volatile sig_atomic_t stop_signal;

/* The first signal asks for a clean close (bounded by --close-timeout);
 * a second one means now. */
static void on_signal(int sig)
{
    if (stop_signal)
        _exit(128 + sig);
    stop_signal = sig;
}

static atomic_long failed_puts;

/* Runs on the I/O thread: must not block, so it only counts. */
static void on_put_done(void *user, nq_status st)
{
    if (st != NQ_OK)
        atomic_fetch_add(&failed_puts, 1);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ids of every client seen, for --clients. */
struct seen {
    uint8_t *ids;
    size_t n, cap;
};

static void seen_add(struct seen *s, const uint8_t *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (memcmp(s->ids + i * NQ_ID_SIZE, id, NQ_ID_SIZE) == 0)
            return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        uint8_t *ids = realloc(s->ids, cap * NQ_ID_SIZE);
        if (!ids)
            return; /* a client not counted only delays the exit */
        s->ids = ids;
        s->cap = cap;
    }
    memcpy(s->ids + s->n++ * NQ_ID_SIZE, id, NQ_ID_SIZE);
}

/* Records the live peers; returns how many there are. */
static size_t poll_peers(nq_comm *c, struct seen *s)
{
    uint8_t ids[64 * NQ_ID_SIZE];
    size_t count = 0;
    if (nq_comm_peers(c, ids, 64, &count) != NQ_OK)
        return 0;
    for (size_t i = 0; i < count && i < 64; i++)
        seen_add(s, ids + i * NQ_ID_SIZE);
    return count;
}

static void answer(nq_comm *c, const nq_msg *m, const uint8_t *peer,
                   const struct cli_args *a, const void *reply, size_t reply_size)
{
    if (a->echo && nq_comm_put(c, nq_msg_data(m), nq_msg_size(m), peer, 1,
                               on_put_done, NULL) != NQ_OK)
        atomic_fetch_add(&failed_puts, 1);
    if (a->reply && nq_comm_put(c, reply, reply_size, peer, 1, on_put_done, NULL) != NQ_OK)
        atomic_fetch_add(&failed_puts, 1);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_server(const struct cli_args *a)
{
    void *reply = NULL;
    size_t reply_size = 0;
    int rc = CLI_OK;
    if (a->reply && (rc = cli_encode(a->codec, a->reply, strlen(a->reply), 1,
                                     &reply, &reply_size)) != CLI_OK)
        return rc;

    install_signals();
    nq_comm *c = NULL;
    rc = cli_comm_new(a, NQ_SERVER, &c);
    if (rc != CLI_OK) {
        free(reply);
        return rc;
    }
    int port = a->port;
    nq_comm_port(c, &port);
    if (!a->quiet)
        fprintf(stderr, "nq: listening on %s:%d (%s)\n",
                a->host ? a->host : "127.0.0.1", port,
                a->protocol == NQ_GRPC ? (a->tls ? "grpc+tls" : "grpc")
                : a->protocol == NQ_MQTT ? (a->tls ? "mqtt+tls" : "mqtt")
                : a->tls ? "tls" : "tcp");

    struct cli_report *rep = NULL;
    if ((rc = cli_report_start(&rep, c, a->stats_s, 0)) != CLI_OK) {
        nq_comm_free(c);
        free(reply);
        return rc;
    }
    struct seen seen = {0};
    long received = 0;
    int64_t last = now_ms();
    for (;;) {
        if (stop_signal || (a->count && received >= a->count))
            break;
        if (a->clients) {
            size_t live = poll_peers(c, &seen);
            if (seen.n >= (size_t)a->clients && live == 0)
                break;
        }
        nq_msg *m = NULL;
        nq_status st = nq_comm_get(c, NULL, 0, SLICE_MS, &m);
        if (st == NQ_ETIMEDOUT) {
            if (a->timeout_ms >= 0 && now_ms() - last >= a->timeout_ms) {
                fprintf(stderr, "nq: server: no message within %lld ms\n",
                        (long long)a->timeout_ms);
                rc = CLI_TIMEOUT;
                break;
            }
            continue;
        }
        if (st != NQ_OK) {
            rc = cli_fail("get", st);
            break;
        }
        last = now_ms();
        received++;
        uint8_t peer[NQ_ID_SIZE];
        if (nq_msg_peer(m, peer) == NQ_OK) {
            seen_add(&seen, peer);
            answer(c, m, peer, a, reply, reply_size);
        }
        if (!a->quiet && cli_print_msg(stdout, m, a->codec) != CLI_OK)
            rc = CLI_ERROR; /* keep serving: one odd message is no reason to stop */
        nq_msg_free(m);
    }

    nq_status st = nq_comm_close(c, a->close_timeout_ms);
    if (st != NQ_OK && rc == CLI_OK)
        rc = cli_fail("close", st);
    cli_report_stop(rep); /* the final figures, after close */
    nq_comm_free(c);
    long failed = atomic_load(&failed_puts);
    if (failed) {
        fprintf(stderr, "nq: server: %ld answers could not be sent\n", failed);
        if (rc == CLI_OK)
            rc = CLI_ERROR;
    }
    free(seen.ids);
    free(reply);
    return rc;
}
