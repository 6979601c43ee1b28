/* Command line, workload, clocks and result line shared by the C benchmarks. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_common.h"

#include <errno.h>
#include <getopt.h>
#include <linux/perf_event.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MIXED_MIN_LOG2 6  /* 64 B */
#define MIXED_LOGS 16     /* .. 2 MiB */

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void usage(const char *impl)
{
    bench_die("usage: %s --role server|client --port N [--port2 N] [--host 127.0.0.1]\n"
              "       --size BYTES|mixed --count N --mode sync|async|pingpong|oneway\n"
              "       [--warmup N]  (pingpong: untimed round trips first; default 1000, at\n"
              "                      most count/10 and 64 MiB of messages, at least 1)", impl);
}

void bench_parse(struct bench_opts *o, int argc, char **argv, const char *impl)
{
    static const struct option longopts[] = {
        { "role", required_argument, NULL, 'r' },
        { "port", required_argument, NULL, 'p' },
        { "port2", required_argument, NULL, 'P' },
        { "host", required_argument, NULL, 'h' },
        { "size", required_argument, NULL, 's' },
        { "count", required_argument, NULL, 'c' },
        { "mode", required_argument, NULL, 'm' },
        { "warmup", required_argument, NULL, 'w' },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct bench_opts){ .role = -1, .mode = MODE_SYNC, .host = "127.0.0.1",
                              .size = 64, .count = 1000 };
    long long warmup = -1;
    int c;
    bench_counters_init(); /* before any thread of the program exists */
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            o->role = !strcmp(optarg, "server") ? ROLE_SERVER
                    : !strcmp(optarg, "client") ? ROLE_CLIENT : (enum bench_role)-1;
            break;
        case 'p': o->port = atoi(optarg); break;
        case 'P': o->port2 = atoi(optarg); break;
        case 'h': o->host = optarg; break;
        case 's': o->size = !strcmp(optarg, "mixed") ? 0 : strtoull(optarg, NULL, 0); break;
        case 'c': o->count = strtoull(optarg, NULL, 0); break;
        case 'w': warmup = strtoll(optarg, NULL, 0); break;
        case 'm':
            if (!strcmp(optarg, "sync"))
                o->mode = MODE_SYNC;
            else if (!strcmp(optarg, "async"))
                o->mode = MODE_ASYNC;
            else if (!strcmp(optarg, "pingpong"))
                o->mode = MODE_PINGPONG;
            else if (!strcmp(optarg, "oneway"))
                o->mode = MODE_ONEWAY;
            else
                usage(impl);
            break;
        default: usage(impl);
        }
    }
    if ((int)o->role < 0 || o->port <= 0 || o->count == 0 ||
        (o->mode == MODE_ONEWAY && o->count < 2))
        usage(impl);
    if (!o->port2)
        o->port2 = o->port + 1;
    if (warmup >= 0) {
        o->warmup = (uint64_t)warmup;
    } else {
        /* 1000, but no more than a tenth of count and no more than 64 MiB
         * of warm-up messages each way (bench/ref_bench.py computes the
         * same default) */
        uint64_t w = (64ull << 20) / bench_max_size(o);
        if (w > o->count / 10)
            w = o->count / 10;
        o->warmup = w < 1 ? 1 : w < 1000 ? w : 1000;
    }
}

/* splitmix64: a stateless hash of the index, so each thread and each side
 * can compute any message's size on its own. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

size_t bench_size_at(const struct bench_opts *o, uint64_t i)
{
    if (o->size)
        return o->size;
    return (size_t)1 << (MIXED_MIN_LOG2 + mix(i) % MIXED_LOGS);
}

size_t bench_max_size(const struct bench_opts *o)
{
    return o->size ? o->size : (size_t)1 << (MIXED_MIN_LOG2 + MIXED_LOGS - 1);
}

uint64_t bench_total_bytes(const struct bench_opts *o)
{
    if (o->size)
        return o->size * o->count;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < o->count; i++)
        sum += bench_size_at(o, i);
    return sum;
}

static unsigned char pattern(size_t j)
{
    return (unsigned char)(j * 131 + 7);
}

unsigned char *bench_payload(const struct bench_opts *o)
{
    size_t n = bench_max_size(o);
    unsigned char *p = malloc(n ? n : 1);
    if (!p)
        bench_die("out of memory for a %zu-byte payload", n);
    for (size_t j = 0; j < n; j++)
        p[j] = pattern(j);
    return p;
}

void bench_check(const struct bench_opts *o, uint64_t i, const void *data, size_t size)
{
    size_t want = bench_size_at(o, i);
    const unsigned char *d = data;
    if (size != want)
        bench_die("message %llu: size %zu, expected %zu", (unsigned long long)i, size, want);
    if (size && (d[0] != pattern(0) || d[size / 2] != pattern(size / 2) ||
                 d[size - 1] != pattern(size - 1)))
        bench_die("message %llu: payload corrupted", (unsigned long long)i);
}

void bench_ready(void)
{
    fputs("READY\n", stderr);
    fflush(stderr);
}

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void bench_lat_init(struct bench_lat *l, uint64_t count)
{
    l->n = 0;
    l->v = malloc(count * sizeof *l->v);
    if (!l->v)
        bench_die("out of memory for %llu samples", (unsigned long long)count);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples, as bench/ref_bench.py does. */
static double percentile(const double *v, uint64_t n, double p)
{
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)n);
    return v[rank ? rank - 1 : 0];
}

/* The raw_syscalls:sys_enter counter: one per process, inherited by
 * every thread created after it is opened; a read sums the live threads'
 * counts (and those of threads that ended). */
static int syscall_fd = -1;

static long tracepoint_id(const char *name)
{
    static const char *roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
    for (size_t i = 0; i < sizeof roots / sizeof *roots; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/events/%s/id", roots[i], name);
        FILE *f = fopen(path, "r");
        long id = -1;
        if (!f)
            continue;
        if (fscanf(f, "%ld", &id) != 1)
            id = -1;
        fclose(f);
        if (id >= 0)
            return id;
    }
    return -1;
}

void bench_counters_init(void)
{
    const char *env = getenv("NQ_BENCH_SYSCALLS");
    if (syscall_fd >= 0 || (env && !strcmp(env, "0")))
        return;
    long id = tracepoint_id("raw_syscalls/sys_enter");
    if (id < 0)
        return;
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_TRACEPOINT;
    a.size = sizeof a;
    a.config = (uint64_t)id;
    a.inherit = 1;
    a.exclude_hv = 1;
    syscall_fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

void bench_usage_now(struct bench_usage *u)
{
    struct rusage ru;
    uint64_t n;
    getrusage(RUSAGE_SELF, &ru);
    u->wall = bench_now();
    u->user_us = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec;
    u->sys_us = ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
    u->vcsw = ru.ru_nvcsw;
    u->ivcsw = ru.ru_nivcsw;
    u->syscalls = -1;
    if (syscall_fd >= 0 && read(syscall_fd, &n, sizeof n) == (ssize_t)sizeof n)
        u->syscalls = (long long)n;
}

void bench_usage_json(const struct bench_usage *a, const struct bench_usage *b)
{
    printf(", \"window_s\": %.6f, \"cpu_user_us\": %.0f, \"cpu_sys_us\": %.0f, "
           "\"cpu_us\": %.0f, \"ctx_vol\": %ld, \"ctx_invol\": %ld, \"ctx_switches\": %ld",
           b->wall - a->wall, b->user_us - a->user_us, b->sys_us - a->sys_us,
           (b->user_us + b->sys_us) - (a->user_us + a->sys_us), b->vcsw - a->vcsw,
           b->ivcsw - a->ivcsw, (b->vcsw + b->ivcsw) - (a->vcsw + a->ivcsw));
    if (a->syscalls >= 0 && b->syscalls >= 0)
        printf(", \"syscalls\": %lld", b->syscalls - a->syscalls);
    else
        printf(", \"syscalls\": null");
}

/* Peak resident set in KiB: VmHWM, which getrusage also reports on Linux. */
long bench_peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = ru.ru_maxrss;
    }
    return kb;
}

void bench_report(const struct bench_opts *o, const char *impl, double seconds,
                  struct bench_lat *lat, const struct bench_usage usage[2])
{
    static const char *modes[] = { "sync", "async", "pingpong", "oneway" };
    uint64_t bytes = bench_total_bytes(o);
    /* Messages and bytes inside the clock: both directions' count messages,
     * as the reference's iops counts them; oneway times one direction from
     * the first message's arrival, so messages 1 .. count-1. */
    uint64_t timed_msgs = 2 * o->count, timed_bytes = 2 * bytes;
    if (o->mode == MODE_ONEWAY) {
        timed_msgs = o->count - 1;
        timed_bytes = bytes - bench_size_at(o, 0);
    }
    char size[32];
    if (o->size)
        snprintf(size, sizeof size, "%zu", o->size);
    else
        snprintf(size, sizeof size, "\"mixed\"");
    printf("{\"impl\": \"%s\", \"role\": \"%s\", \"mode\": \"%s\", \"size\": %s, "
           "\"count\": %llu, \"bytes\": %llu, \"seconds\": %.6f",
           impl, o->role == ROLE_SERVER ? "server" : "client", modes[o->mode], size,
           (unsigned long long)o->count, (unsigned long long)bytes, seconds);
    if (o->mode == MODE_PINGPONG)
        printf(", \"warmup\": %llu", (unsigned long long)o->warmup);
    if (seconds > 0) {
        printf(", \"timed_msgs\": %llu, \"timed_bytes\": %llu, \"msgs_per_s\": %.1f, "
               "\"gbit_per_s\": %.4f", (unsigned long long)timed_msgs,
               (unsigned long long)timed_bytes, (double)timed_msgs / seconds,
               (double)timed_bytes * 8 / seconds / 1e9);
    }
    if (lat && lat->n) {
        qsort(lat->v, lat->n, sizeof *lat->v, cmp_double);
        printf(", \"lat_p50_us\": %.2f, \"lat_p99_us\": %.2f",
               percentile(lat->v, lat->n, 50) * 1e6, percentile(lat->v, lat->n, 99) * 1e6);
    }
    if (usage)
        bench_usage_json(&usage[0], &usage[1]);
    printf(", \"rss_peak_kb\": %ld}\n", bench_peak_rss_kb());
    fflush(stdout);
    if (lat)
        free(lat->v);
}
