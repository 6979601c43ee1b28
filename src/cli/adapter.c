/*
 * `nq adapter`: the conformance suite's adapter for this library, speaking
 * adapter protocol 1.0 (docs/spec/adapter.md). One communicator, driven by
 * JSON lines on stdin,
 * reporting JSON lines on stdout. Built on the public ABI only, like the
 * rest of nq, so it checks exactly what an application gets.
 *
 * Blocking commands (get, close) run on threads of their own so that the
 * runner can keep commanding (a put during close, say) while they wait;
 * every event line is written whole under one lock.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define EXIT_UNSUPPORTED 127
/* The adapter protocol version in ready (docs/spec/adapter.md, ADAPTER-2). */
#define ADAPTER_PROTOCOL "1.0"
#define MAX_PEERS 64

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static nq_comm *comm;
static volatile int stopping;

/* ---- output --------------------------------------------------------- */

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&out_lock);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
    va_end(ap);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const uint8_t *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *o++ = b64[v >> 18 & 63];
        *o++ = b64[v >> 12 & 63];
        *o++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? b64[v & 63] : '=';
    }
    *o = 0;
    return out;
}

/* Decodes in place; returns the length, or -1 on a bad character. */
static long b64_decode(char *s)
{
    uint8_t *o = (uint8_t *)s;
    uint32_t acc = 0;
    int bits = 0;
    for (const char *c = s; *c && *c != '='; c++) {
        const char *at = strchr(b64, *c);
        if (!at)
            return -1;
        acc = acc << 6 | (uint32_t)(at - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = (uint8_t)(acc >> bits);
        }
    }
    return (long)(o - (uint8_t *)s);
}

/* ---- input: one flat JSON object per line ---------------------------- */

/* What a command may carry. Strings point into the line buffer. */
struct cmd {
    char *cmd, *data;
    char *peers[MAX_PEERS];
    size_t npeers;
    double timeout; /* seconds; < 0: forever */
    long long tag;
};

static void skip_ws(char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n')
        (*p)++;
}

/* A JSON string, unescaped in place (\uXXXX only below 0x80: ours are
 * hex and base64). Returns NULL on malformed input. */
static char *parse_string(char **p)
{
    if (**p != '"')
        return NULL;
    char *start = ++*p, *o = start;
    while (**p && **p != '"') {
        char c = *(*p)++;
        if (c == '\\') {
            c = *(*p)++;
            if (c == 'u') {
                unsigned v;
                if (sscanf(*p, "%4x", &v) != 1)
                    return NULL;
                *p += 4;
                c = (char)(v & 0x7f);
            } else if (c == 'n') {
                c = '\n';
            } else if (c == 't') {
                c = '\t';
            } else if (!c) {
                return NULL;
            }
        }
        *o++ = c;
    }
    if (**p != '"')
        return NULL;
    (*p)++;
    *o = 0;
    return start;
}

static int parse_cmd(char *line, struct cmd *c)
{
    memset(c, 0, sizeof *c);
    c->timeout = -1;
    c->tag = -1;
    char *p = line;
    skip_ws(&p);
    if (*p++ != '{')
        return -1;
    for (;;) {
        skip_ws(&p);
        if (*p == '}')
            return 0;
        char *key = parse_string(&p);
        if (!key)
            return -1;
        skip_ws(&p);
        if (*p++ != ':')
            return -1;
        skip_ws(&p);
        if (*p == '"') {
            char *v = parse_string(&p);
            if (!v)
                return -1;
            if (!strcmp(key, "cmd"))
                c->cmd = v;
            else if (!strcmp(key, "data"))
                c->data = v;
        } else if (*p == '[') {
            p++;
            for (;;) {
                skip_ws(&p);
                if (*p == ']') {
                    p++;
                    break;
                }
                char *v = parse_string(&p);
                if (!v || c->npeers == MAX_PEERS)
                    return -1;
                if (!strcmp(key, "peers"))
                    c->peers[c->npeers++] = v;
                skip_ws(&p);
                if (*p == ',')
                    p++;
            }
        } else if (!strncmp(p, "null", 4)) {
            p += 4;
        } else {
            char *end;
            double v = strtod(p, &end);
            if (end == p)
                return -1;
            p = end;
            if (!strcmp(key, "timeout"))
                c->timeout = v;
            else if (!strcmp(key, "tag"))
                c->tag = (long long)v;
        }
        skip_ws(&p);
        if (*p == ',')
            p++;
        else if (*p != '}')
            return -1;
    }
}

static int64_t to_ms(double seconds)
{
    return seconds < 0 ? NQ_FOREVER : (int64_t)(seconds * 1000.0);
}

/* ---- commands ------------------------------------------------------- */

static void put_done(void *user, nq_status st)
{
    long long tag = (long long)(intptr_t)user;
    if (st == NQ_OK)
        emit("{\"event\":\"put-done\",\"tag\":%lld,\"ok\":true}", tag);
    else
        emit("{\"event\":\"put-done\",\"tag\":%lld,\"ok\":false,\"error\":\"%s\"}", tag, nq_strerror(st));
}

static int peer_ids(const struct cmd *c, uint8_t *ids)
{
    for (size_t i = 0; i < c->npeers; i++)
        if (nq_id_parse(c->peers[i], ids + i * NQ_ID_SIZE) != NQ_OK)
            return -1;
    return 0;
}

static void do_put(struct cmd *c)
{
    uint8_t ids[MAX_PEERS * NQ_ID_SIZE];
    long n = c->data ? b64_decode(c->data) : 0;
    if (n < 0 || peer_ids(c, ids)) {
        emit("{\"event\":\"error\",\"cmd\":\"put\",\"tag\":%lld,\"error\":\"bad data or peers\"}", c->tag);
        return;
    }
    nq_status st = nq_comm_put(comm, c->data ? c->data : "", (size_t)n, c->npeers ? ids : NULL,
                               c->npeers, put_done, (void *)(intptr_t)c->tag);
    if (st != NQ_OK)
        put_done((void *)(intptr_t)c->tag, st);
}

struct get_job {
    uint8_t ids[MAX_PEERS * NQ_ID_SIZE];
    size_t npeers;
    int64_t timeout_ms;
    long long tag;
};

static void *get_thread(void *arg)
{
    struct get_job *j = arg;
    nq_msg *m = NULL;
    nq_status st = nq_comm_get(comm, j->npeers ? j->ids : NULL, j->npeers, j->timeout_ms, &m);
    if (st != NQ_OK) {
        const char *kind = st == NQ_ETIMEDOUT ? "timeout" : st == NQ_ECLOSED ? "closed" : "other";
        emit("{\"event\":\"error\",\"cmd\":\"get\",\"tag\":%lld,\"kind\":\"%s\",\"error\":\"%s\"}",
             j->tag, kind, nq_strerror(st));
    } else {
        uint8_t peer[NQ_ID_SIZE];
        char hex[33];
        nq_msg_peer(m, peer);
        nq_id_format(peer, hex);
        char *data = b64_encode(nq_msg_data(m), nq_msg_size(m));
        emit("{\"event\":\"message\",\"tag\":%lld,\"peer\":\"%s\",\"size\":%zu,\"data\":\"%s\"}",
             j->tag, hex, nq_msg_size(m), data ? data : "");
        free(data);
        nq_msg_free(m);
    }
    free(j);
    return NULL;
}

static void do_get(struct cmd *c)
{
    struct get_job *j = calloc(1, sizeof *j);
    pthread_t t;
    if (!j || peer_ids(c, j->ids)) {
        free(j);
        emit("{\"event\":\"error\",\"cmd\":\"get\",\"tag\":%lld,\"error\":\"bad peers\"}", c->tag);
        return;
    }
    j->npeers = c->npeers;
    j->timeout_ms = to_ms(c->timeout);
    j->tag = c->tag;
    if (pthread_create(&t, NULL, get_thread, j) == 0)
        pthread_detach(t);
    else
        free(j);
}

static pthread_t close_tid;
static int close_started;

static void *close_thread(void *arg)
{
    nq_status st = nq_comm_close(comm, *(int64_t *)arg);
    free(arg);
    if (st == NQ_OK)
        emit("{\"event\":\"closed\",\"ok\":true}");
    else
        emit("{\"event\":\"closed\",\"ok\":false,\"error\":\"%s\"}", nq_strerror(st));
    return NULL;
}

static void do_close(struct cmd *c)
{
    int64_t *ms = malloc(sizeof *ms);
    if (!ms || close_started)
        return free(ms);
    *ms = to_ms(c->timeout);
    close_started = pthread_create(&close_tid, NULL, close_thread, ms) == 0;
}

/* An unknown command is answered, never fatal (ADAPTER-5): a runner of a
 * later 1.x may send commands this adapter does not know. The name is
 * echoed only when it is plain, so the line stays valid JSON. */
static void unknown_cmd(const struct cmd *c)
{
    int plain = strlen(c->cmd) <= 32;
    for (const char *p = c->cmd; plain && *p; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_';
    char tag[32] = "";
    if (c->tag >= 0)
        snprintf(tag, sizeof tag, ",\"tag\":%lld", c->tag);
    emit("{\"event\":\"error\",\"cmd\":%s%s%s%s,\"error\":\"unsupported\"}", plain ? "\"" : "",
         plain ? c->cmd : "null", plain ? "\"" : "", tag);
}

/* ---- ini/fin events: peers appearing in and leaving nq_comm_peers ---- */

static void *peers_thread(void *arg)
{
    uint8_t known[MAX_PEERS * NQ_ID_SIZE], now[MAX_PEERS * NQ_ID_SIZE];
    size_t nknown = 0, n = 0;
    struct timespec tick = {0, 5 * 1000 * 1000};
    while (!stopping) {
        if (nq_comm_peers(comm, now, MAX_PEERS, &n) != NQ_OK)
            break;
        if (n > MAX_PEERS)
            n = MAX_PEERS;
        char hex[33];
        for (size_t i = 0; i < n; i++) {
            int seen = 0;
            for (size_t k = 0; k < nknown && !seen; k++)
                seen = !memcmp(now + i * NQ_ID_SIZE, known + k * NQ_ID_SIZE, NQ_ID_SIZE);
            if (!seen && !nq_id_format(now + i * NQ_ID_SIZE, hex))
                emit("{\"event\":\"ini\",\"peer\":\"%s\"}", hex);
        }
        for (size_t k = 0; k < nknown; k++) {
            int still = 0;
            for (size_t i = 0; i < n && !still; i++)
                still = !memcmp(now + i * NQ_ID_SIZE, known + k * NQ_ID_SIZE, NQ_ID_SIZE);
            if (!still && !nq_id_format(known + k * NQ_ID_SIZE, hex))
                emit("{\"event\":\"fin\",\"peer\":\"%s\"}", hex);
        }
        memcpy(known, now, n * NQ_ID_SIZE);
        nknown = n;
        nanosleep(&tick, NULL);
    }
    return NULL;
}

/* ---- command line and main loop ------------------------------------- */

static int usage(const char *why)
{
    fprintf(stderr, "nq adapter: %s\n"
            "usage: nq adapter --role server|client --transport tcp|tls|mqtt|grpc\n"
            "       [--host H] [--port N] [--ca F] [--cert F] [--key F] [--server-name S]\n"
            "       [--no-verify] [--dialect current|legacy] [--id HEX]\n"
            "then JSON lines on stdin/stdout: adapter protocol " ADAPTER_PROTOCOL ", docs/spec/adapter.md\n", why);
    return CLI_USAGE;
}

#define NEED_ARG() do { if (i + 1 >= argc) return usage("missing argument"); } while (0)

int cli_adapter(int argc, char **argv)
{
    nq_options *o = NULL;
    const char *role = NULL, *transport = NULL;
    if (nq_options_new(&o) != NQ_OK)
        return CLI_ERROR;
    int rc = CLI_OK, verify = 1, tls = 0;
    nq_protocol proto = NQ_TCP;
    for (int i = 1; i < argc && rc == CLI_OK; i++) {
        const char *a = argv[i];
        nq_status st = NQ_OK;
        if (!strcmp(a, "--no-verify")) {
            verify = 0;
            continue;
        }
        if (i + 1 >= argc) {
            rc = usage(a);
            break;
        }
        const char *v = argv[++i];
        uint8_t id[NQ_ID_SIZE];
        if (!strcmp(a, "--role"))
            role = v;
        else if (!strcmp(a, "--transport"))
            transport = v;
        else if (!strcmp(a, "--host"))
            st = nq_options_set_host(o, v);
        else if (!strcmp(a, "--port"))
            st = nq_options_set_port(o, atoi(v));
        else if (!strcmp(a, "--ca"))
            st = nq_options_set_tls_ca(o, v);
        else if (!strcmp(a, "--cert"))
            st = nq_options_set_tls_cert(o, v);
        else if (!strcmp(a, "--key"))
            st = nq_options_set_tls_key(o, v);
        else if (!strcmp(a, "--server-name"))
            st = nq_options_set_tls_server_name(o, v);
        else if (!strcmp(a, "--dialect"))
            st = nq_options_set_dialect(o, !strcmp(v, "legacy") ? NQ_DIALECT_LEGACY : NQ_DIALECT_CURRENT);
        else if (!strcmp(a, "--id"))
            st = nq_id_parse(v, id) == NQ_OK ? nq_options_set_id(o, id) : NQ_EINVAL;
        else
            rc = usage(a);
        if (st != NQ_OK)
            rc = usage(a);
    }
    if (rc == CLI_OK && (!role || !transport))
        rc = usage("--role and --transport are required");
    if (rc == CLI_OK) {
        if (!strcmp(transport, "tls"))
            tls = 1;
        else if (!strcmp(transport, "mqtt"))
            proto = NQ_MQTT;
        else if (!strcmp(transport, "grpc"))
            proto = NQ_GRPC;
        else if (strcmp(transport, "tcp"))
            rc = EXIT_UNSUPPORTED;
    }
    if (rc == CLI_OK && tls) {
        nq_options_set_tls(o, 1);
        if (!verify)
            nq_options_set_tls_verify(o, 0);
    }
    if (rc != CLI_OK) {
        nq_options_free(o);
        return rc;
    }
    nq_status st = nq_comm_new(&comm, proto, !strcmp(role, "server") ? NQ_SERVER : NQ_CLIENT, o);
    nq_options_free(o);
    if (st != NQ_OK) {
        emit("{\"event\":\"error\",\"cmd\":\"new\",\"error\":\"%s\"}", nq_strerror(st));
        return st == NQ_EUNSUPPORTED ? EXIT_UNSUPPORTED : CLI_ERROR;
    }
    uint8_t own[NQ_ID_SIZE];
    char hex[33];
    int port = 0;
    nq_comm_id(comm, own);
    nq_id_format(own, hex);
    nq_comm_port(comm, &port);
    emit("{\"event\":\"ready\",\"adapter_protocol\":\"" ADAPTER_PROTOCOL "\",\"id\":\"%s\",\"port\":%d}",
         hex, port);

    pthread_t peers_tid;
    int watching = pthread_create(&peers_tid, NULL, peers_thread, NULL) == 0;

    /* Lines can hold multi-MiB base64 payloads: getline grows as needed. */
    char *line = NULL;
    size_t cap = 0;
    struct cmd c;
    while (getline(&line, &cap, stdin) > 0) {
        if (parse_cmd(line, &c) || !c.cmd) {
            emit("{\"event\":\"error\",\"cmd\":null,\"error\":\"bad command line\"}");
            continue;
        }
        if (!strcmp(c.cmd, "put"))
            do_put(&c);
        else if (!strcmp(c.cmd, "get"))
            do_get(&c);
        else if (!strcmp(c.cmd, "close"))
            do_close(&c);
        else if (!strcmp(c.cmd, "id"))
            emit("{\"event\":\"id\",\"id\":\"%s\"}", hex);
        else
            unknown_cmd(&c);
    }
    free(line);
    /* End of input: the runner is done with us. */
    if (close_started)
        pthread_join(close_tid, NULL);
    stopping = 1;
    if (watching)
        pthread_join(peers_tid, NULL);
    nq_comm_free(comm);
    return CLI_OK;
}
