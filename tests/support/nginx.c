/* A private nginx as gRPC proxy for a test: see nginx.h. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "nginx.h"
#include "nqtest.h"

static const char *nginx_path(void)
{
    static const char *candidates[] = {"/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx", NULL};
    for (int i = 0; candidates[i]; i++)
        if (access(candidates[i], X_OK) == 0)
            return candidates[i];
    return NULL;
}

/* The one nginx of this process still running, killed at exit: a test
 * that fails outside its teardown leaves no nginx behind. */
static pid_t live;

static void kill_live(void)
{
    if (live > 0) {
        kill(live, SIGKILL);
        waitpid(live, NULL, 0);
        live = 0;
    }
}

/* What matters for net-queue rounds (docs/grpc-proxies.md): a call is a
 * long poll or a long stream, so nginx's read/send timeouts (60 s by
 * default, between two reads or writes) must exceed the longest silent
 * round; the body of a call is a whole round, so no size limit
 * (client_max_body_size 0; nginx's default 1 MiB would refuse bigger
 * rounds with 413); enough HTTP/2 streams per client connection; TLS ends
 * here and the upstream is plain h2c (grpc://). */
static void write_config(nqt_nginx *n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/nginx.conf", n->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    const char *d = n->dir;
    /* one process, in the foreground: the test's child is nginx itself */
    fprintf(f, "daemon off;\nmaster_process off;\npid %s/nginx.pid;\nerror_log %s/error.log info;\n"
               "events { worker_connections 1024; }\n", d, d);
    fprintf(f, "http {\n"
               "  log_format nq '$http_nq_client_id $upstream_addr $status';\n"
               "  access_log %s/access.log nq;\n"
               "  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
               "  fastcgi_temp_path %s/fastcgi;\n  uwsgi_temp_path %s/uwsgi;\n  scgi_temp_path %s/scgi;\n",
            d, d, d, d, d, d);
    /* every call of a client on one backend: its link lives there */
    fprintf(f, "  upstream nq {\n    hash $http_nq_client_id consistent;\n");
    for (int i = 0; i < n->nbackends; i++)
        fprintf(f, "    server 127.0.0.1:%d;\n", n->backends[i]);
    if (n->keepalive)
        fprintf(f, "    keepalive %d;\n", n->keepalive);
    fprintf(f, "  }\n");
    char t[16];
    snprintf(t, sizeof t, n->timeout_s ? "%ds" : "1h", n->timeout_s);
    fprintf(f, "  server {\n"
               "    listen 127.0.0.1:%d ssl http2;\n"
               "    ssl_certificate %s;\n    ssl_certificate_key %s;\n"
               "    client_max_body_size 0;\n"
               "    client_body_timeout %s;\n    send_timeout %s;\n"
               "    http2_max_concurrent_streams 128;\n"
               "    location /grpc/comm {\n"
               "      grpc_pass grpc://nq;\n"
               "      grpc_read_timeout %s;\n      grpc_send_timeout %s;\n"
               "      grpc_socket_keepalive on;\n"
               "    }\n  }\n}\n",
            n->port, nqt_cert("server.pem"), nqt_cert("server.key"), t, t, t, t);
    fclose(f);
}

void nqt_nginx_start(nqt_nginx *n, const int *backends, int nbackends, int keepalive, int timeout_s)
{
    memset(n, 0, sizeof *n);
    const char *exe = nginx_path();
    if (!exe)
        fail_msg("MISSING PREREQUISITE: nginx is not installed (apt-get install nginx; ./scripts/setup.sh installs it)");
    assert_true(nbackends > 0 && nbackends <= NQT_NGINX_MAX_BACKENDS);
    assert_true(live == 0); /* one at a time */
    memcpy(n->backends, backends, sizeof *backends * (size_t)nbackends);
    n->nbackends = nbackends;
    n->keepalive = keepalive;
    n->timeout_s = timeout_s;
    snprintf(n->dir, sizeof n->dir, "/tmp/nqt-nginx-XXXXXX");
    assert_non_null(mkdtemp(n->dir));
    n->port = nqt_free_port();
    write_config(n);
    char conf[256], err[256], out[256];
    snprintf(conf, sizeof conf, "%s/nginx.conf", n->dir);
    snprintf(err, sizeof err, "%s/error.log", n->dir);
    snprintf(out, sizeof out, "%s/stderr.log", n->dir);
    static int registered;
    if (!registered && atexit(kill_live) == 0)
        registered = 1;
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* and if the test process dies (crash, ctest timeout): SIGKILL */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(exe, "nginx", "-p", n->dir, "-c", conf, "-e", err, (char *)NULL);
        _exit(127);
    }
    n->pid = live = pid;
    for (int i = 0; i < 400; i++) {
        if (nqt_port_open(n->port))
            return;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            n->pid = live = 0;
            fail_msg("nginx exited at start (see %s and %s)", err, out);
        }
        nqt_sleep_ms(25);
    }
    fail_msg("nginx did not listen on %d within 10 s (see %s)", n->port, err);
}

char *nqt_nginx_access_log(nqt_nginx *n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/access.log", n->dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

void nqt_nginx_stop(nqt_nginx *n)
{
    if (n->pid > 0) {
        /* fast shutdown: clients' long polls would hold a graceful one */
        kill(n->pid, SIGTERM);
        int64_t end = nqt_now_ms() + 5000;
        int st;
        while (waitpid(n->pid, &st, WNOHANG) == 0) {
            if (nqt_now_ms() > end) {
                kill(n->pid, SIGKILL);
                waitpid(n->pid, &st, 0);
                break;
            }
            nqt_sleep_ms(10);
        }
        n->pid = live = 0;
    }
    nqt_remove_dir(n->dir, "NQT_NGINX_KEEP");
}
