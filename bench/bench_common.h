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
 * async:    both sides put and get count messages at once, from two threads;
 *           then the server acknowledges (one 1-byte message) and the
 *           client's clock stops on that acknowledgement, so every put of
 *           both sides has been delivered when it stops.
 * pingpong: warmup untimed round trips, then count timed round trips of
 *           one message; latencies are recorded.
 * oneway:   the client puts count messages and a zero-length end marker;
 *           the server (receiver) times from the arrival of the first
 *           message to the marker's, then acknowledges (1 byte) so the
 *           client knows everything arrived before it closes.
 */
enum bench_mode { MODE_SYNC, MODE_ASYNC, MODE_PINGPONG, MODE_ONEWAY };

struct bench_opts {
    enum bench_role role;
    enum bench_mode mode;
    const char *host;
    int port;
    int port2;       /* second port, for transports needing two (zmq) */
    size_t size;     /* 0 = mixed sizes, see bench_size_at */
    uint64_t count;
    uint64_t warmup; /* pingpong: untimed round trips first */
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

/* How long a benchmark waits for one message, a hello or a close before it
 * gives up: a peer that never came up (port taken, crashed) must end the
 * run with an error, not leave it retrying forever. Generous, since a
 * 64 MiB message on a loaded machine takes seconds. */
#define BENCH_WAIT_MS 120000

/* Print a message and exit 1. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Tell the driver the server listens (one line on stderr). */
void bench_ready(void);

double bench_now(void); /* monotonic seconds */

/*
 * Resource use of the whole process (every thread) over a window:
 * getrusage(RUSAGE_SELF) for CPU and context switches, and a perf counter
 * of the raw_syscalls:sys_enter tracepoint for system calls.
 * bench_counters_init opens that counter with inherit set, so it must run
 * before the process starts any thread (bench_parse calls it); syscalls is
 * -1 where perf_event_open is refused or tracefs is missing, or when
 * NQ_BENCH_SYSCALLS=0 is in the environment.
 */
struct bench_usage {
    double wall;        /* bench_now() */
    double user_us, sys_us;
    long vcsw, ivcsw;   /* voluntary, involuntary context switches */
    long long syscalls; /* -1: not counted */
};
void bench_counters_init(void);
void bench_usage_now(struct bench_usage *u);
/* Print the window's counters as JSON members (", \"cpu_us\": ..."). */
void bench_usage_json(const struct bench_usage *from, const struct bench_usage *to);

/* Latency samples of a pingpong run, in seconds. */
struct bench_lat {
    double *v;
    uint64_t n;
};
void bench_lat_init(struct bench_lat *l, uint64_t count);

/* Peak resident set (VmHWM) of the process, KiB. */
long bench_peak_rss_kb(void);

/* Print the result line: seconds is this side's timed span (0 for the side
 * that does not time: the server, or in oneway the client), lat may be
 * NULL, usage (may be NULL) the counters over the workload window.
 * Reports VmHWM of the calling process. */
void bench_report(const struct bench_opts *o, const char *impl, double seconds,
                  struct bench_lat *lat, const struct bench_usage usage[2]);

#endif
