/*
 * The workload loops, written once over a small transport interface so that
 * every implementation runs exactly the same sequence of puts and gets.
 */
#ifndef BENCH_RUN_H
#define BENCH_RUN_H

#include "bench_common.h"

struct bench_io {
    /* Send one message. May queue; must be safe to call while another
     * thread is in get (async mode). */
    void (*put)(void *ctx, const void *data, size_t size);
    /* Push queued puts out (NULL if put never holds bytes back). */
    void (*flush)(void *ctx);
    /* Receive the next message; the bytes stay valid until the next get. */
    const void *(*get)(void *ctx, size_t *size);
    /* End the session (close, wait for the peer) before the report. */
    void (*finish)(void *ctx);
    void *ctx;
};

/* Run the handshake and the workload of o->mode for o->role, then
 * finish and print the result line. */
void bench_run(const struct bench_opts *o, const char *impl, const struct bench_io *io);

#endif
