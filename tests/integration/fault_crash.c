/*
 * A server killed with SIGKILL mid-stream and restarted on the same port:
 * the client reconnects on its own, and what arrived obeys the delivery
 * guarantee docs/protocol.md states for TCP: the first server got a prefix
 * of the stream, the second a suffix, each in order with no hole and
 * nothing twice; only what the dead process held (its receive queue and
 * socket buffers) is lost between the two, and every put completed.
 *
 * The servers are `nq server` processes (argv[1]), so that the kill is a
 * real process death; each prints one line per message, flushed.
 */
#include "nqtest.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 40000
#define MSG 200

static const char *nq_path;

struct server {
    pid_t pid;
    FILE *out;
    pthread_t reader;
    pthread_mutex_t mu;
    int *seqs; /* in arrival order */
    int n;
};

static void *read_lines(void *arg)
{
    struct server *s = arg;
    char line[4096];
    while (fgets(line, sizeof line, s->out)) {
        /* <peer-hex> <len> m<seq>xxxx... */
        char *m = strstr(line, " m");
        if (!m)
            continue;
        int seq = atoi(m + 2);
        pthread_mutex_lock(&s->mu);
        s->seqs[s->n++] = seq;
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static int count(struct server *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void start_server(struct server *s, int port)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->seqs = calloc(N, sizeof *s->seqs);
    assert_non_null(s->seqs);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    char portbuf[16];
    snprintf(portbuf, sizeof portbuf, "%d", port);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(nq_path, nq_path, "server", "--port", portbuf, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    s->out = fdopen(fds[0], "r");
    assert_non_null(s->out);
    assert_int_equal(pthread_create(&s->reader, NULL, read_lines, s), 0);
    /* listening once a raw connection gets through */
    int64_t end = nqt_now_ms() + 10000;
    for (;;) {
        int fd = nqt_raw_connect(port);
        if (fd >= 0) {
            nqt_raw_abort(fd);
            break;
        }
        assert_true(nqt_now_ms() < end);
        nqt_sleep_ms(20);
    }
}

static void stop_server(struct server *s, int sig)
{
    kill(s->pid, sig);
    int status;
    waitpid(s->pid, &status, 0);
    pthread_join(s->reader, NULL);
    fclose(s->out);
}

static atomic_int completed_ok, completed_bad;
static void on_done(void *user, nq_status st)
{
    atomic_fetch_add(st == NQ_OK ? &completed_ok : &completed_bad, 1);
}

/* seqs[0..n) must be lo, lo+1, ..., lo+n-1: in order, no hole, no repeat */
static void assert_run(const int *seqs, int n, int lo, const char *who)
{
    for (int i = 0; i < n; i++)
        if (seqs[i] != lo + i) {
            print_message("%s: message %d is seq %d, expected %d\n", who, i, seqs[i], lo + i);
            fail();
        }
}

static void test_server_killed_and_restarted(void **state)
{
    int port = nqt_free_port();
    struct server s1, s2;
    start_server(&s1, port);

    nq_options *o = nqt_opts(port);
    nq_comm *c = nqt_client(o); /* takes o */
    char msg[MSG];
    memset(msg, 'x', sizeof msg);
    int killed = 0;
    for (int i = 0; i < N; i++) {
        snprintf(msg, sizeof msg, "m%08d", i);
        msg[9] = 'x';
        assert_int_equal(nq_comm_put(c, msg, sizeof msg, NULL, 0, on_done, NULL), NQ_OK);
        if (!killed && i == N / 3) {
            /* let some arrive first, then kill mid-stream */
            int64_t end = nqt_now_ms() + NQT_LONG_MS;
            while (count(&s1) < N / 10 && nqt_now_ms() < end)
                nqt_sleep_ms(1);
            stop_server(&s1, SIGKILL);
            start_server(&s2, port);
            killed = 1;
        }
    }
    int64_t end = nqt_now_ms() + NQT_LONG_MS;
    while (atomic_load(&completed_ok) + atomic_load(&completed_bad) < N && nqt_now_ms() < end)
        nqt_sleep_ms(10);
    assert_int_equal(atomic_load(&completed_ok), N);
    while (count(&s2) > 0 && s2.seqs[count(&s2) - 1] != N - 1 && nqt_now_ms() < end)
        nqt_sleep_ms(10);
    assert_int_equal(nq_comm_close(c, 5000), NQ_OK);
    nq_comm_free(c);
    stop_server(&s2, SIGINT);

    int j = s1.n, k = s2.n ? s2.seqs[0] : N;
    print_message("first server got [0, %d), second [%d, %d): %d lost with the first process\n",
                  j, k, k + s2.n, k - j);
    assert_run(s1.seqs, s1.n, 0, "first server");
    assert_run(s2.seqs, s2.n, k, "second server");
    assert_true(j >= N / 10);
    assert_true(k >= j);     /* nothing twice */
    assert_int_equal(k + s2.n, N); /* everything after the gap arrived */
    /* the gap is what the dead process held: its receive queue (32 MiB by
     * default) and socket buffers, never more */
    assert_true((int64_t)(k - j) * (MSG + 8) <= (int64_t)40 << 20);
    free(s1.seqs);
    free(s2.seqs);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s path/to/nq\n", argv[0]);
        return 2;
    }
    nq_path = argv[1];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_killed_and_restarted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
