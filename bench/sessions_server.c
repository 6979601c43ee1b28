/*
 * One netqueue TCP server holding many sessions, for bench/sessions.py and
 * the scale test (public ABI only). Its clients are sessions_fleet
 * processes. Commands on stdin, one per line; each answer is one line on
 * stdout (times in CLOCK_MONOTONIC ns, one clock for every process):
 *
 *   wait N SECONDS   until N peers are connected: "established n first_ns
 *                    last_ns rss_kb" (first/last: when the live peer count
 *                    first was >= 1 and reached N, polled every 0.5 ms)
 *   settle LIVE LOST SECONDS
 *                    until LOST links were lost without fin in all and LIVE
 *                    peers are connected: "settled live lost lingering
 *                    expired t_ns" (polled every 5 ms)
 *   idle SECONDS     "idle cpu_s" (this process's CPU over that sleep)
 *   bcast SIZE       one message of SIZE bytes ('B'...) to every client:
 *                    "bcast t0_ns done_ns" (done: written to every socket)
 *   target EVERY M SIZE
 *                    M messages to each of every EVERY-th connected peer
 *                    (npeers 1; 'T' + the target's id ...): "target t0_ns
 *                    peers puts_ns" (puts_ns: the last put returned)
 *   close MS         "closing t0_ns" at once, then nq_comm_close(MS):
 *                    "closed status t0_ns t1_ns peak_rss_kb"
 *   rss              "rss rss_kb peak_kb"
 *   stats KEY...     "stats KEY=value ..." (nq_comm_stats)
 *
 *   sessions_server [--workers W] [--port P] [--tls-cert PEM --tls-key PEM]
 * prints "port P rss_kb" first (the RSS of the process with the server made
 * and nobody connected: the baseline of the per-session figure).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <netqueue/netqueue.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':')
            v = atol(line + n + 1);
    if (f)
        fclose(f);
    return v;
}

static void die(const char *what, nq_status st)
{
    fprintf(stderr, "sessions_server: %s: %s (%s)\n", what, nq_strerror(st), nq_last_error());
    exit(1);
}

static size_t live_peers(nq_comm *c)
{
    size_t n = 0;
    nq_status st = nq_comm_peers(c, NULL, 0, &n);
    if (st != NQ_OK)
        die("peers", st);
    return n;
}

static void cmd_wait(nq_comm *c, size_t want, double seconds)
{
    uint64_t deadline = now_ns() + (uint64_t)(seconds * 1e9), first = 0, last = 0;
    size_t n = 0;
    struct timespec half_ms = {0, 500000};
    for (;;) {
        n = live_peers(c);
        uint64_t t = now_ns();
        if (n > 0 && !first)
            first = t;
        if (n >= want) {
            last = t;
            break;
        }
        if (t > deadline)
            break;
        nanosleep(&half_ms, NULL);
    }
    printf("established %zu %llu %llu %ld\n", n, (unsigned long long)first,
           (unsigned long long)last, status_kb("VmRSS"));
}

static uint64_t stat_of(nq_comm *c, const char *key)
{
    nq_stats *s;
    uint64_t v = 0;
    nq_status st = nq_comm_stats(c, &s);
    if (st != NQ_OK)
        die("stats", st);
    nq_stats_get(s, key, &v);
    nq_stats_free(s);
    return v;
}

/* After the clients dropped their links without fin and came back under
 * new ids: until `lost` links were lost in all and `live` peers are back. */
static void cmd_settle(nq_comm *c, size_t live, uint64_t lost, double seconds)
{
    uint64_t deadline = now_ns() + (uint64_t)(seconds * 1e9), t;
    size_t n;
    uint64_t l;
    struct timespec ms = {0, 5000000};
    for (;;) {
        n = live_peers(c);
        l = stat_of(c, "conn_lost");
        t = now_ns();
        if ((n >= live && l >= lost) || t > deadline)
            break;
        nanosleep(&ms, NULL);
    }
    printf("settled %zu %llu %llu %llu %llu\n", n, (unsigned long long)l,
           (unsigned long long)stat_of(c, "sessions_lingering"),
           (unsigned long long)stat_of(c, "sessions_expired"), (unsigned long long)t);
}

static void cmd_idle(double seconds)
{
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    getrusage(RUSAGE_SELF, &b);
    double cpu = (double)(b.ru_utime.tv_sec - a.ru_utime.tv_sec + b.ru_stime.tv_sec - a.ru_stime.tv_sec) +
                 (double)(b.ru_utime.tv_usec - a.ru_utime.tv_usec + b.ru_stime.tv_usec - a.ru_stime.tv_usec) / 1e6;
    printf("idle %.6f\n", cpu);
}

static _Atomic uint64_t bcast_done_ns;

static void on_bcast_done(void *user, nq_status st)
{
    (void)user;
    if (st != NQ_OK)
        fprintf(stderr, "sessions_server: broadcast failed: %s\n", nq_strerror(st));
    atomic_store(&bcast_done_ns, now_ns());
}

static void cmd_bcast(nq_comm *c, size_t size)
{
    uint8_t *buf = calloc(1, size ? size : 1);
    buf[0] = 'B';
    atomic_store(&bcast_done_ns, 0);
    uint64_t t0 = now_ns();
    nq_status st = nq_comm_put(c, buf, size, NULL, 0, on_bcast_done, NULL);
    if (st != NQ_OK)
        die("broadcast", st);
    struct timespec ms = {0, 1000000};
    while (!atomic_load(&bcast_done_ns))
        nanosleep(&ms, NULL);
    printf("bcast %llu %llu\n", (unsigned long long)t0, (unsigned long long)atomic_load(&bcast_done_ns));
    free(buf);
}

static void cmd_target(nq_comm *c, size_t every, unsigned m, size_t size)
{
    size_t n = live_peers(c), got = 0;
    uint8_t *ids = malloc((n ? n : 1) * 16);
    nq_status st = nq_comm_peers(c, ids, n, &got);
    if (st != NQ_OK)
        die("peers", st);
    if (got < n)
        n = got;
    if (size < 17)
        size = 17;
    uint8_t *buf = calloc(1, size);
    buf[0] = 'T';
    size_t peers = 0;
    uint64_t t0 = now_ns();
    for (unsigned r = 0; r < m; r++) {
        peers = 0;
        for (size_t i = 0; i < n; i += every ? every : 1) {
            memcpy(buf + 1, ids + i * 16, 16);
            if ((st = nq_comm_put(c, buf, size, ids + i * 16, 1, NULL, NULL)) != NQ_OK)
                die("targeted put", st);
            peers++;
        }
    }
    uint64_t t1 = now_ns();
    printf("target %llu %zu %llu\n", (unsigned long long)t0, peers, (unsigned long long)t1);
    free(buf);
    free(ids);
}

static void cmd_stats(nq_comm *c, char *keys)
{
    nq_stats *s;
    nq_status st = nq_comm_stats(c, &s);
    if (st != NQ_OK)
        die("stats", st);
    printf("stats");
    for (char *k = strtok(keys, " \n"); k; k = strtok(NULL, " \n")) {
        uint64_t v = 0;
        if (nq_stats_get(s, k, &v) == NQ_OK)
            printf(" %s=%llu", k, (unsigned long long)v);
    }
    printf("\n");
    nq_stats_free(s);
}

int main(int argc, char **argv)
{
    int workers = 1, port = 0;
    const char *cert = NULL, *key = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--workers"))
            workers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tls-cert"))
            cert = argv[i + 1];
        else if (!strcmp(argv[i], "--tls-key"))
            key = argv[i + 1];
        else {
            fprintf(stderr, "usage: sessions_server [--workers W] [--port P] [--tls-cert PEM --tls-key PEM]\n");
            return 2;
        }
    }
    nq_options *o;
    nq_comm *c;
    nq_status st;
    if ((st = nq_options_new(&o)) != NQ_OK || (st = nq_options_set_host(o, "127.0.0.1")) != NQ_OK ||
        (st = nq_options_set_port(o, port)) != NQ_OK ||
        (st = nq_options_set_workers(o, workers)) != NQ_OK)
        die("options", st);
    if (cert && ((st = nq_options_set_tls(o, 1)) != NQ_OK || (st = nq_options_set_tls_cert(o, cert)) != NQ_OK ||
                 (st = nq_options_set_tls_key(o, key)) != NQ_OK))
        die("TLS options", st);
    if ((st = nq_comm_new(&c, NQ_TCP, NQ_SERVER, o)) != NQ_OK)
        die("server", st);
    nq_options_free(o);
    if ((st = nq_comm_port(c, &port)) != NQ_OK)
        die("port", st);
    printf("port %d %ld\n", port, status_kb("VmRSS"));
    fflush(stdout);
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        char cmd[16] = "";
        double a = 0;
        unsigned long b = 0, d = 0;
        int n = sscanf(line, "%15s %lf %lu %lu", cmd, &a, &b, &d);
        if (n < 1)
            continue;
        if (!strcmp(cmd, "wait") && n >= 3)
            cmd_wait(c, (size_t)a, (double)b);
        else if (!strcmp(cmd, "settle") && n >= 4)
            cmd_settle(c, (size_t)a, (uint64_t)b, (double)d);
        else if (!strcmp(cmd, "idle") && n >= 2)
            cmd_idle(a);
        else if (!strcmp(cmd, "bcast") && n >= 2)
            cmd_bcast(c, (size_t)a);
        else if (!strcmp(cmd, "target") && n >= 4)
            cmd_target(c, (size_t)a, (unsigned)b, (size_t)d);
        else if (!strcmp(cmd, "rss"))
            printf("rss %ld %ld\n", status_kb("VmRSS"), status_kb("VmHWM"));
        else if (!strcmp(cmd, "stats"))
            cmd_stats(c, line + 5);
        else if (!strcmp(cmd, "close") && n >= 2) {
            uint64_t t0 = now_ns();
            printf("closing %llu\n", (unsigned long long)t0);
            fflush(stdout);
            st = nq_comm_close(c, (int64_t)a);
            uint64_t t1 = now_ns();
            printf("closed %d %llu %llu %ld\n", (int)st, (unsigned long long)t0,
                   (unsigned long long)t1, status_kb("VmHWM"));
            if (st != NQ_OK)
                fprintf(stderr, "sessions_server: close: %s (%s)\n", nq_strerror(st), nq_last_error());
        } else if (!strcmp(cmd, "quit"))
            break;
        else
            printf("error unknown command %s\n", cmd);
        fflush(stdout);
    }
    nq_comm_free(c);
    return 0;
}
