/* Command line, workload, clocks and result line shared by the C benchmarks. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_common.h"

#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

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
              "       --size BYTES|mixed --count N --mode sync|async|pingpong", impl);
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
        { NULL, 0, NULL, 0 },
    };
    *o = (struct bench_opts){ .role = -1, .mode = MODE_SYNC, .host = "127.0.0.1",
                              .size = 64, .count = 1000 };
    int c;
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
        case 'm':
            if (!strcmp(optarg, "sync"))
                o->mode = MODE_SYNC;
            else if (!strcmp(optarg, "async"))
                o->mode = MODE_ASYNC;
            else if (!strcmp(optarg, "pingpong"))
                o->mode = MODE_PINGPONG;
            else
                usage(impl);
            break;
        default: usage(impl);
        }
    }
    if ((int)o->role < 0 || o->port <= 0 || o->count == 0)
        usage(impl);
    if (!o->port2)
        o->port2 = o->port + 1;
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

/* Peak resident set in KiB: VmHWM, which getrusage also reports on Linux. */
static long peak_rss_kb(void)
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
                  struct bench_lat *lat)
{
    static const char *modes[] = { "sync", "async", "pingpong" };
    uint64_t bytes = bench_total_bytes(o);
    char size[32];
    if (o->size)
        snprintf(size, sizeof size, "%zu", o->size);
    else
        snprintf(size, sizeof size, "\"mixed\"");
    printf("{\"impl\": \"%s\", \"role\": \"%s\", \"mode\": \"%s\", \"size\": %s, "
           "\"count\": %llu, \"bytes\": %llu, \"seconds\": %.6f",
           impl, o->role == ROLE_SERVER ? "server" : "client", modes[o->mode], size,
           (unsigned long long)o->count, (unsigned long long)bytes, seconds);
    if (seconds > 0) {
        /* Both directions carry count messages, as in the reference's iops. */
        printf(", \"msgs_per_s\": %.1f, \"gbit_per_s\": %.4f",
               2.0 * (double)o->count / seconds, 2.0 * (double)bytes * 8 / seconds / 1e9);
    }
    if (lat && lat->n) {
        qsort(lat->v, lat->n, sizeof *lat->v, cmp_double);
        printf(", \"lat_p50_us\": %.2f, \"lat_p99_us\": %.2f",
               percentile(lat->v, lat->n, 50) * 1e6, percentile(lat->v, lat->n, 99) * 1e6);
    }
    printf(", \"rss_peak_kb\": %ld}\n", peak_rss_kb());
    fflush(stdout);
    if (lat)
        free(lat->v);
}
