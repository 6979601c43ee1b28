/*
 * A fleet of raw net-queue TCP clients in one process, for bench/sessions.py
 * and the scale test: a load generator that speaks the wire protocol
 * directly (docs/protocol.md: 16-byte ini, 8-byte big-endian length frames,
 * fin = the client's own id again), not netqueue. One thread, one epoll;
 * a few bytes of state per connection, so one process holds ~10,000
 * sessions under a 20,000 descriptor limit.
 *
 *   sessions_fleet --port P --count N --fleet F [--src 127.S.0.0]
 *                  [--per-addr K] [--inflight M]
 *
 * Connection j binds to source address src + 1 + j / K (127.0.0.0/8, with
 * IP_BIND_ADDRESS_NO_PORT so the port is picked per 4-tuple at connect),
 * which keeps every source address far from the ephemeral port range.
 * Its id is "NQFLEE" + G + F + j (4 bytes, big endian) + 4 zero bytes (G:
 * how many times "drop" ran, F: the fleet, 1 byte each).
 * At most M connects are in flight (their server ini not yet read; 0: no
 * bound).
 *
 * What the server sends is classified by its first byte: 'B' broadcast,
 * 'T' targeted (bytes 1..16 name the target: a message naming another id
 * counts as wrong). Commands on stdin, one per line; each answer is one
 * line on stdout:
 *   report   counters (key=value), times in CLOCK_MONOTONIC ns (one clock
 *            for every process on the machine)
 *   fin      send fin on every established connection; the server answers
 *            with its fin, then the connection is closed
 *   drop     reset every connection (no fin: the server keeps the sessions
 *            lingering), then connect them all again under new ids
 *   quit     exit
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { ST_IDLE, ST_CONNECTING, ST_WAIT_INI, ST_UP, ST_FIN_SENT, ST_DONE };

struct conn {
    int fd;
    uint8_t state;
    uint8_t hdr_have;   /* bytes of the current frame header read */
    uint8_t pre_have;   /* bytes of the current payload's prefix kept */
    uint8_t got_server_fin;
    uint8_t hdr[8];
    uint8_t pre[17];    /* the first payload bytes: kind and target id */
    uint64_t need;      /* payload bytes still to read (after the header) */
    uint64_t size;      /* the current frame's payload size */
    uint32_t bcast, tgt;
};

struct fleet {
    int port, count, fleet, per_addr, inflight;
    uint32_t src;       /* host order */
    struct conn *c;
    int ep;
    int next_connect, pending;
    int gen;            /* "drop" makes every connection anew under new ids */
    uint8_t server_id[16];
    int have_server_id;
    /* counters */
    long established, bcast, bcast_dup, tgt, wrong, fin_rx, closed, errors, connect_errors;
    long unexpected_close, bad_frames;
    uint64_t first_connect_ns, last_est_ns, bcast_last_ns, tgt_last_ns, last_close_ns;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void make_id(const struct fleet *f, int j, uint8_t id[16])
{
    memcpy(id, "NQFLEE", 6);
    id[6] = (uint8_t)f->gen;
    id[7] = (uint8_t)f->fleet;
    id[8] = (uint8_t)(j >> 24);
    id[9] = (uint8_t)(j >> 16);
    id[10] = (uint8_t)(j >> 8);
    id[11] = (uint8_t)j;
    memset(id + 12, 0, 4);
}

/* A 24-byte frame with our id: ini and fin look alike (docs/protocol.md). */
static int send_id(struct fleet *f, int j)
{
    uint8_t fr[24] = {0, 0, 0, 0, 0, 0, 0, 16};
    make_id(f, j, fr + 8);
    ssize_t w = send(f->c[j].fd, fr, sizeof fr, MSG_NOSIGNAL);
    return w == (ssize_t)sizeof fr ? 0 : -1;
}

static void conn_close(struct fleet *f, int j, int clean)
{
    struct conn *k = &f->c[j];
    if (k->fd >= 0) {
        epoll_ctl(f->ep, EPOLL_CTL_DEL, k->fd, NULL);
        close(k->fd);
    }
    if (k->state == ST_CONNECTING || k->state == ST_WAIT_INI)
        f->pending--;
    if (k->state == ST_UP || k->state == ST_FIN_SENT)
        f->established--;
    k->fd = -1;
    k->state = ST_DONE;
    if (clean) {
        f->closed++;
        f->last_close_ns = now_ns();
    } else {
        f->unexpected_close++;
    }
}

static void start_connect(struct fleet *f, int j)
{
    struct conn *k = &f->c[j];
    k->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (k->fd < 0) {
        f->connect_errors++;
        k->state = ST_DONE;
        return;
    }
    int one = 1;
    setsockopt(k->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(f->src + 1 + (uint32_t)(j / f->per_addr))};
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(k->fd, (struct sockaddr *)&src, sizeof src) < 0 ||
        (connect(k->fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS)) {
        fprintf(stderr, "sessions_fleet: connect %d: %s\n", j, strerror(errno));
        close(k->fd);
        k->fd = -1;
        k->state = ST_DONE;
        f->connect_errors++;
        return;
    }
    k->state = ST_CONNECTING;
    f->pending++;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)j};
    epoll_ctl(f->ep, EPOLL_CTL_ADD, k->fd, &ev);
}

static void connect_more(struct fleet *f)
{
    while (f->next_connect < f->count && (f->inflight == 0 || f->pending < f->inflight))
        start_connect(f, f->next_connect++);
}

/* One complete frame whose payload prefix is in k->pre. */
static void on_frame(struct fleet *f, int j, uint64_t t)
{
    struct conn *k = &f->c[j];
    if (k->state == ST_WAIT_INI || k->state == ST_CONNECTING) {
        if (k->size != 16) {
            f->bad_frames++;
            return;
        }
        if (!f->have_server_id) {
            memcpy(f->server_id, k->pre, 16);
            f->have_server_id = 1;
        }
        k->state = ST_UP;
        f->pending--;
        f->established++;
        f->last_est_ns = t;
        return;
    }
    if (k->size == 16 && f->have_server_id && memcmp(k->pre, f->server_id, 16) == 0) {
        k->got_server_fin = 1;
        f->fin_rx++;
        return;
    }
    if (k->size >= 1 && k->pre[0] == 'B') {
        if (++k->bcast > 1)
            f->bcast_dup++;
        f->bcast++;
        f->bcast_last_ns = t;
    } else if (k->size >= 17 && k->pre[0] == 'T') {
        uint8_t id[16];
        make_id(f, j, id);
        if (memcmp(k->pre + 1, id, 16) == 0) {
            k->tgt++;
            f->tgt++;
            f->tgt_last_ns = t;
        } else {
            f->wrong++;
        }
    } else {
        f->bad_frames++;
    }
}

static void parse(struct fleet *f, int j, const uint8_t *p, size_t n, uint64_t t)
{
    struct conn *k = &f->c[j];
    while (n > 0) {
        if (k->hdr_have < 8) {
            size_t take = 8u - k->hdr_have < n ? 8u - k->hdr_have : n;
            memcpy(k->hdr + k->hdr_have, p, take);
            k->hdr_have += (uint8_t)take;
            p += take;
            n -= take;
            if (k->hdr_have < 8)
                return;
            uint64_t sz = 0;
            for (int i = 0; i < 8; i++)
                sz = sz << 8 | k->hdr[i];
            k->size = k->need = sz;
            k->pre_have = 0;
        }
        size_t take = k->need < n ? (size_t)k->need : n;
        size_t keep = sizeof k->pre - k->pre_have;
        if (keep > take)
            keep = take;
        memcpy(k->pre + k->pre_have, p, keep);
        k->pre_have += (uint8_t)keep;
        k->need -= take;
        p += take;
        n -= take;
        if (k->need == 0) {
            k->hdr_have = 0;
            on_frame(f, j, t);
        }
    }
}

static void on_event(struct fleet *f, int j, uint32_t events)
{
    static uint8_t buf[65536];
    struct conn *k = &f->c[j];
    if (k->state == ST_CONNECTING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            fprintf(stderr, "sessions_fleet: connect %d: %s\n", j, strerror(err));
            f->connect_errors++;
            conn_close(f, j, 0);
            return;
        }
        if (send_id(f, j) < 0) {
            f->errors++;
            conn_close(f, j, 0);
            return;
        }
        k->state = ST_WAIT_INI;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)j};
        epoll_ctl(f->ep, EPOLL_CTL_MOD, k->fd, &ev);
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    for (;;) {
        ssize_t r = recv(k->fd, buf, sizeof buf, 0);
        if (r > 0) {
            parse(f, j, buf, (size_t)r, now_ns());
            if ((size_t)r < sizeof buf)
                break;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        /* the server closes after its fin (clean) or cut us (not) */
        conn_close(f, j, k->got_server_fin && k->state == ST_FIN_SENT);
        return;
    }
    if (k->got_server_fin && k->state == ST_FIN_SENT)
        conn_close(f, j, 1);
}

static void report(struct fleet *f)
{
    printf("report fleet=%d established=%ld pending=%d started=%d bcast=%ld bcast_dup=%ld tgt=%ld "
           "wrong=%ld fin_rx=%ld closed=%ld unexpected_close=%ld errors=%ld connect_errors=%ld "
           "bad_frames=%ld first_connect_ns=%llu last_est_ns=%llu bcast_last_ns=%llu "
           "tgt_last_ns=%llu last_close_ns=%llu\n",
           f->fleet, f->established, f->pending, f->next_connect, f->bcast, f->bcast_dup, f->tgt,
           f->wrong, f->fin_rx, f->closed, f->unexpected_close, f->errors, f->connect_errors,
           f->bad_frames, (unsigned long long)f->first_connect_ns,
           (unsigned long long)f->last_est_ns, (unsigned long long)f->bcast_last_ns,
           (unsigned long long)f->tgt_last_ns, (unsigned long long)f->last_close_ns);
    fflush(stdout);
}

static void send_fins(struct fleet *f)
{
    uint64_t t0 = now_ns();
    for (int j = 0; j < f->count; j++) {
        struct conn *k = &f->c[j];
        if (k->state != ST_UP)
            continue;
        if (send_id(f, j) < 0) {
            f->errors++;
            conn_close(f, j, 0);
            continue;
        }
        k->state = ST_FIN_SENT;
    }
    printf("fin sent %llu %llu\n", (unsigned long long)t0, (unsigned long long)now_ns());
    fflush(stdout);
}

static void drop_all(struct fleet *f)
{
    uint64_t t0 = now_ns();
    struct linger rst = {1, 0};
    for (int j = 0; j < f->count; j++) {
        struct conn *k = &f->c[j];
        if (k->fd >= 0) {
            setsockopt(k->fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
            epoll_ctl(f->ep, EPOLL_CTL_DEL, k->fd, NULL);
            close(k->fd);
        }
        memset(k, 0, sizeof *k);
        k->fd = -1;
    }
    f->established = f->pending = f->next_connect = 0;
    f->gen++;
    printf("dropped %llu %llu\n", (unsigned long long)t0, (unsigned long long)now_ns());
    fflush(stdout);
    connect_more(f);
}

/* Returns 0 to quit. */
static int on_command(struct fleet *f)
{
    char line[256];
    if (!fgets(line, sizeof line, stdin))
        return 0;
    if (strncmp(line, "report", 6) == 0)
        report(f);
    else if (strncmp(line, "fin", 3) == 0)
        send_fins(f);
    else if (strncmp(line, "drop", 4) == 0)
        drop_all(f);
    else if (strncmp(line, "quit", 4) == 0)
        return 0;
    else {
        printf("error unknown command\n");
        fflush(stdout);
    }
    return 1;
}

int main(int argc, char **argv)
{
    struct fleet f = {.per_addr = 1000, .src = 0x7f010000u};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--port"))
            f.port = atoi(v);
        else if (!strcmp(k, "--count"))
            f.count = atoi(v);
        else if (!strcmp(k, "--fleet"))
            f.fleet = atoi(v);
        else if (!strcmp(k, "--per-addr"))
            f.per_addr = atoi(v);
        else if (!strcmp(k, "--inflight"))
            f.inflight = atoi(v);
        else if (!strcmp(k, "--src")) {
            struct in_addr a;
            if (inet_pton(AF_INET, v, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127) {
                fprintf(stderr, "sessions_fleet: --src must be an address in 127.0.0.0/8\n");
                return 2;
            }
            f.src = ntohl(a.s_addr);
        } else {
            fprintf(stderr, "sessions_fleet: unknown option %s\n", k);
            return 2;
        }
    }
    if (f.port <= 0 || f.count <= 0 || f.per_addr <= 0) {
        fprintf(stderr, "usage: sessions_fleet --port P --count N --fleet F [--src 127.S.0.0] "
                        "[--per-addr K] [--inflight M]\n");
        return 2;
    }
    if (((f.src + 1 + (uint32_t)((f.count - 1) / f.per_addr)) >> 24) != 127) {
        fprintf(stderr, "sessions_fleet: source addresses leave 127.0.0.0/8\n");
        return 2;
    }
    f.c = calloc((size_t)f.count, sizeof *f.c);
    f.ep = epoll_create1(EPOLL_CLOEXEC);
    if (!f.c || f.ep < 0) {
        perror("sessions_fleet");
        return 1;
    }
    for (int j = 0; j < f.count; j++)
        f.c[j].fd = -1;
    struct epoll_event sev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(f.ep, EPOLL_CTL_ADD, 0, &sev);
    f.first_connect_ns = now_ns();
    connect_more(&f);
    struct epoll_event evs[512];
    for (;;) {
        int n = epoll_wait(f.ep, evs, 512, 100);
        if (n < 0 && errno != EINTR) {
            perror("sessions_fleet: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u32 == UINT32_MAX) {
                if (!on_command(&f))
                    return 0;
                continue;
            }
            on_event(&f, (int)evs[i].data.u32, evs[i].events);
        }
        connect_more(&f);
    }
}
