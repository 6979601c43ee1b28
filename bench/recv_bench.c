/*
 * Asynchronous receive against blocking get, in one process over TCP on
 * loopback (public ABI only). Not a test: numbers only (bench/README.md).
 *
 * A client thread puts `count` messages of `size` bytes as fast as the
 * send budget allows; the server takes them in one of three ways:
 *   blocking  nq_comm_get(FOREVER) in a loop (the baseline);
 *   cq        a window of receives posted with nq_comm_get_cq, drained
 *             with nq_cq_next_msg, each completion posting the next;
 *   callback  nq_comm_get_async whose callback asks for the next message.
 * The clock runs from the first put to the last message received. Modes
 * are interleaved within each repetition (so that drift of a shared
 * machine hits them alike); per mode the median and best time, and each
 * async mode's time over the blocking one's: the median of the ratios of
 * runs in the same repetition, the ratio of medians and of bests.
 *
 *   recv_bench [--reps N] [--sizes 64,1048576] [--count64 N] [--window W]
 *              [--only blocking|cq|callback]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netqueue/netqueue.h>

enum mode { BLOCKING, CQ, CALLBACK, NMODES };
static const char *mode_name[NMODES] = {"blocking", "cq", "callback"};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, nq_status st)
{
    fprintf(stderr, "recv_bench: %s: %s (%s)\n", what, nq_strerror(st), nq_last_error());
    exit(1);
}

#define CHECK(call)                                                                        \
    do {                                                                                   \
        nq_status st_ = (call);                                                            \
        if (st_ != NQ_OK)                                                                  \
            die(#call, st_);                                                               \
    } while (0)

struct sender {
    nq_comm *c;
    size_t size;
    uint64_t count;
    unsigned char *buf;
};

static void *send_all(void *arg)
{
    struct sender *s = arg;
    for (uint64_t i = 0; i < s->count; i++)
        CHECK(nq_comm_put(s->c, s->buf, s->size, NULL, 0, NULL, NULL));
    return NULL;
}

/* The callback chain: each message's callback asks for the next one. */
struct chain {
    nq_comm *s;
    uint64_t want;
    size_t size;
    atomic_uint_fast64_t got;
    atomic_int failed;
};

static void on_msg(void *user, nq_status st, nq_msg *m)
{
    struct chain *ch = user;
    if (st != NQ_OK || nq_msg_size(m) != ch->size) {
        atomic_store(&ch->failed, 1);
        nq_msg_free(m);
        return;
    }
    nq_msg_free(m);
    uint64_t n = atomic_fetch_add(&ch->got, 1) + 1;
    if (n < ch->want && nq_comm_get_async(ch->s, NULL, 0, NQ_FOREVER, on_msg, ch, NULL) != NQ_OK)
        atomic_store(&ch->failed, 1);
}

/* One run: seconds to receive count messages of size the given way. */
static double run(enum mode mode, size_t size, uint64_t count, int window)
{
    nq_options *o;
    CHECK(nq_options_new(&o));
    CHECK(nq_options_set_host(o, "127.0.0.1"));
    CHECK(nq_options_set_port(o, 0));
    nq_comm *s, *c;
    CHECK(nq_comm_new(&s, NQ_TCP, NQ_SERVER, o));
    int port;
    CHECK(nq_comm_port(s, &port));
    CHECK(nq_options_set_port(o, port));
    CHECK(nq_comm_new(&c, NQ_TCP, NQ_CLIENT, o));
    nq_options_free(o);
    /* handshake first: the clock is for messages only */
    CHECK(nq_comm_put(c, "hi", 2, NULL, 0, NULL, NULL));
    nq_msg *m;
    CHECK(nq_comm_get(s, NULL, 0, 20000, &m));
    nq_msg_free(m);

    struct sender snd = {c, size, count, calloc(1, size ? size : 1)};
    nq_cq *cq = NULL;
    struct chain ch = {.s = s, .want = count, .size = size};
    pthread_t t;
    double t0 = now_s();
    pthread_create(&t, NULL, send_all, &snd);
    switch (mode) {
    case BLOCKING:
        for (uint64_t i = 0; i < count; i++) {
            CHECK(nq_comm_get(s, NULL, 0, NQ_FOREVER, &m));
            if (nq_msg_size(m) != size)
                die("size", NQ_EPROTO);
            nq_msg_free(m);
        }
        break;
    case CQ: {
        CHECK(nq_cq_new(&cq));
        uint64_t posted = 0;
        for (; posted < (uint64_t)window && posted < count; posted++)
            CHECK(nq_comm_get_cq(s, NULL, 0, NQ_FOREVER, cq, posted, NULL));
        for (uint64_t i = 0; i < count; i++) {
            uint64_t tag;
            nq_status st;
            CHECK(nq_cq_next_msg(cq, NQ_FOREVER, &tag, &st, &m));
            if (st != NQ_OK || nq_msg_size(m) != size)
                die("cq receive", st);
            nq_msg_free(m);
            if (posted < count)
                CHECK(nq_comm_get_cq(s, NULL, 0, NQ_FOREVER, cq, posted++, NULL));
        }
        break;
    }
    case CALLBACK:
        CHECK(nq_comm_get_async(s, NULL, 0, NQ_FOREVER, on_msg, &ch, NULL));
        while (atomic_load(&ch.got) < count && !atomic_load(&ch.failed)) {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
        if (atomic_load(&ch.failed))
            die("callback receive", NQ_EPROTO);
        break;
    default:
        break;
    }
    double took = now_s() - t0;
    pthread_join(t, NULL);
    nq_comm_close(c, 20000);
    nq_comm_free(c);
    nq_comm_close(s, 20000);
    nq_comm_free(s);
    nq_cq_free(cq);
    free(snd.buf);
    return took;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int reps = 5, window = 16, only = -1;
    uint64_t count64 = 200000;
    char sizes_arg[256] = "64,1048576";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--sizes"))
            snprintf(sizes_arg, sizeof sizes_arg, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--count64"))
            count64 = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--window"))
            window = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--only")) { /* one mode, for profiling */
            for (int k = 0; k < NMODES; k++)
                if (!strcmp(argv[i + 1], mode_name[k]))
                    only = k;
        }
        else {
            fprintf(stderr, "usage: %s [--reps N] [--sizes a,b] [--count64 N] [--window W]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > 101 || window < 1)
        return 2;
    for (char *tok = strtok(sizes_arg, ","); tok; tok = strtok(NULL, ",")) {
        size_t size = strtoull(tok, NULL, 10);
        /* about the same bytes for every size, at least 1 000 messages */
        uint64_t count = size <= 64 ? count64 : (uint64_t)(1ull << 30) / size;
        if (count < 1000)
            count = 1000;
        /* interleaved, the order rotated each repetition */
        double v[NMODES][101];
        for (int r = 0; r < reps; r++)
            for (int k = 0; k < NMODES; k++) {
                enum mode md = (enum mode)((k + r) % NMODES);
                v[md][r] = only < 0 || (int)md == only ? run(md, size, count, window) : 1.0;
            }
        /* per repetition, each mode against the blocking run next to it
         * (paired: a shared machine's slow spells hit both), then medians */
        double ratio[NMODES][101], med[NMODES], best[NMODES], med_ratio[NMODES];
        for (int k = 0; k < NMODES; k++) {
            best[k] = v[k][0];
            for (int r = 0; r < reps; r++) {
                ratio[k][r] = v[k][r] / v[BLOCKING][r];
                if (v[k][r] < best[k])
                    best[k] = v[k][r];
            }
            med_ratio[k] = median(ratio[k], reps);
            med[k] = median(v[k], reps);
        }
        for (int k = 0; k < NMODES; k++)
            printf("size %zu B x %llu: %-8s median %.4f s (best %.4f)  %.0f msg/s  "
                   "time / blocking: median of paired ratios %.3f, of medians %.3f, of bests %.3f\n",
                   size, (unsigned long long)count, mode_name[k], med[k], best[k], count / med[k],
                   med_ratio[k], med[k] / med[BLOCKING], best[k] / best[BLOCKING]);
        fflush(stdout);
    }
    return 0;
}
