/*
 * Shared by every C benchmark program: the command line, the workload
 * (message sizes, payload pattern, checks), clocks, peak RSS and the JSON
 * result line. Each program adds only its transport.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

enum bench_role { ROLE_SERVER, ROLE_CLIENT };

/*
 * sync:     client puts count messages, server gets them all, then puts
 *           count back and the client gets them (the reference's iops SYNC).
 * async:    both sides put and get count messages at once, from two threads.
 * pingpong: count round trips of one message; latencies are recorded.
 */
enum bench_mode { MODE_SYNC, MODE_ASYNC, MODE_PINGPONG };

struct bench_opts {
    enum bench_role role;
    enum bench_mode mode;
    const char *host;
    int port;
    int port2;       /* second port, for transports needing two (zmq) */
    size_t size;     /* 0 = mixed sizes, see bench_size_at */
    uint64_t count;
};

/* Parse argv; prints usage and exits on error. impl names the program. */
void bench_parse(struct bench_opts *o, int argc, char **argv, const char *impl);

/* Size of message i: fixed, or for mixed a log-uniform 64 B .. 2 MiB
 * sequence that bench/ref_bench.py computes identically. */
size_t bench_size_at(const struct bench_opts *o, uint64_t i);
size_t bench_max_size(const struct bench_opts *o);
uint64_t bench_total_bytes(const struct bench_opts *o);

/* A payload buffer of bench_max_size bytes filled with the pattern. */
unsigned char *bench_payload(const struct bench_opts *o);

/* Abort the run (exit 1, message on stderr) if message i looks wrong. */
void bench_check(const struct bench_opts *o, uint64_t i, const void *data, size_t size);

/* Print a message and exit 1. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Tell the driver the server listens (one line on stderr). */
void bench_ready(void);

double bench_now(void); /* monotonic seconds */

/* Latency samples of a pingpong run, in seconds. */
struct bench_lat {
    double *v;
    uint64_t n;
};
void bench_lat_init(struct bench_lat *l, uint64_t count);

/* Print the result line: seconds is the client's timed span (0 for the
 * server), lat may be NULL. Reports VmHWM of the calling process. */
void bench_report(const struct bench_opts *o, const char *impl, double seconds,
                  struct bench_lat *lat);

#endif
