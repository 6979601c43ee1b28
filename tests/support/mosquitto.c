/* A private mosquitto for a test: see mosquitto.h. */
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
#include <MQTTAsync.h>

#include "mosquitto.h"
#include "nqtest.h"

static const char *mosquitto_path(void)
{
    static const char *candidates[] = {"/usr/sbin/mosquitto", "/usr/bin/mosquitto",
                                       "/usr/local/sbin/mosquitto", NULL};
    for (int i = 0; candidates[i]; i++)
        if (access(candidates[i], X_OK) == 0)
            return candidates[i];
    return NULL;
}

/* Brokers still running, killed at exit: a test that fails outside a
 * fixture's teardown (or calls exit) leaves no mosquitto behind. */
#define MAX_LIVE 16
static pid_t live[MAX_LIVE];

static void kill_live(void)
{
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live[i] > 0) {
            kill(live[i], SIGTERM);
            waitpid(live[i], NULL, 0);
            live[i] = 0;
        }
    }
}

static void live_add(pid_t pid)
{
    static int registered;
    if (!registered && atexit(kill_live) == 0)
        registered = 1;
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live[i] <= 0) {
            live[i] = pid;
            return;
        }
    }
}

static void live_remove(pid_t pid)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i] == pid)
            live[i] = 0;
}

static void write_config(nqt_broker *b, int tls)
{
    char path[256];
    snprintf(path, sizeof path, "%s/mosquitto.conf", b->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* as root, mosquitto would switch to its own user, which cannot read
     * our private folder and certificates */
    if (geteuid() == 0)
        fprintf(f, "user root\n");
    fprintf(f, "persistence true\npersistence_location %s/\n", b->dir);
    /* NQT_MOSQUITTO_DEBUG=1: every packet in the log, folder kept at the end */
    if (getenv("NQT_MOSQUITTO_DEBUG"))
        fprintf(f, "log_type all\n");
    /* enough room for a long QoS 1/2 stream to a client that is away */
    fprintf(f, "max_queued_messages 100000\nmax_inflight_messages 0\n");
    if (b->user[0]) {
        fprintf(f, "allow_anonymous false\npassword_file %s/passwd\n", b->dir);
    } else {
        fprintf(f, "allow_anonymous true\n");
    }
    fprintf(f, "listener %d 127.0.0.1\n", b->port);
    if (tls) {
        fprintf(f, "listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n", b->tls_port,
                nqt_cert("ca.pem"), nqt_cert("server.pem"), nqt_cert("server.key"));
    }
    fclose(f);
}

static int port_open(int port)
{
    int fd = nqt_raw_connect(port);
    if (fd < 0)
        return 0;
    nqt_raw_close(fd);
    return 1;
}

static void spawn(nqt_broker *b)
{
    char conf[256], log[256];
    snprintf(conf, sizeof conf, "%s/mosquitto.conf", b->dir);
    snprintf(log, sizeof log, "%s/mosquitto.log", b->dir);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* and if the test process dies (crash, ctest timeout): SIGTERM */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) /* it died before prctl */
            _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(mosquitto_path(), "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }
    b->pid = pid;
    live_add(pid);
    for (int i = 0; i < 200; i++) {
        if (port_open(b->port) && (!b->tls_port || port_open(b->tls_port)))
            return;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            live_remove(pid);
            b->pid = 0;
            fail_msg("mosquitto exited at start (see %s)", log);
        }
        nqt_sleep_ms(25);
    }
    fail_msg("mosquitto did not start listening on %d", b->port);
}

void nqt_broker_start(nqt_broker *b, int tls, int auth)
{
    memset(b, 0, sizeof *b);
    if (!mosquitto_path())
        skip();
    snprintf(b->dir, sizeof b->dir, "/tmp/nqt-mosquitto-XXXXXX");
    assert_non_null(mkdtemp(b->dir));
    b->port = nqt_free_port();
    if (tls)
        do
            b->tls_port = nqt_free_port();
        while (b->tls_port == b->port);
    if (auth) {
        snprintf(b->user, sizeof b->user, "nqtest");
        snprintf(b->password, sizeof b->password, "s3cret-%d", (int)getpid());
        char cmd[512];
        snprintf(cmd, sizeof cmd, "mosquitto_passwd -b -c %s/passwd %s %s >/dev/null 2>&1",
                 b->dir, b->user, b->password);
        if (system(cmd) != 0)
            skip();
    }
    write_config(b, tls);
    spawn(b);
}

void nqt_broker_stop(nqt_broker *b)
{
    if (b->pid <= 0)
        return;
    kill(b->pid, SIGTERM);
    int st;
    waitpid(b->pid, &st, 0);
    live_remove(b->pid);
    b->pid = 0;
}

void nqt_broker_restart(nqt_broker *b)
{
    nqt_broker_stop(b);
    spawn(b);
}

void nqt_broker_destroy(nqt_broker *b)
{
    nqt_broker_stop(b);
    if (b->dir[0] && getenv("NQT_MOSQUITTO_DEBUG")) {
        fprintf(stderr, "mosquitto folder kept: %s\n", b->dir);
        b->dir[0] = 0;
    }
    if (b->dir[0]) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", b->dir);
        b->dir[0] = 0;
    }
}

int nqt_mqtt_publish_raw(int port, const char *topic, const void *data, size_t len, int retained)
{
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", port);
    MQTTAsync h;
    if (MQTTAsync_create(&h, uri, "nqt-raw-publisher", MQTTCLIENT_PERSISTENCE_NONE, NULL) != 0)
        return -1;
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    co.cleansession = 1;
    int rc = MQTTAsync_connect(h, &co);
    for (int i = 0; rc == 0 && i < 400 && !MQTTAsync_isConnected(h); i++)
        nqt_sleep_ms(10);
    if (rc != 0 || !MQTTAsync_isConnected(h)) {
        MQTTAsync_destroy(&h);
        return -1;
    }
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    rc = MQTTAsync_send(h, topic, (int)len, data, 1, retained, &ro);
    if (rc == 0)
        rc = MQTTAsync_waitForCompletion(h, ro.token, 5000);
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    MQTTAsync_disconnect(h, &d);
    nqt_sleep_ms(50);
    MQTTAsync_destroy(&h);
    return rc == 0 ? 0 : -1;
}
