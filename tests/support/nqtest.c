/* Shared helpers for the integration tests; see nqtest.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "nqtest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <signal.h>

/* ---- time ------------------------------------------------------------- */

int64_t nqt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void nqt_sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void nqt_freeze(pid_t pid)
{
    assert_int_equal(kill(pid, SIGSTOP), 0);
    int st = 0;
    pid_t r;
    while ((r = waitpid(pid, &st, WUNTRACED)) < 0 && errno == EINTR) {
    }
    assert_int_equal(r, pid);
    assert_true(WIFSTOPPED(st));
}

/* ---- ports, certificates, options ------------------------------------- */

int nqt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

const char *nqt_cert(const char *name)
{
    static char paths[8][1024];
    static int next;
    const char *dir = getenv("NQ_TEST_CERTS");
    if (!dir || !*dir) {
        fail_msg("MISSING PREREQUISITE: NQ_TEST_CERTS is not set (ctest sets it; make them with tests/support/make-certs.sh DIR)");
    }
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    if (access(p, R_OK) != 0) {
        fail_msg("MISSING PREREQUISITE: test certificate %s (ctest's make_certs fixture, or tests/support/make-certs.sh)", p);
    }
    return p;
}

nq_options *nqt_opts(int port)
{
    nq_options *o = NULL;
    assert_int_equal(nq_options_new(&o), NQ_OK);
    assert_non_null(o);
    assert_int_equal(nq_options_set_host(o, "127.0.0.1"), NQ_OK);
    assert_int_equal(nq_options_set_port(o, port), NQ_OK);
    return o;
}

nq_options *nqt_tls_server_opts(int port, const char *cert, const char *key)
{
    nq_options *o = nqt_opts(port);
    assert_int_equal(nq_options_set_tls(o, 1), NQ_OK);
    assert_int_equal(nq_options_set_tls_cert(o, nqt_cert(cert)), NQ_OK);
    assert_int_equal(nq_options_set_tls_key(o, nqt_cert(key)), NQ_OK);
    return o;
}

nq_options *nqt_tls_client_opts(int port, const char *ca)
{
    nq_options *o = nqt_opts(port);
    assert_int_equal(nq_options_set_tls(o, 1), NQ_OK);
    if (ca)
        assert_int_equal(nq_options_set_tls_ca(o, nqt_cert(ca)), NQ_OK);
    return o;
}

static nq_comm *make(nq_options *opts, nq_purpose purpose)
{
    /* NQT_WORKERS=N runs every test server on N I/O threads (the tcp
     * suites run again so under the label scale) */
    const char *workers = getenv("NQT_WORKERS");
    if (purpose == NQ_SERVER && workers && atoi(workers) > 1)
        assert_int_equal(nq_options_set_workers(opts, atoi(workers)), NQ_OK);
    nq_comm *c = NULL;
    nq_status st = nq_comm_new(&c, NQ_TCP, purpose, opts);
    if (st != NQ_OK)
        print_message("nq_comm_new(%s): %s: %s\n", purpose == NQ_SERVER ? "server" : "client",
                      nq_strerror(st), nq_last_error());
    nq_options_free(opts);
    assert_int_equal(st, NQ_OK);
    assert_non_null(c);
    return c;
}

nq_comm *nqt_server(nq_options *opts) { return make(opts, NQ_SERVER); }
nq_comm *nqt_client(nq_options *opts) { return make(opts, NQ_CLIENT); }

nq_comm *nqt_plain_server(int *port)
{
    nq_comm *s = nqt_server(nqt_opts(0));
    if (port)
        *port = nqt_port_of(s);
    return s;
}

nq_comm *nqt_plain_client(int port) { return nqt_client(nqt_opts(port)); }

int nqt_port_of(nq_comm *server)
{
    int port = 0;
    assert_int_equal(nq_comm_port(server, &port), NQ_OK);
    assert_true(port > 0 && port < 65536);
    return port;
}

void nqt_id_of(nq_comm *comm, uint8_t id[NQ_ID_SIZE])
{
    assert_int_equal(nq_comm_id(comm, id), NQ_OK);
}

/* ---- log capture ------------------------------------------------------ */

void nqt_log_init(nqt_log *log)
{
    memset(log, 0, sizeof *log);
    pthread_mutex_init(&log->mu, NULL);
}

static void log_sink(void *user, nq_log_level level, const char *msg)
{
    nqt_log *log = user;
    pthread_mutex_lock(&log->mu);
    if (level == NQ_LOG_ERROR)
        log->nerror++;
    else if (level == NQ_LOG_WARN)
        log->nwarn++;
    else
        log->nother++;
    size_t used = strlen(log->text);
    if (used + 2 < sizeof log->text)
        snprintf(log->text + used, sizeof log->text - used, "  [%d] %s\n", (int)level,
                 msg ? msg : "(null)");
    pthread_mutex_unlock(&log->mu);
}

void nqt_log_attach(nq_options *opts, nqt_log *log)
{
    assert_int_equal(nq_options_set_log(opts, log_sink, log, NQ_LOG_WARN), NQ_OK);
}

int nqt_log_bad(nqt_log *log)
{
    pthread_mutex_lock(&log->mu);
    int n = log->nerror + log->nwarn;
    pthread_mutex_unlock(&log->mu);
    return n;
}

int nqt_log_wait_bad(nqt_log *log, int n, int64_t timeout_ms)
{
    int64_t end = nqt_now_ms() + timeout_ms;
    int got;
    while ((got = nqt_log_bad(log)) < n && nqt_now_ms() < end)
        nqt_sleep_ms(5);
    return got;
}

void nqt_log_print(nqt_log *log, const char *what)
{
    pthread_mutex_lock(&log->mu);
    print_message("%s log (%d errors, %d warnings):\n%s", what, log->nerror, log->nwarn,
                  log->text[0] ? log->text : "  (nothing)\n");
    pthread_mutex_unlock(&log->mu);
}

int nqt_log_has(nqt_log *log, const char *needle)
{
    pthread_mutex_lock(&log->mu);
    int has = strstr(log->text, needle) != NULL;
    pthread_mutex_unlock(&log->mu);
    return has;
}

void nqt_log_destroy(nqt_log *log) { pthread_mutex_destroy(&log->mu); }

/* ---- waits and messages ----------------------------------------------- */

size_t nqt_npeers(nq_comm *comm)
{
    size_t count = 0;
    assert_int_equal(nq_comm_peers(comm, NULL, 0, &count), NQ_OK);
    return count;
}

size_t nqt_wait_npeers(nq_comm *comm, size_t n, int64_t timeout_ms)
{
    int64_t end = nqt_now_ms() + timeout_ms;
    size_t got;
    while ((got = nqt_npeers(comm)) != n && nqt_now_ms() < end)
        nqt_sleep_ms(5);
    return got;
}

static int has_peer(nq_comm *comm, const uint8_t *id)
{
    size_t count = 0, cap = 0;
    uint8_t *ids = NULL;
    for (;;) {
        assert_int_equal(nq_comm_peers(comm, ids, cap, &count), NQ_OK);
        if (count <= cap)
            break;
        cap = count + 8;
        ids = realloc(ids, cap * NQ_ID_SIZE);
        assert_non_null(ids);
    }
    int found = 0;
    for (size_t i = 0; i < count; i++)
        if (memcmp(ids + i * NQ_ID_SIZE, id, NQ_ID_SIZE) == 0)
            found = 1;
    free(ids);
    return found;
}

int nqt_wait_peer(nq_comm *comm, const uint8_t *id, int live, int64_t timeout_ms)
{
    int64_t end = nqt_now_ms() + timeout_ms;
    int got;
    while ((got = has_peer(comm, id)) != live && nqt_now_ms() < end)
        nqt_sleep_ms(5);
    return got == live;
}

void nqt_put(nq_comm *comm, const void *data, size_t size, const uint8_t *peers, size_t npeers)
{
    nq_status st = nq_comm_put(comm, data, size, peers, npeers, NULL, NULL);
    if (st != NQ_OK)
        print_message("nq_comm_put: %s: %s\n", nq_strerror(st), nq_last_error());
    assert_int_equal(st, NQ_OK);
}

void nqt_put_str(nq_comm *comm, const char *s, const uint8_t *peers, size_t npeers)
{
    nqt_put(comm, s, strlen(s), peers, npeers);
}

void nqt_expect(nq_comm *comm, const void *data, size_t size, const uint8_t *from)
{
    nq_msg *m = NULL;
    nq_status st = nq_comm_get(comm, NULL, 0, NQT_LONG_MS, &m);
    if (st != NQ_OK)
        print_message("nq_comm_get: %s: %s\n", nq_strerror(st), nq_last_error());
    assert_int_equal(st, NQ_OK);
    assert_non_null(m);
    assert_int_equal(nq_msg_size(m), size);
    if (size)
        assert_memory_equal(nq_msg_data(m), data, size);
    if (from) {
        uint8_t peer[NQ_ID_SIZE];
        assert_int_equal(nq_msg_peer(m, peer), NQ_OK);
        assert_memory_equal(peer, from, NQ_ID_SIZE);
    }
    nq_msg_free(m);
}

void nqt_expect_str(nq_comm *comm, const char *s, const uint8_t *from)
{
    nqt_expect(comm, s, strlen(s), from);
}

void nqt_expect_none(nq_comm *comm, int64_t timeout_ms)
{
    nq_msg *m = NULL;
    nq_status st = nq_comm_get(comm, NULL, 0, timeout_ms, &m);
    if (st == NQ_OK) {
        print_message("unexpected message of %zu bytes\n", nq_msg_size(m));
        nq_msg_free(m);
    }
    assert_int_equal(st, NQ_ETIMEDOUT);
}

void nqt_round_trip(nq_comm *server, nq_comm *client, const char *text)
{
    uint8_t cid[NQ_ID_SIZE], sid[NQ_ID_SIZE];
    nqt_id_of(client, cid);
    nqt_id_of(server, sid);
    nqt_put_str(client, text, NULL, 0);
    nqt_expect_str(server, text, cid);
    size_t n = strlen(text);
    char *back = malloc(n + 6);
    assert_non_null(back);
    memcpy(back, "echo:", 5);
    memcpy(back + 5, text, n + 1);
    nqt_put_str(server, back, cid, 1);
    nqt_expect_str(client, back, sid);
    free(back);
}

void nqt_fill(void *buf, size_t size, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
    uint8_t *p = buf;
    size_t i = 0;
    while (i + 8 <= size) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        memcpy(p + i, &x, 8);
        i += 8;
    }
    while (i < size) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        p[i++] = (uint8_t)x;
    }
}

/* ---- raw scripted peer ------------------------------------------------ */

void nqt_header(uint8_t out[8], uint64_t len)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(len & 0xff);
        len >>= 8;
    }
}

uint64_t nqt_get_be64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

int nqt_raw_connect(int port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    int64_t end = nqt_now_ms() + 5000;
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return fd;
        }
        close(fd);
        if (nqt_now_ms() >= end)
            return -1;
        nqt_sleep_ms(20);
    }
}

int nqt_raw_listen(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

int nqt_raw_accept(int lfd, int64_t timeout_ms)
{
    struct pollfd p = { lfd, POLLIN, 0 };
    int r;
    do {
        r = poll(&p, 1, (int)timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r <= 0)
        return -1;
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

int nqt_raw_send(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int nqt_raw_send_steps(int fd, const void *buf, size_t len, size_t step, int pause_ms)
{
    const uint8_t *p = buf;
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        if (nqt_raw_send(fd, p + off, n) != 0)
            return -1;
        if (pause_ms > 0)
            nqt_sleep_ms(pause_ms);
    }
    return 0;
}

int nqt_raw_send_cuts(int fd, const void *buf, size_t len, const size_t *cuts, size_t ncuts,
                      int pause_ms)
{
    const uint8_t *p = buf;
    size_t from = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        if (to > len)
            to = len;
        if (to > from) {
            if (nqt_raw_send(fd, p + from, to - from) != 0)
                return -1;
            from = to;
            if (pause_ms > 0 && i < ncuts)
                nqt_sleep_ms(pause_ms);
        }
    }
    return 0;
}

int nqt_raw_send_frame(int fd, const void *payload, uint64_t len)
{
    uint8_t h[8];
    nqt_header(h, len);
    if (nqt_raw_send(fd, h, 8) != 0)
        return -1;
    return len ? nqt_raw_send(fd, payload, (size_t)len) : 0;
}

int nqt_raw_read(int fd, void *buf, size_t len, int64_t timeout_ms)
{
    uint8_t *p = buf;
    int64_t end = nqt_now_ms() + timeout_ms;
    while (len) {
        int64_t left = end - nqt_now_ms();
        if (left <= 0)
            return -2;
        struct pollfd pf = { fd, POLLIN, 0 };
        int r = poll(&pf, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return -2;
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int nqt_raw_read_frame(int fd, uint8_t **payload, uint64_t *len, uint64_t max, int64_t timeout_ms)
{
    uint8_t h[8];
    int64_t end = nqt_now_ms() + timeout_ms;
    *payload = NULL;
    *len = 0;
    int r = nqt_raw_read(fd, h, 8, timeout_ms);
    if (r != 0)
        return r;
    uint64_t n = nqt_get_be64(h);
    *len = n;
    if (n > max)
        return -3;
    uint8_t *buf = malloc(n ? (size_t)n : 1);
    if (!buf)
        return -1;
    int64_t left = end - nqt_now_ms();
    r = nqt_raw_read(fd, buf, (size_t)n, left > 0 ? left : 1);
    if (r != 0) {
        free(buf);
        return r;
    }
    *payload = buf;
    return 0;
}

int nqt_raw_wait_eof(int fd, int64_t timeout_ms, size_t *nbytes)
{
    uint8_t buf[65536];
    int64_t end = nqt_now_ms() + timeout_ms;
    size_t total = 0;
    for (;;) {
        int64_t left = end - nqt_now_ms();
        if (left <= 0)
            break;
        struct pollfd pf = { fd, POLLIN, 0 };
        int r = poll(&pf, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            break;
        if (r < 0) {
            if (nbytes)
                *nbytes = total;
            return 0;
        }
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (nbytes)
                *nbytes = total;
            return 0;
        }
        total += (size_t)n;
    }
    if (nbytes)
        *nbytes = total;
    return -2;
}

void nqt_raw_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

void nqt_raw_abort(int fd)
{
    if (fd < 0)
        return;
    struct linger lg = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

long nqt_raise_nofile(long n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if ((long)rl.rlim_cur < n) {
        rlim_t want = (rlim_t)n;
        if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
            want = rl.rlim_max;
        rl.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}

int nqt_port_open(int port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

void nqt_remove_dir(char *dir, const char *keep_env)
{
    if (!dir[0])
        return;
    if (keep_env && getenv(keep_env)) {
        fprintf(stderr, "folder kept (%s): %s\n", keep_env, dir);
    } else {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", dir);
    }
    dir[0] = '\0';
}
