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

static void run_pingpong(const struct bench_opts *o, const struct bench_io *io,
                         const unsigned char *payload, struct bench_lat *lat)
{
    for (uint64_t i = 0; i < o->count; i++) {
        size_t n;
        if (o->role == ROLE_CLIENT) {
            double t0 = bench_now();
            put_one(io, payload, bench_size_at(o, i));
            const void *d = io->get(io->ctx, &n);
            lat->v[lat->n++] = bench_now() - t0;
            bench_check(o, i, d, n);
        } else {
            const void *d = io->get(io->ctx, &n);
            bench_check(o, i, d, n);
            put_one(io, d, n);
        }
    }
}

void bench_run(const struct bench_opts *o, const char *impl, const struct bench_io *io)
{
    struct putter p = { o, io, bench_payload(o) };
    struct bench_lat lat = { 0 };
    if (o->mode == MODE_PINGPONG)
        bench_lat_init(&lat, o->count);

    handshake(o, io);
    double t0 = bench_now();
    switch (o->mode) {
    case MODE_SYNC:
        if (o->role == ROLE_CLIENT) {
            put_all(&p);
            get_all(o, io);
        } else {
            get_all(o, io);
            put_all(&p);
        }
        break;
    case MODE_ASYNC:
        run_async(&p);
        break;
    case MODE_PINGPONG:
        run_pingpong(o, io, p.payload, &lat);
        break;
    }
    double seconds = o->role == ROLE_CLIENT ? bench_now() - t0 : 0;
    io->finish(io->ctx);
    bench_report(o, impl, seconds, o->mode == MODE_PINGPONG ? &lat : NULL);
    free((void *)p.payload);
}
