/*
 * Many clients, one server (netqueue over TCP, public ABI only); driven by
 * bench/scale.py, which starts one server process and one or more client
 * processes, each holding many client communicators. Not a test.
 *
 *   scale_bench --role server  --port P --kind fanin|broadcast --clients K
 *               --size BYTES --count N [--workers W] [--send-limit BYTES]
 *   scale_bench --role clients --port P --kind fanin|broadcast --clients k
 *               --size BYTES --count N [--send-limit BYTES] [--threads T]
 *
 * Both kinds start alike: every client arms an asynchronous receive
 * (nq_comm_get_async, whose callback asks for the next message: no thread
 * per client) and puts a 1-byte hello; the server gets K hellos (K = all
 * clients of all client processes), so every client is connected.
 *
 * fanin:     the server broadcasts "go"; each client then puts N messages
 *            and a zero-length end marker (T putter threads per process,
 *            16 messages per client in turn). The server times from the
 *            first data message's arrival to the K-th marker's: receiver-
 *            timed, K*N - 1 deliveries in the span.
 * broadcast: the server puts N messages and a zero-length marker to every
 *            client (npeers 0: framed once), then waits for each client's
 *            1-byte acknowledgement of the marker. Each client records
 *            when its first message and its marker arrived (CLOCK_MONOTONIC,
 *            the same clock in every process); scale.py takes the span from
 *            the earliest first message to the latest marker (K*N - 1
 *            deliveries in it). The server's own span (first put to the
 *            last acknowledgement) is reported too.
 *
 * Each process prints one JSON line: its counters over the workload
 * window (CPU, context switches, syscalls: bench_common.c), its peak RSS,
 * and what it timed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netqueue/netqueue.h>

#include "bench_common.h"

enum kind { FANIN, BROADCAST };

struct opts {
    int server;
    enum kind kind;
    const char *host;
    int port;
    int clients;
    int workers;
    int threads;
    size_t size;
    uint64_t count;
    uint64_t send_limit; /* 0: default for the role */
};

static void check(nq_status st, const char *what)
{
    if (st != NQ_OK)
        bench_die("scale_bench: %s: %s (%s)", what, nq_strerror(st), nq_last_error());
}

static void usage(void)
{
    bench_die("usage: scale_bench --role server|clients --port N --kind fanin|broadcast\n"
              "       --clients K --size BYTES --count N [--host 127.0.0.1] [--workers W]\n"
              "       [--send-limit BYTES] [--threads T]");
}

static void parse(struct opts *o, int argc, char **argv)
{
    *o = (struct opts){ .server = -1, .kind = FANIN, .host = "127.0.0.1", .clients = 1,
                        .workers = 1, .threads = 2, .size = 64, .count = 1000 };
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--role"))
            o->server = !strcmp(v, "server") ? 1 : !strcmp(v, "clients") ? 0 : -1;
        else if (!strcmp(k, "--kind"))
            o->kind = !strcmp(v, "broadcast") ? BROADCAST : !strcmp(v, "fanin") ? FANIN : (usage(), 0);
        else if (!strcmp(k, "--host"))
            o->host = v;
        else if (!strcmp(k, "--port"))
            o->port = atoi(v);
        else if (!strcmp(k, "--clients"))
            o->clients = atoi(v);
        else if (!strcmp(k, "--workers"))
            o->workers = atoi(v);
        else if (!strcmp(k, "--threads"))
            o->threads = atoi(v);
        else if (!strcmp(k, "--size"))
            o->size = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--count"))
            o->count = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--send-limit"))
            o->send_limit = strtoull(v, NULL, 0);
        else
            usage();
    }
    if (argc % 2 == 0 || o->server < 0 || o->port <= 0 || o->clients < 1 || o->size < 1 ||
        o->count < 1 || o->threads < 1)
        usage();
}

static const char *kind_name(enum kind k)
{
    return k == FANIN ? "fanin" : "broadcast";
}

/* The bench_common checks (size, first/middle/last byte) for size fixed. */
static struct bench_opts check_opts(const struct opts *o)
{
    return (struct bench_opts){ .size = o->size, .count = o->count };
}

static nq_options *new_options(const struct opts *o, uint64_t send_limit)
{
    nq_options *opts;
    check(nq_options_new(&opts), "options");
    check(nq_options_set_host(opts, o->host), "host");
    check(nq_options_set_port(opts, o->port), "port");
    check(nq_options_set_message_limit(opts, o->size + 1024), "message limit");
    check(nq_options_set_send_limit(opts, send_limit), "send limit");
    const char *lv = getenv("NQ_BENCH_LOG"); /* 0..3: error, warn, info, debug */
    if (lv)
        check(nq_options_set_log(opts, NULL, NULL, (nq_log_level)atoi(lv)), "log");
    return opts;
}

/* ---- server ---- */

static void take(nq_comm *c, nq_msg **m)
{
    check(nq_comm_get(c, NULL, 0, NQ_FOREVER, m), "get");
}

static int run_server(const struct opts *o)
{
    uint64_t send_limit = o->send_limit ? o->send_limit : 16ull << 20;
    nq_options *opts = new_options(o, send_limit);
    check(nq_options_set_workers(opts, o->workers), "workers");
    nq_comm *s;
    check(nq_comm_new(&s, NQ_TCP, NQ_SERVER, opts), "comm_new");
    nq_options_free(opts);
    bench_ready();

    nq_msg *m;
    for (int i = 0; i < o->clients; i++) {
        take(s, &m);
        if (nq_msg_size(m) != 1)
            bench_die("scale_bench: expected a hello, got %zu bytes", nq_msg_size(m));
        nq_msg_free(m);
    }
    struct bench_opts bo = check_opts(o);
    uint64_t want = (uint64_t)o->clients * o->count, got = 0;
    struct bench_usage u[2];
    double t0 = 0, t1 = 0;
    bench_usage_now(&u[0]);
    if (o->kind == FANIN) {
        check(nq_comm_put(s, "g", 1, NULL, 0, NULL, NULL), "put go");
        int markers = 0;
        while (markers < o->clients) {
            take(s, &m);
            size_t n = nq_msg_size(m);
            if (n == 0) {
                markers++;
            } else {
                if (got++ == 0)
                    t0 = bench_now();
                bench_check(&bo, 0, nq_msg_data(m), n);
            }
            nq_msg_free(m);
        }
        t1 = bench_now();
        if (got != want)
            bench_die("scale_bench: got %llu messages, expected %llu", (unsigned long long)got,
                      (unsigned long long)want);
    } else {
        unsigned char *payload = bench_payload(&bo);
        t0 = bench_now();
        for (uint64_t i = 0; i < o->count; i++)
            check(nq_comm_put(s, payload, o->size, NULL, 0, NULL, NULL), "put");
        check(nq_comm_put(s, payload, 0, NULL, 0, NULL, NULL), "put marker");
        for (int i = 0; i < o->clients; i++) {
            take(s, &m);
            if (nq_msg_size(m) != 1)
                bench_die("scale_bench: expected an acknowledgement, got %zu bytes", nq_msg_size(m));
            nq_msg_free(m);
        }
        t1 = bench_now();
        free(payload);
    }
    bench_usage_now(&u[1]);
    check(nq_comm_close(s, NQ_FOREVER), "close");
    nq_comm_free(s);

    double secs = t1 - t0;
    uint64_t timed = o->kind == FANIN ? want - 1 : want;
    printf("{\"impl\": \"netqueue\", \"role\": \"server\", \"kind\": \"%s\", \"clients\": %d, "
           "\"workers\": %d, \"size\": %zu, \"count\": %llu, \"deliveries\": %llu, "
           "\"seconds\": %.6f, \"deliveries_per_s\": %.1f, \"gbit_per_s\": %.4f, "
           "\"send_limit\": %llu",
           kind_name(o->kind), o->clients, o->workers, o->size, (unsigned long long)o->count,
           (unsigned long long)want, secs, secs > 0 ? timed / secs : 0.0,
           secs > 0 ? (double)timed * o->size * 8 / secs / 1e9 : 0.0,
           (unsigned long long)send_limit);
    bench_usage_json(&u[0], &u[1]);
    printf(", \"rss_peak_kb\": %ld}\n", bench_peak_rss_kb());
    return 0;
}

/* ---- clients ---- */

struct client {
    nq_comm *comm;
    struct shared *sh;
    uint64_t got;
    double t_first, t_marker;
    int done;
};

struct shared {
    const struct opts *o;
    struct bench_opts bo;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int go, finished, failed; /* under lock */
};

static void bump(struct shared *sh, int *counter)
{
    pthread_mutex_lock(&sh->lock);
    (*counter)++;
    pthread_cond_broadcast(&sh->cond);
    pthread_mutex_unlock(&sh->lock);
}

static void wait_for(struct shared *sh, int *counter, int target)
{
    pthread_mutex_lock(&sh->lock);
    while (*counter < target && !sh->failed)
        pthread_cond_wait(&sh->cond, &sh->lock);
    int failed = sh->failed;
    pthread_mutex_unlock(&sh->lock);
    if (failed)
        bench_die("scale_bench: a client's receive failed");
}

/* Runs on the client's I/O thread; asks for the next message unless done. */
static void on_msg(void *user, nq_status st, nq_msg *m)
{
    struct client *c = user;
    struct shared *sh = c->sh;
    if (st != NQ_OK) {
        if (!c->done) {
            fprintf(stderr, "scale_bench: receive: %s\n", nq_strerror(st));
            pthread_mutex_lock(&sh->lock);
            sh->failed = 1;
            pthread_cond_broadcast(&sh->cond);
            pthread_mutex_unlock(&sh->lock);
        }
        return;
    }
    size_t n = nq_msg_size(m);
    if (sh->o->kind == FANIN) { /* the only message is go */
        nq_msg_free(m);
        c->done = 1;
        bump(sh, &sh->go);
        return;
    }
    if (n == 0) {
        c->t_marker = bench_now();
        c->done = 1;
        nq_msg_free(m);
        check(nq_comm_put(c->comm, "a", 1, NULL, 0, NULL, NULL), "put ack");
        if (c->got != sh->o->count)
            bench_die("scale_bench: a client got %llu messages, expected %llu",
                      (unsigned long long)c->got, (unsigned long long)sh->o->count);
        bump(sh, &sh->finished);
        return;
    }
    if (c->got++ == 0)
        c->t_first = bench_now();
    bench_check(&sh->bo, 0, nq_msg_data(m), n);
    nq_msg_free(m);
    check(nq_comm_get_async(c->comm, NULL, 0, NQ_FOREVER, on_msg, c, NULL), "get_async");
}

struct putter {
    struct client *cl;
    int first, step, nclients;
    const struct opts *o;
    const unsigned char *payload;
};

#define BURST 16

static void *put_loop(void *arg)
{
    struct putter *p = arg;
    const struct opts *o = p->o;
    for (uint64_t done = 0; done < o->count; done += BURST) {
        uint64_t n = o->count - done < BURST ? o->count - done : BURST;
        for (int i = p->first; i < p->nclients; i += p->step)
            for (uint64_t j = 0; j < n; j++)
                check(nq_comm_put(p->cl[i].comm, p->payload, o->size, NULL, 0, NULL, NULL), "put");
    }
    for (int i = p->first; i < p->nclients; i += p->step)
        check(nq_comm_put(p->cl[i].comm, p->payload, 0, NULL, 0, NULL, NULL), "put marker");
    return NULL;
}

static int run_clients(const struct opts *o)
{
    /* Copying puts of all clients together stay under ~256 MiB unless
     * given: a client's own bound, at least two messages. */
    uint64_t send_limit = o->send_limit;
    if (!send_limit) {
        send_limit = (256ull << 20) / (uint64_t)o->clients;
        if (send_limit > 16ull << 20)
            send_limit = 16ull << 20;
        if (send_limit < 2 * o->size)
            send_limit = 2 * o->size;
    }
    struct shared sh = { .o = o, .bo = check_opts(o) };
    pthread_mutex_init(&sh.lock, NULL);
    pthread_cond_init(&sh.cond, NULL);
    struct client *cl = calloc((size_t)o->clients, sizeof *cl);
    if (!cl)
        bench_die("scale_bench: out of memory");
    for (int i = 0; i < o->clients; i++) {
        /* options of their own: a new options handle draws a new id */
        nq_options *opts = new_options(o, send_limit);
        cl[i].sh = &sh;
        check(nq_comm_new(&cl[i].comm, NQ_TCP, NQ_CLIENT, opts), "comm_new");
        nq_options_free(opts);
        check(nq_comm_get_async(cl[i].comm, NULL, 0, NQ_FOREVER, on_msg, &cl[i], NULL), "get_async");
        check(nq_comm_put(cl[i].comm, "h", 1, NULL, 0, NULL, NULL), "put hello");
    }

    struct bench_usage u[2];
    if (o->kind == FANIN) {
        wait_for(&sh, &sh.go, o->clients);
        bench_usage_now(&u[0]);
        unsigned char *payload = bench_payload(&sh.bo);
        int nt = o->threads < o->clients ? o->threads : o->clients;
        pthread_t *t = calloc((size_t)nt, sizeof *t);
        struct putter *p = calloc((size_t)nt, sizeof *p);
        if (!t || !p)
            bench_die("scale_bench: out of memory");
        for (int i = 0; i < nt; i++) {
            p[i] = (struct putter){ cl, i, nt, o->clients, o, payload };
            if (pthread_create(&t[i], NULL, put_loop, &p[i]))
                bench_die("scale_bench: pthread_create failed");
        }
        for (int i = 0; i < nt; i++)
            pthread_join(t[i], NULL);
        /* close: each client's puts are written, then its fin; the server
         * answers fin once it has read them all */
        for (int i = 0; i < o->clients; i++)
            check(nq_comm_close(cl[i].comm, NQ_FOREVER), "close");
        bench_usage_now(&u[1]);
        free(payload);
        free(t);
        free(p);
    } else {
        bench_usage_now(&u[0]);
        wait_for(&sh, &sh.finished, o->clients);
        bench_usage_now(&u[1]);
        for (int i = 0; i < o->clients; i++)
            check(nq_comm_close(cl[i].comm, NQ_FOREVER), "close");
    }

    double first = 0, last = 0;
    uint64_t got = 0;
    for (int i = 0; i < o->clients; i++) {
        got += cl[i].got;
        if (o->kind == BROADCAST) {
            if (!first || cl[i].t_first < first)
                first = cl[i].t_first;
            if (cl[i].t_marker > last)
                last = cl[i].t_marker;
        }
        nq_comm_free(cl[i].comm);
    }
    printf("{\"impl\": \"netqueue\", \"role\": \"clients\", \"kind\": \"%s\", \"clients\": %d, "
           "\"size\": %zu, \"count\": %llu, \"send_limit\": %llu, \"received\": %llu",
           kind_name(o->kind), o->clients, o->size, (unsigned long long)o->count,
           (unsigned long long)send_limit, (unsigned long long)got);
    if (o->kind == BROADCAST)
        printf(", \"t_first\": %.6f, \"t_marker\": %.6f", first, last);
    bench_usage_json(&u[0], &u[1]);
    printf(", \"rss_peak_kb\": %ld}\n", bench_peak_rss_kb());
    free(cl);
    return 0;
}

int main(int argc, char **argv)
{
    bench_counters_init(); /* before any thread */
    struct opts o;
    parse(&o, argc, argv);
    return o.server ? run_server(&o) : run_clients(&o);
}
