/* `--stats N` and the put progress line: a reporter thread that reads the
 * communicator's statistics (nq_comm_stats) and writes to stderr, so that
 * neither the server's get loop nor a client waiting on a put has to. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* How often the thread looks: the progress line's refresh (10 per second
 * at most) and how soon a stop is noticed. */
#define TICK_MS 100
/* A put shows progress only once it has taken this long. */
#define PROGRESS_AFTER_MS 300

/* Shown on every stats line, with rates for the traffic; any other key is
 * shown only while it is not 0 (errors, drops, reconnections). */
static const char *const always[] = {
    "msgs_in", "bytes_in", "msgs_out", "bytes_out", "recv_queue_msgs", "recv_queue_bytes",
    "send_queue_msgs", "send_queue_bytes", "sessions_live",
};
static const char *const rated[] = {"msgs_in", "bytes_in", "msgs_out", "bytes_out"};
#define NRATED 4

struct cli_report {
    nq_comm *c;
    long period_ms;            /* 0: no stats lines */
    int tty;                   /* stderr is a terminal: progress allowed */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    /* under mu: the long put in flight */
    const char *put_name;
    uint64_t put_total, put_base; /* frame bytes: its size, and the count before it */
    int64_t put_start_ms;
    int progress_shown;
    /* the last stats line's figures, for rates */
    uint64_t last[NRATED];
    int64_t last_ms;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t get_or_zero(nq_stats *s, const char *key)
{
    uint64_t v = 0;
    nq_stats_get(s, key, &v);
    return v;
}

static int is_always(const char *key)
{
    for (size_t i = 0; i < sizeof always / sizeof *always; i++)
        if (strcmp(key, always[i]) == 0)
            return 1;
    return 0;
}

/* mu held. The progress line is on the terminal: take it away first. */
static void clear_progress(struct cli_report *r)
{
    if (r->progress_shown) {
        fputs("\r\033[K", stderr);
        r->progress_shown = 0;
    }
}

/* One line: key=value for the main figures, rates per second for the
 * traffic since the previous line (final: since the start), then every
 * other key that is not 0. */
static void print_stats(struct cli_report *r, int final)
{
    nq_stats *s = NULL;
    if (nq_comm_stats(r->c, &s) != NQ_OK)
        return;
    int64_t now = now_ms();
    char line[2048];
    size_t len = (size_t)snprintf(line, sizeof line, "nq: stats%s: uptime_ms=%llu",
                                  final ? " (final)" : "",
                                  (unsigned long long)get_or_zero(s, "uptime_ms"));
    double secs = final ? (double)get_or_zero(s, "uptime_ms") / 1000.0
                        : (double)(now - r->last_ms) / 1000.0;
    for (size_t i = 0; i < sizeof always / sizeof *always && len < sizeof line; i++) {
        uint64_t v = get_or_zero(s, always[i]);
        len += (size_t)snprintf(line + len, sizeof line - len, " %s=%llu", always[i],
                                (unsigned long long)v);
        for (int k = 0; k < NRATED && len < sizeof line; k++) {
            if (strcmp(always[i], rated[k]) != 0)
                continue;
            uint64_t delta = final ? v : v - r->last[k];
            r->last[k] = v;
            len += (size_t)snprintf(line + len, sizeof line - len, " (%.1f/s)",
                                    secs > 0 ? (double)delta / secs : 0.0);
        }
    }
    for (size_t i = 0; i < nq_stats_count(s) && len < sizeof line; i++) {
        const char *key = nq_stats_key(s, i);
        uint64_t v = nq_stats_value(s, i);
        if (v && !is_always(key) && strcmp(key, "uptime_ms") != 0)
            len += (size_t)snprintf(line + len, sizeof line - len, " %s=%llu", key,
                                    (unsigned long long)v);
    }
    nq_stats_free(s);
    r->last_ms = now;
    clear_progress(r);
    fprintf(stderr, "%s\n", line);
}

static void human(char *out, size_t cap, double bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

/* mu held: the progress of the put in flight, overwriting itself. */
static void print_progress(struct cli_report *r)
{
    int64_t now = now_ms();
    if (!r->put_total || now - r->put_start_ms < PROGRESS_AFTER_MS)
        return;
    nq_stats *s = NULL;
    if (nq_comm_stats(r->c, &s) != NQ_OK)
        return;
    uint64_t out = get_or_zero(s, "frame_bytes_out");
    nq_stats_free(s);
    uint64_t done = out > r->put_base ? out - r->put_base : 0;
    if (done > r->put_total)
        done = r->put_total;
    double secs = (double)(now - r->put_start_ms) / 1000.0;
    char d[32], t[32], rate[32];
    human(d, sizeof d, (double)done);
    human(t, sizeof t, (double)r->put_total);
    human(rate, sizeof rate, secs > 0 ? (double)done / secs : 0.0);
    fprintf(stderr, "\r\033[Knq: put %s: %s / %s (%.0f%%), %s/s", r->put_name, d, t,
            100.0 * (double)done / (double)r->put_total, rate);
    fflush(stderr);
    r->progress_shown = 1;
}

static void *run(void *arg)
{
    struct cli_report *r = arg;
    int64_t next = now_ms() + r->period_ms;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        if (r->stop)
            break;
        if (r->period_ms && now_ms() >= next) {
            print_stats(r, 0);
            next += r->period_ms;
        }
        if (r->tty)
            print_progress(r);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int cli_report_start(struct cli_report **out, nq_comm *c, long stats_s, int progress)
{
    *out = NULL;
    int tty = progress && isatty(STDERR_FILENO);
    if (!stats_s && !tty)
        return CLI_OK; /* nothing to report: no thread */
    struct cli_report *r = calloc(1, sizeof *r);
    if (!r)
        return cli_fail("stats", NQ_ENOMEM);
    r->c = c;
    r->period_ms = stats_s * 1000;
    r->tty = tty;
    r->last_ms = now_ms();
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return cli_fail("stats", NQ_EIO);
    }
    *out = r;
    return CLI_OK;
}

void cli_report_put(struct cli_report *r, const char *name, uint64_t payload_size)
{
    if (!r || !r->tty)
        return;
    uint64_t base = 0;
    nq_stats *s = NULL;
    if (name && nq_comm_stats(r->c, &s) == NQ_OK) {
        base = get_or_zero(s, "frame_bytes_out");
        nq_stats_free(s);
    }
    pthread_mutex_lock(&r->mu);
    clear_progress(r);
    r->put_name = name;
    r->put_total = name ? payload_size + 8 : 0; /* its frame: header and payload */
    r->put_base = base;
    r->put_start_ms = now_ms();
    pthread_mutex_unlock(&r->mu);
}

void cli_report_stop(struct cli_report *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    clear_progress(r);
    if (r->period_ms)
        print_stats(r, 1);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
