/*
 * put_bench: the C side of bench/bindings_bench.py (binding overhead).
 *
 *   put_bench --role recv [--host H] --port P
 *       A netqueue TCP server that serves put sessions one after another
 *       until killed. A session: a client puts "hello COUNT SIZE"; the
 *       receiver answers "ready", gets COUNT messages (checking each one's
 *       size), then answers "done" and prints one JSON line on stdout.
 *       Prints READY on stderr when listening.
 *
 *   put_bench --role put [--host H] --port P --size S --count N [--window W]
 *       The C API sender, the baseline: the same loop the binding programs
 *       under bench/bindings/<lang>/ run. Says hello, waits for "ready",
 *       starts the clock, puts N messages of S bytes with nq_comm_put and a
 *       completion callback (at most W puts outstanding: the put of message
 *       i first waits for the completion of message i - W), waits for every
 *       completion, then gets "done" (all N arrived) and stops the clock.
 *       Prints one JSON line: msgs_per_s = N / (hello-answered .. done).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netqueue/netqueue.h>

static void check(nq_status st, const char *what)
{
    if (st != NQ_OK) {
        fprintf(stderr, "put_bench: %s: %s (%s)\n", what, nq_strerror(st), nq_last_error());
        exit(1);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int receive(const char *host, int port)
{
    nq_options *opts;
    nq_comm *comm;
    check(nq_options_new(&opts), "options");
    check(nq_options_set_host(opts, host), "host");
    check(nq_options_set_port(opts, port), "port");
    check(nq_comm_new(&comm, NQ_TCP, NQ_SERVER, opts), "comm_new");
    nq_options_free(opts);
    fprintf(stderr, "READY\n");
    fflush(stderr);
    for (unsigned session = 1;; session++) {
        nq_msg *m;
        check(nq_comm_get(comm, NULL, 0, NQ_FOREVER, &m), "get hello");
        char hello[64] = { 0 };
        size_t hs = nq_msg_size(m);
        memcpy(hello, nq_msg_data(m), hs < sizeof hello - 1 ? hs : sizeof hello - 1);
        uint8_t peer[16];
        check(nq_msg_peer(m, peer), "msg_peer");
        nq_msg_free(m);
        unsigned long long count, size;
        if (sscanf(hello, "hello %llu %llu", &count, &size) != 2) {
            fprintf(stderr, "put_bench: not a hello (%zu bytes), ignored\n", hs);
            continue;
        }
        check(nq_comm_put(comm, "ready", 5, peer, 1, NULL, NULL), "put ready");
        unsigned long long got = 0, bad = 0;
        double first = 0, last = 0;
        int timed_out = 0;
        while (got < count) {
            /* a sender that died must not wedge the receiver for good */
            nq_status st = nq_comm_get(comm, peer, 1, 60000, &m);
            if (st == NQ_ETIMEDOUT) {
                timed_out = 1;
                break;
            }
            check(st, "get");
            if (nq_msg_size(m) != size)
                bad++;
            nq_msg_free(m);
            last = now();
            if (!got)
                first = last;
            got++;
        }
        if (!timed_out)
            check(nq_comm_put(comm, "done", 4, peer, 1, NULL, NULL), "put done");
        printf("{\"session\": %u, \"count\": %llu, \"size\": %llu, \"got\": %llu, \"bad_size\": %llu, "
               "\"timed_out\": %s, \"first_to_last_s\": %.6f}\n",
               session, count, size, got, bad, timed_out ? "true" : "false", last - first);
        fflush(stdout);
    }
    return 0;
}

/* completions of the sender's puts */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned long long completed, failed, waiting_for;

static void on_done(void *user, nq_status st)
{
    (void)user;
    pthread_mutex_lock(&mu);
    completed++;
    if (st != NQ_OK)
        failed++;
    if (completed >= waiting_for)
        pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

static void wait_completed(unsigned long long n)
{
    pthread_mutex_lock(&mu);
    waiting_for = n;
    while (completed < n)
        pthread_cond_wait(&cv, &mu);
    waiting_for = UINT64_MAX;
    pthread_mutex_unlock(&mu);
}

static int put_loop(const char *host, int port, size_t size, unsigned long long count,
                    unsigned long long window)
{
    nq_options *opts;
    nq_comm *comm;
    nq_msg *m;
    check(nq_options_new(&opts), "options");
    check(nq_options_set_host(opts, host), "host");
    check(nq_options_set_port(opts, port), "port");
    check(nq_comm_new(&comm, NQ_TCP, NQ_CLIENT, opts), "comm_new");
    nq_options_free(opts);
    char *buf = malloc(size ? size : 1);
    memset(buf, 'x', size);
    char hello[64];
    int hl = snprintf(hello, sizeof hello, "hello %llu %zu", count, size);
    waiting_for = UINT64_MAX;
    check(nq_comm_put(comm, hello, hl, NULL, 0, NULL, NULL), "put hello");
    check(nq_comm_get(comm, NULL, 0, 30000, &m), "get ready");
    nq_msg_free(m);

    double t0 = now();
    for (unsigned long long i = 0; i < count; i++) {
        if (i >= window) {
            pthread_mutex_lock(&mu);
            int behind = completed < i - window + 1;
            pthread_mutex_unlock(&mu);
            if (behind)
                wait_completed(i - window + 1);
        }
        check(nq_comm_put(comm, buf, size, NULL, 0, on_done, NULL), "put");
    }
    wait_completed(count);
    double t_put = now() - t0;
    check(nq_comm_get(comm, NULL, 0, 120000, &m), "get done");
    double t_all = now() - t0;
    nq_msg_free(m);
    check(nq_comm_close(comm, 10000), "close");
    nq_comm_free(comm);
    free(buf);
    printf("{\"lang\": \"c\", \"count\": %llu, \"size\": %zu, \"window\": %llu, \"failed\": %llu, "
           "\"put_s\": %.6f, \"seconds\": %.6f, \"msgs_per_s\": %.1f}\n",
           count, size, window, failed, t_put, t_all, count / t_all);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *role = NULL, *host = "127.0.0.1";
    int port = 0;
    unsigned long long size = 64, count = 1000, window = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--role"))
            role = v;
        else if (!strcmp(k, "--host"))
            host = v;
        else if (!strcmp(k, "--port"))
            port = atoi(v);
        else if (!strcmp(k, "--size"))
            size = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--count"))
            count = strtoull(v, NULL, 0);
        else if (!strcmp(k, "--window"))
            window = strtoull(v, NULL, 0);
        else {
            fprintf(stderr, "put_bench: unknown option %s\n", k);
            return 2;
        }
    }
    if (!role || !port) {
        fprintf(stderr, "usage: put_bench --role recv|put --port P [--host H] [--size S --count N --window W]\n");
        return 2;
    }
    if (!strcmp(role, "recv"))
        return receive(host, port);
    if (!window)
        window = count;
    return put_loop(host, port, size, count, window);
}
