/* A private RabbitMQ for a test: see rabbitmq.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "nqtest.h"
#include "rabbitmq.h"

/* Debian's: /usr/sbin/rabbitmq-server would switch to the rabbitmq user,
 * which cannot read our folder; the script it wraps runs as we are. */
#define RABBIT_SERVER "/usr/lib/rabbitmq/bin/rabbitmq-server"
#define RABBIT_START_MS 60000

static const char *epmd_path(void)
{
    static const char *candidates[] = {"/usr/bin/epmd", "/usr/lib/erlang/bin/epmd", NULL};
    for (int i = 0; candidates[i]; i++)
        if (access(candidates[i], X_OK) == 0)
            return candidates[i];
    return NULL;
}

int nqt_rabbit_installed(void)
{
    return access(RABBIT_SERVER, X_OK) == 0 && epmd_path() != NULL;
}

/* One connect attempt, no retry: is something listening on port? */
static int listening(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Child side of a fork: die with the test, output into dir/log. */
static void child_prepare(const char *dir, const char *log, pid_t parent, int sig)
{
    prctl(PR_SET_PDEATHSIG, sig);
    if (getppid() != parent)
        _exit(127);
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, log);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    int in = open("/dev/null", O_RDONLY);
    if (in >= 0)
        dup2(in, 0);
}

static void start_epmd(nqt_rabbit *r)
{
    char port[16];
    snprintf(port, sizeof port, "%d", r->epmd_port);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_prepare(r->dir, "epmd.log", parent, SIGKILL);
        /* in the foreground (no -daemon): it is ours to stop */
        execl(epmd_path(), "epmd", "-port", port, "-address", "127.0.0.1", (char *)NULL);
        _exit(127);
    }
    r->epmd_pid = pid;
    for (int i = 0; i < 400; i++) {
        if (listening(r->epmd_port))
            return;
        nqt_sleep_ms(10);
    }
    fail_msg("epmd did not listen on %d (see %s/epmd.log)", r->epmd_port, r->dir);
}

static void spawn_rabbit(nqt_rabbit *r)
{
    char v[12][300];
    snprintf(v[0], sizeof v[0], "HOME=%s", r->dir); /* the Erlang cookie */
    snprintf(v[1], sizeof v[1], "RABBITMQ_NODENAME=%s", r->node);
    snprintf(v[2], sizeof v[2], "RABBITMQ_NODE_PORT=%d", r->amqp_port);
    snprintf(v[3], sizeof v[3], "RABBITMQ_DIST_PORT=%d", r->dist_port);
    snprintf(v[4], sizeof v[4], "ERL_EPMD_PORT=%d", r->epmd_port);
    snprintf(v[5], sizeof v[5], "RABBITMQ_MNESIA_BASE=%s/mnesia", r->dir);
    snprintf(v[6], sizeof v[6], "RABBITMQ_LOG_BASE=%s/log", r->dir);
    snprintf(v[7], sizeof v[7], "RABBITMQ_CONFIG_FILE=%s/rabbitmq.conf", r->dir);
    snprintf(v[8], sizeof v[8], "RABBITMQ_ENABLED_PLUGINS_FILE=%s/enabled_plugins", r->dir);
    snprintf(v[9], sizeof v[9], "RABBITMQ_PID_FILE=%s/rabbit.pid", r->dir);
    snprintf(v[10], sizeof v[10], "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1");
    snprintf(v[11], sizeof v[11], "RABBITMQ_LOGS=-"); /* to stdout: our log file */
    pid_t parent = getpid();
    int64_t t0 = nqt_now_ms();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the script runs the Erlang VM as its child: a group of their
         * own, so that a kill reaches both */
        setpgid(0, 0);
        child_prepare(r->dir, "rabbit.log", parent, SIGTERM);
        for (int i = 0; i < 12; i++)
            putenv(v[i]);
        execl(RABBIT_SERVER, "rabbitmq-server", (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    r->pid = pid;
    while (nqt_now_ms() - t0 < RABBIT_START_MS) {
        if (listening(r->mqtt_port)) {
            r->start_ms = nqt_now_ms() - t0;
            return;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            r->pid = 0;
            fail_msg("rabbitmq-server exited at start (see %s/rabbit.log)", r->dir);
        }
        nqt_sleep_ms(100);
    }
    fail_msg("RabbitMQ's MQTT listener was not up on %d after %d s (see %s/rabbit.log)",
             r->mqtt_port, RABBIT_START_MS / 1000, r->dir);
}

static int distinct_port(const int *taken, int n)
{
    for (;;) {
        int p = nqt_free_port(), clash = 0;
        for (int i = 0; i < n; i++)
            clash |= taken[i] == p;
        if (!clash)
            return p;
    }
}

void nqt_rabbit_start(nqt_rabbit *r)
{
    const char *extra = r->extra;
    memset(r, 0, sizeof *r);
    if (!nqt_rabbit_installed())
        fail_msg("MISSING PREREQUISITE: rabbitmq-server (with epmd) is not installed "
                 "(apt-get install rabbitmq-server; ./scripts/setup.sh installs it)");
    snprintf(r->dir, sizeof r->dir, "/tmp/nqt-rabbit-XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    int ports[4] = {0};
    for (int i = 0; i < 4; i++)
        ports[i] = distinct_port(ports, i);
    r->mqtt_port = ports[0];
    r->amqp_port = ports[1];
    r->dist_port = ports[2];
    r->epmd_port = ports[3];
    static int seq;
    snprintf(r->node, sizeof r->node, "nqt%d-%d@localhost", (int)getpid(), ++seq);
    char conf[1024];
    snprintf(conf, sizeof conf,
             "listeners.tcp.default = 127.0.0.1:%d\n"
             "mqtt.listeners.tcp.default = 127.0.0.1:%d\n"
             "mqtt.allow_anonymous = true\n"
             "%s\n",
             r->amqp_port, r->mqtt_port, extra ? extra : "");
    write_text(r->dir, "rabbitmq.conf", conf);
    write_text(r->dir, "enabled_plugins", "[rabbitmq_mqtt].\n");
    start_epmd(r);
    spawn_rabbit(r);
}

static void reap(nqt_rabbit *r, int sig)
{
    if (r->pid <= 0)
        return;
    if (sig == SIGKILL)
        kill(-r->pid, SIGKILL);
    else
        kill(r->pid, sig); /* the script stops the VM cleanly and waits */
    /* bounded: a clean stop that hangs is cut */
    for (int i = 0; i < 300; i++) {
        if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
            kill(-r->pid, SIGKILL); /* anything of the group left */
            r->pid = 0;
            return;
        }
        nqt_sleep_ms(100);
    }
    kill(-r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
}

void nqt_rabbit_stop(nqt_rabbit *r)
{
    reap(r, SIGTERM);
}

void nqt_rabbit_kill(nqt_rabbit *r)
{
    reap(r, SIGKILL);
}

void nqt_rabbit_restart(nqt_rabbit *r)
{
    nqt_rabbit_stop(r);
    spawn_rabbit(r);
}

void nqt_rabbit_destroy(nqt_rabbit *r)
{
    nqt_rabbit_stop(r);
    if (r->epmd_pid > 0) {
        kill(r->epmd_pid, SIGTERM);
        waitpid(r->epmd_pid, NULL, 0);
        r->epmd_pid = 0;
    }
    nqt_remove_dir(r->dir, "NQT_RABBIT_KEEP");
}
