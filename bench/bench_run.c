/* Handshake and workload loops shared by the C benchmarks. */
#include "bench_run.h"

#include <pthread.h>
#include <stdlib.h>

struct putter {
    const struct bench_opts *o;
    const struct bench_io *io;
    const unsigned char *payload;
};

static void put_all(const struct putter *p)
{
    for (uint64_t i = 0; i < p->o->count; i++)
        p->io->put(p->io->ctx, p->payload, bench_size_at(p->o, i));
    if (p->io->flush)
        p->io->flush(p->io->ctx);
}

static void *put_thread(void *arg)
{
    put_all(arg);
    return NULL;
}

static void get_all(const struct bench_opts *o, const struct bench_io *io)
{
    for (uint64_t i = 0; i < o->count; i++) {
        size_t n;
        const void *d = io->get(io->ctx, &n);
        bench_check(o, i, d, n);
    }
}

static void put_one(const struct bench_io *io, const void *data, size_t size)
{
    io->put(io->ctx, data, size);
    if (io->flush)
        io->flush(io->ctx);
}

/* Both sides know the other is there before the clock starts, as the
 * reference's iops test does with its first put/get pair. */
static void handshake(const struct bench_opts *o, const struct bench_io *io)
{
    size_t n;
    if (o->role == ROLE_CLIENT) {
        put_one(io, "h", 1);
        io->get(io->ctx, &n);
    } else {
        io->get(io->ctx, &n);
        put_one(io, "h", 1);
    }
}

static void run_async(const struct putter *p)
{
    pthread_t t;
    if (pthread_create(&t, NULL, put_thread, (void *)p))
        bench_die("pthread_create failed");
    get_all(p->o, p->io);
    pthread_join(t, NULL);
}

/* One-byte acknowledgement: async and oneway end with it, so that the
 * side that stops its clock (or closes) knows every message arrived. */
static void put_ack(const struct bench_io *io)
{
    put_one(io, "A", 1);
}

static void get_ack(const struct bench_io *io)
{
    size_t n;
    const unsigned char *d = io->get(io->ctx, &n);
    if (n != 1 || d[0] != 'A')
        bench_die("expected the 1-byte acknowledgement, got %zu bytes", n);
}

/* Round trips i = first .. first + count - 1 (lat NULL: untimed). */
static void run_pingpong(const struct bench_opts *o, const struct bench_io *io,
                         const unsigned char *payload, struct bench_lat *lat,
                         uint64_t first, uint64_t count)
{
    for (uint64_t i = first; i < first + count; i++) {
        size_t n;
        if (o->role == ROLE_CLIENT) {
            double t0 = bench_now();
            put_one(io, payload, bench_size_at(o, i));
            const void *d = io->get(io->ctx, &n);
            if (lat)
                lat->v[lat->n++] = bench_now() - t0;
            bench_check(o, i, d, n);
        } else {
            const void *d = io->get(io->ctx, &n);
            bench_check(o, i, d, n);
            put_one(io, d, n);
        }
    }
}

/* oneway, receiving side: the clock runs from the first message's arrival
 * to the end marker's (a zero-length message). */
static double recv_oneway(const struct bench_opts *o, const struct bench_io *io)
{
    size_t n;
    const void *d = io->get(io->ctx, &n);
    double t0 = bench_now();
    bench_check(o, 0, d, n);
    for (uint64_t i = 1; i < o->count; i++) {
        d = io->get(io->ctx, &n);
        bench_check(o, i, d, n);
    }
    io->get(io->ctx, &n);
    double seconds = bench_now() - t0;
    if (n != 0)
        bench_die("expected the zero-length end marker, got %zu bytes", n);
    put_ack(io);
    return seconds;
}

void bench_run(const struct bench_opts *o, const char *impl, const struct bench_io *io)
{
    struct putter p = { o, io, bench_payload(o) };
    struct bench_lat lat = { 0 };
    struct bench_usage usage[2];
    int client = o->role == ROLE_CLIENT;
    double seconds = 0;
    if (o->mode == MODE_PINGPONG)
        bench_lat_init(&lat, o->count);

    handshake(o, io);
    if (o->mode == MODE_PINGPONG)
        run_pingpong(o, io, p.payload, NULL, o->count, o->warmup); /* other indices */
    /* The counters' window: the workload, from here to before close. */
    bench_usage_now(&usage[0]);
    double t0 = usage[0].wall;
    switch (o->mode) {
    case MODE_SYNC:
        if (client) {
            put_all(&p);
            get_all(o, io);
        } else {
            get_all(o, io);
            put_all(&p);
        }
        break;
    case MODE_ASYNC:
        run_async(&p);
        /* The client's puts count as done only once the server has them. */
        if (client)
            get_ack(io);
        else
            put_ack(io);
        break;
    case MODE_PINGPONG:
        run_pingpong(o, io, p.payload, &lat, 0, o->count);
        break;
    case MODE_ONEWAY:
        if (client) {
            put_all(&p);
            put_one(io, p.payload, 0); /* the end marker */
            get_ack(io);
        } else {
            seconds = recv_oneway(o, io);
        }
        break;
    }
    bench_usage_now(&usage[1]);
    if (client && o->mode != MODE_ONEWAY)
        seconds = usage[1].wall - t0;
    io->finish(io->ctx);
    bench_report(o, impl, seconds, o->mode == MODE_PINGPONG ? &lat : NULL, usage);
    free((void *)p.payload);
}
