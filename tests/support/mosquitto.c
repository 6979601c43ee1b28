/* A private mosquitto for a test: see mosquitto.h. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdatomic.h>
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

static void write_config(nqt_broker *b)
{
    const nqt_broker_cfg *cfg = &b->cfg;
    char path[256];
    snprintf(path, sizeof path, "%s/mosquitto.conf", b->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* as root, mosquitto would switch to its own user, which cannot read
     * our private folder and certificates */
    if (geteuid() == 0)
        fprintf(f, "user root\n");
    if (cfg->no_persistence)
        fprintf(f, "persistence false\n");
    else
        fprintf(f, "persistence true\npersistence_location %s/\n", b->dir);
    /* NQT_MOSQUITTO_DEBUG=1: every packet in the log, folder kept at the end */
    if (getenv("NQT_MOSQUITTO_DEBUG"))
        fprintf(f, "log_type all\n");
    /* enough room for a long QoS 1/2 stream to a client that is away */
    /* as docs/mqtt.md advises: QoS 1/2 acknowledgements must not hold
     * the next publish in the broker's Nagle */
    fprintf(f, "max_queued_messages 100000\nmax_inflight_messages 0\nset_tcp_nodelay true\n");
    if (b->user[0] || cfg->users) {
        fprintf(f, "allow_anonymous false\npassword_file %s/passwd\n", b->dir);
    } else {
        fprintf(f, "allow_anonymous true\n");
    }
    if (cfg->acl)
        fprintf(f, "acl_file %s/acl\n", b->dir);
    if (cfg->extra)
        fprintf(f, "%s\n", cfg->extra);
    fprintf(f, "listener %d 127.0.0.1\n", b->port);
    if (cfg->tls) {
        fprintf(f, "listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n", b->tls_port,
                nqt_cert("ca.pem"), nqt_cert("server.pem"), nqt_cert("server.key"));
        if (cfg->require_cert)
            fprintf(f, "require_certificate true\n");
    }
    if (cfg->bridges)
        fprintf(f, "%s\n", cfg->bridges);
    fclose(f);
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
        if (nqt_port_open(b->port) && (!b->tls_port || nqt_port_open(b->tls_port)))
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

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

void nqt_broker_start_cfg(nqt_broker *b, const nqt_broker_cfg *cfg)
{
    memset(b, 0, sizeof *b);
    if (!mosquitto_path())
        fail_msg("MISSING PREREQUISITE: mosquitto is not installed (apt-get install mosquitto; ./scripts/setup.sh installs it)");
    b->cfg = *cfg;
    b->cfg.users = b->cfg.acl = NULL; /* written to files below, not kept */
    snprintf(b->dir, sizeof b->dir, "/tmp/nqt-mosquitto-XXXXXX");
    assert_non_null(mkdtemp(b->dir));
    b->port = cfg->port ? cfg->port : nqt_free_port();
    if (cfg->tls)
        do
            b->tls_port = nqt_free_port();
        while (b->tls_port == b->port);
    if (cfg->auth) {
        snprintf(b->user, sizeof b->user, "nqtest");
        snprintf(b->password, sizeof b->password, "s3cret-%d", (int)getpid());
    }
    if (cfg->auth || cfg->users) {
        nqt_broker_set_users(b, cfg->users ? cfg->users : "");
        b->cfg.users = "";
    }
    if (cfg->acl) {
        write_file(b->dir, "acl", cfg->acl);
        b->cfg.acl = "";
    }
    write_config(b);
    b->cfg.extra = b->cfg.bridges = NULL; /* the caller's text: in the config now, not kept */
    spawn(b);
}

void nqt_broker_set_users(nqt_broker *b, const char *users)
{
    /* plain "user:password" lines, hashed in place by mosquitto_passwd -U */
    char text[4096] = "";
    if (b->user[0])
        snprintf(text, sizeof text, "%s:%s\n", b->user, b->password);
    snprintf(text + strlen(text), sizeof text - strlen(text), "%s", users);
    write_file(b->dir, "passwd", text);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mosquitto_passwd -U %s/passwd >/dev/null 2>&1", b->dir);
    assert_int_equal(system(cmd), 0);
    if (b->pid > 0)
        kill(b->pid, SIGHUP);
}

void nqt_broker_start(nqt_broker *b, int tls, int auth)
{
    nqt_broker_cfg cfg = {.tls = tls, .auth = auth};
    nqt_broker_start_cfg(b, &cfg);
}

char *nqt_broker_log(nqt_broker *b)
{
    char path[256];
    snprintf(path, sizeof path, "%s/mosquitto.log", b->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 4096 > cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    if (buf)
        buf[n] = 0;
    return buf;
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

void nqt_broker_kill(nqt_broker *b)
{
    if (b->pid <= 0)
        return;
    kill(b->pid, SIGKILL);
    waitpid(b->pid, NULL, 0);
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
    nqt_remove_dir(b->dir, "NQT_MOSQUITTO_DEBUG");
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

/* ---- a raw client ---- */

struct nqt_mqtt {
    MQTTAsync h;
    atomic_int connected, failed, received, sub_done, sub_qos;
};

static void raw_on_connected(void *ctx, MQTTAsync_successData *r)
{
    struct nqt_mqtt *m = ctx;
    atomic_store(&m->connected, 1);
}

static void raw_on_connect_failed(void *ctx, MQTTAsync_failureData *r)
{
    struct nqt_mqtt *m = ctx;
    atomic_store(&m->failed, 1);
}

static void raw_on_lost(void *ctx, char *cause)
{
    struct nqt_mqtt *m = ctx;
    atomic_store(&m->connected, 0);
    if (cause)
        MQTTAsync_free(cause);
}

static int raw_on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
    struct nqt_mqtt *m = ctx;
    atomic_fetch_add(&m->received, 1);
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

static void raw_on_subscribed(void *ctx, MQTTAsync_successData *r)
{
    struct nqt_mqtt *m = ctx;
    atomic_store(&m->sub_qos, r ? r->alt.qos : -1);
    atomic_store(&m->sub_done, 1);
}

static void raw_on_subscribe_failed(void *ctx, MQTTAsync_failureData *r)
{
    struct nqt_mqtt *m = ctx;
    atomic_store(&m->sub_qos, 0x80);
    atomic_store(&m->sub_done, 1);
}

nqt_mqtt *nqt_mqtt_connect(int port, const char *client_id, const char *user, const char *password)
{
    char uri[64];
    snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", port);
    nqt_mqtt *m = calloc(1, sizeof *m);
    assert_non_null(m);
    if (MQTTAsync_create(&m->h, uri, client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL) != 0) {
        free(m);
        return NULL;
    }
    MQTTAsync_setCallbacks(m->h, m, raw_on_lost, raw_on_message, NULL);
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    co.cleansession = 1;
    co.MQTTVersion = MQTTVERSION_3_1_1;
    co.username = user;
    co.password = password;
    co.onSuccess = raw_on_connected;
    co.onFailure = raw_on_connect_failed;
    co.context = m;
    int rc = MQTTAsync_connect(m->h, &co);
    for (int i = 0; rc == 0 && i < 1000 && !atomic_load(&m->connected) && !atomic_load(&m->failed); i++)
        nqt_sleep_ms(10);
    if (rc != 0 || !atomic_load(&m->connected)) {
        MQTTAsync_destroy(&m->h);
        free(m);
        return NULL;
    }
    return m;
}

int nqt_mqtt_send(nqt_mqtt *m, const char *topic, const void *data, size_t len, int qos, int wait)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int rc = MQTTAsync_send(m->h, topic, (int)len, data, qos, 0, &ro);
    if (rc == 0 && wait)
        rc = MQTTAsync_waitForCompletion(m->h, ro.token, 10000);
    return rc == 0 ? 0 : -1;
}

int nqt_mqtt_subscribe(nqt_mqtt *m, const char *topic, int qos)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = raw_on_subscribed;
    ro.onFailure = raw_on_subscribe_failed;
    ro.context = m;
    atomic_store(&m->sub_done, 0);
    if (MQTTAsync_subscribe(m->h, topic, qos, &ro) != 0)
        return -1;
    for (int i = 0; i < 1000 && !atomic_load(&m->sub_done); i++)
        nqt_sleep_ms(10);
    return atomic_load(&m->sub_done) ? atomic_load(&m->sub_qos) : -1;
}

int nqt_mqtt_received(nqt_mqtt *m)
{
    return atomic_load(&m->received);
}

int nqt_mqtt_connected(nqt_mqtt *m)
{
    return MQTTAsync_isConnected(m->h);
}

void nqt_mqtt_close(nqt_mqtt *m)
{
    if (!m)
        return;
    if (MQTTAsync_isConnected(m->h)) {
        MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
        d.timeout = 1000;
        MQTTAsync_disconnect(m->h, &d);
        for (int i = 0; i < 100 && MQTTAsync_isConnected(m->h); i++)
            nqt_sleep_ms(10);
    }
    MQTTAsync_destroy(&m->h);
    free(m);
}
