/* A loopback TCP relay with a switch on the client-to-target direction
 * (tcpproxy.h). */
#include "tcpproxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PAIRS 16
#define BUF (64 * 1024)
/* the relay's receive buffer for clients: small, so that a held client's
 * own send buffer fills after a little (set on the listener, inherited) */
#define CLIENT_RCVBUF (32 * 1024)

/* one direction: bytes read from `from`, not yet written to `to` */
struct dir {
    int from, to;
    char buf[BUF];
    size_t off, len;
    int eof;
};

struct pair {
    int used;
    struct dir up, down; /* up: client -> target */
};

struct nqt_proxy {
    int lfd, port, target;
    pthread_t th;
    atomic_int stop, hold;
    atomic_size_t up_bytes, down_bytes;
    struct pair pairs[PAIRS];
};

static void nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int connect_target(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    nonblock(fd);
    return fd;
}

static void pair_close(struct pair *pr)
{
    close(pr->up.from);
    close(pr->up.to);
    memset(pr, 0, sizeof *pr);
}

/* Move what can move in one direction; -1 when the pair is over. */
static int step(struct dir *d, short rev_from, short rev_to, atomic_size_t *count)
{
    if (d->len == 0 && (rev_from & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = read(d->from, d->buf, sizeof d->buf);
        if (n > 0) {
            d->off = 0;
            d->len = (size_t)n;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            return -1;
        }
    }
    if (d->len && (rev_to & POLLOUT)) {
        ssize_t n = write(d->to, d->buf + d->off, d->len);
        if (n > 0) {
            d->off += (size_t)n;
            d->len -= (size_t)n;
            atomic_fetch_add(count, (size_t)n);
        } else if (errno != EAGAIN && errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

static void *relay(void *arg)
{
    nqt_proxy *p = arg;
    while (!atomic_load(&p->stop)) {
        struct pollfd fds[1 + 2 * PAIRS];
        int idx[PAIRS];
        int n = 0;
        fds[n++] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
        int hold = atomic_load(&p->hold);
        for (int i = 0; i < PAIRS; i++) {
            struct pair *pr = &p->pairs[i];
            idx[i] = -1;
            if (!pr->used)
                continue;
            idx[i] = n;
            short cev = 0, tev = 0;
            if (!pr->up.len && !hold)
                cev |= POLLIN;
            if (pr->down.len)
                cev |= POLLOUT;
            if (!pr->down.len)
                tev |= POLLIN;
            if (pr->up.len)
                tev |= POLLOUT;
            fds[n++] = (struct pollfd){.fd = pr->up.from, .events = cev};
            fds[n++] = (struct pollfd){.fd = pr->up.to, .events = tev};
        }
        if (poll(fds, (nfds_t)n, 50) <= 0)
            continue;
        if (fds[0].revents & POLLIN) {
            int cfd = accept(p->lfd, NULL, NULL);
            int tfd = cfd >= 0 ? connect_target(p->target) : -1;
            int slot = -1;
            for (int i = 0; i < PAIRS && slot < 0; i++)
                if (!p->pairs[i].used)
                    slot = i;
            if (cfd >= 0 && (tfd < 0 || slot < 0)) {
                close(cfd);
                if (tfd >= 0)
                    close(tfd);
            } else if (cfd >= 0) {
                nonblock(cfd);
                struct pair *pr = &p->pairs[slot];
                memset(pr, 0, sizeof *pr);
                pr->used = 1;
                pr->up.from = pr->down.to = cfd;
                pr->up.to = pr->down.from = tfd;
            }
        }
        for (int i = 0; i < PAIRS; i++) {
            struct pair *pr = &p->pairs[i];
            if (!pr->used || idx[i] < 0)
                continue;
            short crev = fds[idx[i]].revents, trev = fds[idx[i] + 1].revents;
            if (hold)
                crev &= (short)~(POLLIN | POLLHUP | POLLERR);
            if (step(&pr->up, crev, trev, &p->up_bytes) < 0 ||
                step(&pr->down, trev, crev, &p->down_bytes) < 0)
                pair_close(pr);
        }
    }
    return NULL;
}

nqt_proxy *nqt_proxy_start(int target_port)
{
    nqt_proxy *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->target = target_port;
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1, rcv = CLIENT_RCVBUF;
    setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(p->lfd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(p->lfd, 16) != 0 ||
        getsockname(p->lfd, (struct sockaddr *)&a, &al) != 0) {
        if (p->lfd >= 0)
            close(p->lfd);
        free(p);
        return NULL;
    }
    p->port = ntohs(a.sin_port);
    if (pthread_create(&p->th, NULL, relay, p) != 0) {
        close(p->lfd);
        free(p);
        return NULL;
    }
    return p;
}

int nqt_proxy_port(const nqt_proxy *p)
{
    return p->port;
}

void nqt_proxy_hold_up(nqt_proxy *p, int hold)
{
    atomic_store(&p->hold, hold);
}

size_t nqt_proxy_up_bytes(nqt_proxy *p)
{
    return atomic_load(&p->up_bytes);
}

size_t nqt_proxy_down_bytes(nqt_proxy *p)
{
    return atomic_load(&p->down_bytes);
}

void nqt_proxy_stop(nqt_proxy *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, 1);
    pthread_join(p->th, NULL);
    for (int i = 0; i < PAIRS; i++)
        if (p->pairs[i].used)
            pair_close(&p->pairs[i]);
    close(p->lfd);
    free(p);
}
