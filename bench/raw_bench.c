/*
 * The ceiling: one blocking TCP socket speaking the same framing (8-byte
 * big-endian length + payload) with no protocol on top. Small frames are
 * batched through a user-space buffer each way, as any library would.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench_run.h"

#define BUF_SIZE (256 * 1024)

struct raw {
    int fd;
    size_t max_size;
    unsigned char *wbuf;
    size_t wlen;
    unsigned char *rbuf;
    size_t rpos, rlen;
    unsigned char *msg; /* frames too big for rbuf land here */
};

static void write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            bench_die("raw: write: %s", strerror(errno));
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= w;
        }
    }
}

static void raw_flush(void *ctx)
{
    struct raw *r = ctx;
    struct iovec iov = { r->wbuf, r->wlen };
    write_all(r->fd, &iov, 1);
    r->wlen = 0;
}

static void raw_put(void *ctx, const void *data, size_t size)
{
    struct raw *r = ctx;
    uint64_t be = htobe64(size);
    if (r->wlen + 8 + size > BUF_SIZE)
        raw_flush(r);
    if (8 + size <= BUF_SIZE) {
        memcpy(r->wbuf + r->wlen, &be, 8);
        memcpy(r->wbuf + r->wlen + 8, data, size);
        r->wlen += 8 + size;
        return;
    }
    struct iovec iov[2] = { { &be, 8 }, { (void *)data, size } };
    write_all(r->fd, iov, 2);
}

static void read_exact(int fd, void *buf, size_t n)
{
    while (n > 0) {
        ssize_t got = recv(fd, buf, n, MSG_WAITALL);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            bench_die("raw: read: %s", got ? strerror(errno) : "peer closed");
        buf = (char *)buf + got;
        n -= got;
    }
}

/* Make at least n (<= BUF_SIZE) bytes available at rbuf + rpos. */
static void fill(struct raw *r, size_t n)
{
    if (r->rlen - r->rpos >= n)
        return;
    memmove(r->rbuf, r->rbuf + r->rpos, r->rlen - r->rpos);
    r->rlen -= r->rpos;
    r->rpos = 0;
    while (r->rlen < n) {
        ssize_t got = recv(r->fd, r->rbuf + r->rlen, BUF_SIZE - r->rlen, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            bench_die("raw: read: %s", got ? strerror(errno) : "peer closed");
        r->rlen += got;
    }
}

static const void *raw_get(void *ctx, size_t *size)
{
    struct raw *r = ctx;
    uint64_t be;
    fill(r, 8);
    memcpy(&be, r->rbuf + r->rpos, 8);
    r->rpos += 8;
    size_t n = be64toh(be);
    if (n > r->max_size)
        bench_die("raw: frame of %zu bytes exceeds %zu", n, r->max_size);
    *size = n;
    if (n <= BUF_SIZE) {
        fill(r, n);
        r->rpos += n;
        return r->rbuf + r->rpos - n;
    }
    size_t have = r->rlen - r->rpos;
    memcpy(r->msg, r->rbuf + r->rpos, have);
    r->rpos = r->rlen = 0;
    read_exact(r->fd, r->msg + have, n - have);
    return r->msg;
}

/* Half-close and wait for the peer's end, so no byte is cut off. */
static void raw_finish(void *ctx)
{
    struct raw *r = ctx;
    char sink[4096];
    shutdown(r->fd, SHUT_WR);
    while (recv(r->fd, sink, sizeof sink, 0) > 0)
        ;
    close(r->fd);
}

static struct sockaddr_in loopback(const struct bench_opts *o)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(o->port) };
    if (inet_pton(AF_INET, o->host, &a.sin_addr) != 1)
        bench_die("raw: bad IPv4 address %s", o->host);
    return a;
}

static int serve(const struct bench_opts *o)
{
    struct sockaddr_in a = loopback(o);
    int one = 1;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 1))
        bench_die("raw: bind/listen %s:%d: %s", o->host, o->port, strerror(errno));
    bench_ready();
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        bench_die("raw: accept: %s", strerror(errno));
    close(lfd);
    return fd;
}

/* The server may start a moment after us: retry for up to 10 s. */
static int dial(const struct bench_opts *o)
{
    struct sockaddr_in a = loopback(o);
    for (int tries = 0; tries < 1000; tries++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (!connect(fd, (struct sockaddr *)&a, sizeof a))
            return fd;
        close(fd);
        usleep(10000);
    }
    bench_die("raw: cannot connect to %s:%d", o->host, o->port);
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    bench_parse(&o, argc, argv, "raw_bench");
    struct raw r = { .max_size = bench_max_size(&o) };
    r.fd = o.role == ROLE_SERVER ? serve(&o) : dial(&o);
    int one = 1;
    setsockopt(r.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    r.wbuf = malloc(BUF_SIZE);
    r.rbuf = malloc(BUF_SIZE);
    r.msg = malloc(r.max_size > BUF_SIZE ? r.max_size : 1);
    if (!r.wbuf || !r.rbuf || !r.msg)
        bench_die("raw: out of memory");
    struct bench_io io = { raw_put, raw_flush, raw_get, raw_finish, &r };
    bench_run(&o, "raw", &io);
    free(r.wbuf);
    free(r.rbuf);
    free(r.msg);
    return 0;
}
