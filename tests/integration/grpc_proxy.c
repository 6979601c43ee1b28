/*
 * gRPC behind an L7 proxy (issue 16 item 2): nginx terminates TLS and
 * passes /grpc/comm (grpc_pass grpc://) to several netqueue servers,
 * hashing on the nq-client-id header so that every call of a client
 * reaches the same server. Clients are communicators of this process;
 * the servers are this program started again with --backend (an echo
 * server that answers each message to its sender only, prefixed with the
 * sender's id as it saw it, and logs at debug level to a file), so that
 * one can be killed.
 *
 * What is asserted: sessions survive many rounds (10,000 messages each
 * way per client, in order, on one link: one nq-link token per client in
 * the servers' logs); clients stay apart (echoes carry the client's own
 * id and only its own messages); every call of a client went to one
 * backend (nginx's access log); with upstream keepalive, calls of
 * different clients share an upstream connection and still stay apart;
 * a killed backend's clients move to another backend with a new link and
 * go on, while the other clients keep their link (docs/grpc-proxies.md).
 *
 * Every test runs under a watchdog (alarm) and every wait has a deadline.
 */
#include "grpc_common.h"
#include "nginx.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define WATCHDOG_S 240
#define MAX_BACKENDS 3
#define MAX_CLIENTS 4

static char self_path[4096];

/* ---- the backend (a child process) -------------------------------------- */

static FILE *backend_log;
static pthread_mutex_t backend_log_mu = PTHREAD_MUTEX_INITIALIZER;

static void backend_sink(void *user, nq_log_level level, const char *msg)
{
    (void)user;
    (void)level;
    pthread_mutex_lock(&backend_log_mu);
    fprintf(backend_log, "%s\n", msg);
    fflush(backend_log);
    pthread_mutex_unlock(&backend_log_mu);
}

/* Echo to the sender only: "<sender id as seen> <payload>". */
static int backend_main(int port, const char *log_path)
{
    backend_log = fopen(log_path, "a");
    if (!backend_log)
        return 2;
    nq_options *o = NULL;
    nq_comm *s = NULL;
    if (nq_options_new(&o) != NQ_OK || nq_options_set_host(o, "127.0.0.1") != NQ_OK ||
        nq_options_set_port(o, port) != NQ_OK ||
        nq_options_set_log(o, backend_sink, NULL, NQ_LOG_DEBUG) != NQ_OK ||
        nq_comm_new(&s, NQ_GRPC, NQ_SERVER, o) != NQ_OK)
        return 2;
    nq_options_free(o);
    uint8_t id[NQ_ID_SIZE];
    char hex[33];
    nqt_id_of(s, id);
    nq_id_format(id, hex);
    printf("ready %s\n", hex);
    fflush(stdout);
    char buf[512];
    for (;;) {
        nq_msg *m = NULL;
        if (nq_comm_get(s, NULL, 0, 1000, &m) != NQ_OK)
            continue;
        uint8_t peer[NQ_ID_SIZE];
        char phex[33];
        nq_msg_peer(m, peer);
        nq_id_format(peer, phex);
        long count = 0, size = 0;
        char cmd[64] = "";
        if (nq_msg_size(m) < sizeof cmd)
            memcpy(cmd, nq_msg_data(m), nq_msg_size(m));
        if (sscanf(cmd, "push %ld %ld", &count, &size) == 2 && size > 0 && size <= (1 << 24)) {
            /* count messages of size bytes to the sender, each starting
             * with its number */
            char *big = calloc(1, (size_t)size);
            for (long i = 0; big && i < count; i++) {
                snprintf(big, (size_t)size, "%ld", i);
                nq_comm_put(s, big, (size_t)size, peer, 1, NULL, NULL);
            }
            free(big);
            nq_msg_free(m);
            continue;
        }
        int n = snprintf(buf, sizeof buf, "%s %.*s", phex, (int)(nq_msg_size(m) < 400 ? nq_msg_size(m) : 400),
                         (const char *)nq_msg_data(m));
        nq_comm_put(s, buf, (size_t)n, peer, 1, NULL, NULL);
        nq_msg_free(m);
    }
}

/* ---- the test's set-up: backends, nginx, clients ------------------------ */

struct backend {
    pid_t pid;
    int port;
    char id[33];
    char log[160];
};

struct client {
    nq_comm *c;
    char id[33];
    char backend[33]; /* the server id of its echoes */
    long sent, got;
};

static struct backend backends[MAX_BACKENDS];
static int nbackends;
static char tmpdir[64];
static nqt_nginx proxy;

static void backend_start(struct backend *b, int i)
{
    b->port = nqt_free_port();
    snprintf(b->log, sizeof b->log, "%s/backend-%d.log", tmpdir, i);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char ps[16];
    snprintf(ps, sizeof ps, "%d", b->port);
    char *argv[] = {self_path, "--backend", ps, b->log, NULL};
    assert_int_equal(posix_spawn(&b->pid, self_path, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    char line[48] = {0};
    int rr = nqt_raw_read(fds[0], line, 39, NQT_LONG_MS); /* "ready " + 32 hex + "\n" */
    close(fds[0]);
    if (rr != 0 || strncmp(line, "ready ", 6) != 0)
        fail_msg("backend %d did not get ready (see %s)", i, b->log);
    memcpy(b->id, line + 6, 32);
    b->id[32] = '\0';
}

static void backend_kill(struct backend *b)
{
    if (b->pid > 0) {
        kill(b->pid, SIGKILL);
        waitpid(b->pid, NULL, 0);
        b->pid = 0;
    }
}

static void on_alarm(int sig)
{
    static const char msg[] = "grpc_proxy: watchdog: the test hung\n";
    (void)sig;
    for (int i = 0; i < nbackends; i++)
        if (backends[i].pid > 0)
            kill(backends[i].pid, SIGKILL);
    if (proxy.pid > 0)
        kill(proxy.pid, SIGKILL);
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

/* n backends behind nginx (keepalive: its upstream keepalive; timeout_s:
 * its read/send timeouts, 0 for an hour). */
static void setup_proxy_t(int n, int keepalive, int timeout_s)
{
    alarm(WATCHDOG_S);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nqt-grpcproxy-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    nbackends = n;
    int ports[MAX_BACKENDS];
    for (int i = 0; i < n; i++) {
        backend_start(&backends[i], i);
        ports[i] = backends[i].port;
    }
    nqt_nginx_start(&proxy, ports, n, keepalive, timeout_s);
}

static void setup_proxy(int n, int keepalive)
{
    setup_proxy_t(n, keepalive, 0);
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < nbackends; i++)
        backend_kill(&backends[i]);
    nbackends = 0;
    nqt_nginx_stop(&proxy);
    nqt_remove_dir(tmpdir, "NQT_NGINX_KEEP");
    alarm(0);
    return 0;
}

static void client_open_opts(struct client *cl, nq_options *o)
{
    memset(cl, 0, sizeof *cl);
    cl->c = g_client(o);
    uint8_t id[NQ_ID_SIZE];
    nqt_id_of(cl->c, id);
    nq_id_format(id, cl->id);
}

static void client_open(struct client *cl)
{
    client_open_opts(cl, nqt_tls_client_opts(proxy.port, "ca.pem"));
}

static struct backend *backend_by_id(const char *id)
{
    for (int i = 0; i < nbackends; i++)
        if (strcmp(backends[i].id, id) == 0)
            return &backends[i];
    return NULL;
}

/* Each client puts `count` messages "<client id>-<seq>" in batches and
 * gets every echo back before the next batch: each echo must be its own
 * next message, stamped with its own id, from one and the same backend
 * (its session: set on the first echo when cl->backend is empty). */
static void exchange(struct client *cls, int ncl, long count, int batch)
{
    char buf[128], want[256];
    int64_t deadline = nqt_now_ms() + 150000;
    for (long done = 0; done < count; done += batch) {
        long n = count - done < batch ? count - done : batch;
        for (int i = 0; i < ncl; i++)
            for (long k = 0; k < n; k++) {
                int len = snprintf(buf, sizeof buf, "%s-%ld", cls[i].id, cls[i].sent++);
                nqt_put(cls[i].c, buf, (size_t)len, NULL, 0);
            }
        for (int i = 0; i < ncl; i++)
            for (long k = 0; k < n; k++) {
                int64_t left = deadline - nqt_now_ms();
                nq_msg *m = NULL;
                nq_status st = nq_comm_get(cls[i].c, NULL, 0, left > 0 ? left : 0, &m);
                if (st != NQ_OK)
                    fail_msg("client %d: echo %ld not received: %s (%s)", i, cls[i].got, nq_strerror(st),
                             nq_last_error());
                uint8_t from[NQ_ID_SIZE];
                char fhex[33];
                nq_msg_peer(m, from);
                nq_id_format(from, fhex);
                if (!cls[i].backend[0]) {
                    assert_non_null(backend_by_id(fhex));
                    memcpy(cls[i].backend, fhex, sizeof fhex);
                }
                int wl = snprintf(want, sizeof want, "%s %s-%ld", cls[i].id, cls[i].id, cls[i].got++);
                if (strcmp(fhex, cls[i].backend) != 0 || nq_msg_size(m) != (size_t)wl ||
                    memcmp(nq_msg_data(m), want, (size_t)wl) != 0)
                    fail_msg("client %d: echo %ld from %s is '%.*s', wanted '%s' from %s", i, cls[i].got - 1,
                             fhex, (int)nq_msg_size(m), (const char *)nq_msg_data(m), want, cls[i].backend);
                nq_msg_free(m);
            }
    }
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t r = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (buf)
        buf[r] = '\0';
    return buf;
}

/* How many links (nq-link tokens) of client id the backend's log shows. */
static int links_of(const struct backend *b, const char *id)
{
    char *log = read_all(b->log);
    assert_non_null(log);
    char pat[64];
    snprintf(pat, sizeof pat, "new gRPC peer %s/", id);
    int n = 0;
    for (const char *p = strstr(log, pat); p; p = strstr(p + 1, pat))
        n++;
    free(log);
    return n;
}

/* The upstream addresses nginx sent client id's calls to: all equal to
 * want ("127.0.0.1:port"); returns how many calls it logged. */
static int calls_all_to(const char *id, const char *want)
{
    char *log = nqt_nginx_access_log(&proxy);
    assert_non_null(log);
    int n = 0;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, id, 32) != 0)
            continue;
        char addr[128] = "";
        int status = 0;
        if (sscanf(line + 32, " %127s %d", addr, &status) != 2)
            fail_msg("unexpected access log line: %s", line);
        if (strcmp(addr, want) != 0)
            fail_msg("a call of %s went to %s, not %s (status %d)", id, addr, want, status);
        n++;
    }
    free(log);
    return n;
}

/* The backend of a client: its link there is the only one it had
 * anywhere, and every one of its calls went there through nginx. */
static void assert_one_backend_one_link(const struct client *cl)
{
    struct backend *b = backend_by_id(cl->backend);
    assert_non_null(b);
    for (int i = 0; i < nbackends; i++)
        if (backends[i].pid > 0 && &backends[i] != b && links_of(&backends[i], cl->id) != 0)
            fail_msg("client %s has a link on backend %d too", cl->id, i);
    int links = links_of(b, cl->id);
    if (links != 1)
        fail_msg("client %s: %d links on its backend, wanted 1 (the session did not survive)", cl->id, links);
    char want[32];
    snprintf(want, sizeof want, "127.0.0.1:%d", b->port);
    int calls = calls_all_to(cl->id, want);
    print_message("client %.8s: %d calls, all to %s\n", cl->id, calls, want);
    assert_true(calls > 0);
}

/* ---- tests ------------------------------------------------------------- */

/* Four clients over three backends (so two share one), no upstream
 * keepalive (nginx opens an upstream connection per call): 10,000
 * messages each way per client, in order, apart, on one link each. */
static void test_many_rounds_apart(void **state)
{
    setup_proxy(3, 0);
    struct client cls[MAX_CLIENTS];
    for (int i = 0; i < MAX_CLIENTS; i++)
        client_open(&cls[i]);
    int64_t t0 = nqt_now_ms();
    exchange(cls, MAX_CLIENTS, 10000, 250);
    print_message("10,000 messages each way x %d clients through nginx (TLS): %lld ms\n", MAX_CLIENTS,
                  (long long)(nqt_now_ms() - t0));
    for (int i = 0; i < MAX_CLIENTS; i++) {
        assert_int_equal(cls[i].got, 10000);
        assert_one_backend_one_link(&cls[i]);
    }
    for (int i = 0; i < MAX_CLIENTS; i++)
        g_close_free(cls[i].c, NQ_OK);
}

/* The addresses in a backend's log that carried calls of at least two
 * different clients ("<addr>: new gRPC peer <id>/..." and "<addr>: gRPC
 * peer <id>/... now on this connection"). */
static int shared_connections(const struct backend *b)
{
    char *log = read_all(b->log);
    assert_non_null(log);
    struct { char addr[64]; char id[33]; } seen[512];
    int n = 0, shared = 0;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        char addr[64], id[33];
        /* addr keeps its trailing colon: it is only compared */
        if (sscanf(line, "%63[^ ] new gRPC peer %32[0-9a-f]/", addr, id) != 2 &&
            sscanf(line, "%63[^ ] gRPC peer %32[0-9a-f]/", addr, id) != 2)
            continue;
        int dup = 0;
        for (int i = 0; i < n; i++)
            if (strcmp(seen[i].addr, addr) == 0 && strcmp(seen[i].id, id) != 0)
                dup = 1;
        if (dup)
            shared++;
        if (n < 512) {
            snprintf(seen[n].addr, sizeof seen[n].addr, "%s", addr);
            snprintf(seen[n].id, sizeof seen[n].id, "%s", id);
            n++;
        }
    }
    free(log);
    return shared;
}

/* Upstream keepalive: nginx reuses its upstream connections for calls of
 * any client, so the backend sees several clients on one connection (the
 * case the header exists for: by address they would be one client). Three
 * clients over two backends; rounds until a connection was seen shared. */
static void test_keepalive_shared_connection(void **state)
{
    setup_proxy(2, 16);
    struct client cls[3];
    for (int i = 0; i < 3; i++)
        client_open(&cls[i]);
    int shared = 0;
    int64_t end = nqt_now_ms() + 60000;
    long total = 0;
    while (!shared && nqt_now_ms() < end) {
        exchange(cls, 3, 200, 20);
        total += 200;
        nqt_sleep_ms(100); /* idle polls too */
        for (int i = 0; i < nbackends; i++)
            shared += shared_connections(&backends[i]);
    }
    print_message("%ld messages each way per client; %d shared upstream connection(s) seen\n", total, shared);
    if (!shared)
        fail_msg("no upstream connection carried calls of two clients within 60 s: is keepalive on?");
    for (int i = 0; i < 3; i++)
        assert_one_backend_one_link(&cls[i]);
    for (int i = 0; i < 3; i++)
        g_close_free(cls[i].c, NQ_OK);
}

/* A backend dies (SIGKILL) between exchanges. Its clients' next call
 * fails or reaches another backend (nginx marks the dead one failed and
 * hashes on to the next), which does not know their link: they start a
 * new link with their ini there and go on, with another server id. The
 * other clients do not notice: same backend, same single link. */
static void test_backend_dies(void **state)
{
    setup_proxy(3, 0);
    struct client cls[MAX_CLIENTS];
    for (int i = 0; i < MAX_CLIENTS; i++)
        client_open(&cls[i]);
    exchange(cls, MAX_CLIENTS, 200, 50);
    /* the backend with the most clients dies */
    int best = 0, most = -1;
    for (int b = 0; b < nbackends; b++) {
        int n = 0;
        for (int i = 0; i < MAX_CLIENTS; i++)
            n += strcmp(cls[i].backend, backends[b].id) == 0;
        if (n > most) {
            most = n;
            best = b;
        }
    }
    struct backend *dead = &backends[best];
    char dead_id[33];
    memcpy(dead_id, dead->id, sizeof dead_id);
    print_message("killing backend %d (%d of %d clients)\n", best, most, MAX_CLIENTS);
    int64_t t0 = nqt_now_ms();
    backend_kill(dead);
    /* the moved clients: their next echo comes from another backend */
    struct client moved[MAX_CLIENTS], kept[MAX_CLIENTS];
    int nm = 0, nk = 0;
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (strcmp(cls[i].backend, dead_id) == 0) {
            moved[nm] = cls[i];
            moved[nm].backend[0] = '\0'; /* set by the next echo */
            moved[nm].sent = moved[nm].got = 0;
            nm++;
        } else {
            kept[nk++] = cls[i];
        }
    }
    assert_true(nm > 0);
    exchange(moved, nm, 1, 1);
    print_message("moved clients answered by a new backend %lld ms after the kill\n",
                  (long long)(nqt_now_ms() - t0));
    for (int i = 0; i < nm; i++) {
        assert_string_not_equal(moved[i].backend, dead_id);
        /* the client lets go of the dead server's session */
        uint8_t did[NQ_ID_SIZE];
        assert_int_equal(nq_id_parse(dead_id, did), NQ_OK);
        assert_true(nqt_wait_peer(moved[i].c, did, 0, NQT_LONG_MS));
    }
    /* everyone goes on: the moved on their new backend, the others on
     * their old one, without a second link */
    exchange(moved, nm, 500, 50);
    exchange(kept, nk, 500, 50);
    for (int i = 0; i < nk; i++)
        assert_one_backend_one_link(&kept[i]);
    /* on its new backend a moved client has its new link, and before it
     * at most its old one, refused there (unknown: FAILED_PRECONDITION
     * for an empty poll, or a protocol error for a round with data); the
     * 500 echoes above all came from that one backend */
    for (int i = 0; i < nm; i++) {
        struct backend *b = backend_by_id(moved[i].backend);
        assert_non_null(b);
        int links = links_of(b, moved[i].id);
        print_message("moved client %.8s: %d link(s) on its new backend\n", moved[i].id, links);
        assert_true(links >= 1 && links <= 2);
    }
    for (int i = 0; i < MAX_CLIENTS; i++)
        g_close_free(cls[i].c, NQ_OK);
}

/* A client that does not take its messages for stall_ms while its
 * backend pushes count x size bytes at it: its receive queue fills, its
 * round stalls, and so do nginx's writes to it. Then it takes what comes
 * (until drain_ms pass without a message) and checks that the session
 * goes on (an echo). Returns how many of the pushed messages it got; they
 * must come in order, without duplicates (a gap is what was lost). */
static long stalled_client(int timeout_s, int stall_ms, long count, long size, int drain_ms)
{
    setup_proxy_t(1, 0, timeout_s);
    nq_options *o = nqt_tls_client_opts(proxy.port, "ca.pem");
    assert_int_equal(nq_options_set_queue_limit(o, 256 * 1024), NQ_OK);
    struct client cl;
    client_open_opts(&cl, o);
    char cmd[64];
    int len = snprintf(cmd, sizeof cmd, "push %ld %ld", count, size);
    nqt_put(cl.c, cmd, (size_t)len, NULL, 0);
    nqt_sleep_ms(stall_ms);
    long got = 0, next = 0, first_gap = -1;
    for (;;) {
        nq_msg *m = NULL;
        if (nq_comm_get(cl.c, NULL, 0, next < count ? drain_ms : NQT_SHORT_MS, &m) != NQ_OK)
            break;
        char num[24] = "";
        memcpy(num, nq_msg_data(m), nq_msg_size(m) < sizeof num - 1 ? nq_msg_size(m) : sizeof num - 1);
        long n = strtol(num, NULL, 10);
        if (nq_msg_size(m) != (size_t)size || n < next || n >= count)
            fail_msg("pushed message after %ld: got '%.20s' (%zu bytes)", next, num, nq_msg_size(m));
        nq_msg_free(m);
        if (n > next && first_gap < 0)
            first_gap = next;
        next = n + 1;
        got++;
    }
    print_message("nginx timeouts %d s, client stalled %d ms: %ld of %ld messages of %ld bytes, in order"
                  " (first missing: %ld)\n",
                  timeout_s ? timeout_s : 3600, stall_ms, got, count, size,
                  first_gap >= 0 ? first_gap : next < count ? next : -1);
    exchange(&cl, 1, 10, 10); /* the session goes on */
    g_close_free(cl.c, NQ_OK);
    return got;
}

/* With nginx's timeouts above the stall (the configuration documented in
 * docs/grpc-proxies.md), a round stalled for 4 s on the client's full
 * receive queue goes on afterwards: every message arrives, in order. */
static void test_stalled_round_within_timeouts(void **state)
{
    assert_int_equal(stalled_client(0, 4000, 128, 64 * 1024, 10000), 128);
}

/* Timeouts shorter than the stall: nginx gives up writing to the client
 * (its send_timeout, "client timed out while sending to client") and
 * resets the call; both ends start a new link and the session goes on,
 * but the pushed bytes the server had already handed to gRPC (its puts
 * complete then, as over TCP) and that nginx held are lost: the client
 * gets them with a gap (in every run so far: the first 32, then none). This is what docs/grpc-proxies.md warns about; should
 * nginx stop losing them, the doc is to be revised (the test fails). */
static void test_stalled_round_past_timeouts(void **state)
{
    long got = stalled_client(1, 4000, 128, 64 * 1024, 5000);
    assert_true(got < 128);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--backend") == 0)
        return backend_main(atoi(argv[2]), argv[3]);
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n <= 0)
        return 1;
    self_path[n] = 0;
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);
    if (getenv("NQT_FILTER"))
        cmocka_set_test_filter(getenv("NQT_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_many_rounds_apart, teardown),
        cmocka_unit_test_teardown(test_keepalive_shared_connection, teardown),
        cmocka_unit_test_teardown(test_backend_dies, teardown),
        cmocka_unit_test_teardown(test_stalled_round_within_timeouts, teardown),
        cmocka_unit_test_teardown(test_stalled_round_past_timeouts, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
