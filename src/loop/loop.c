/* The communicator's I/O thread: one libev loop; application threads hand
 * work over through the lock-free command queue and wake it with ev_async
 * (which coalesces wake-ups, so a burst of puts costs one wake). */
#include <signal.h>

#include "core/comm_internal.h"
#include "core/status.h"
#include "core/thread_local.h"

static NQ_TLS_SMALL const struct nq_comm *io_thread_of;

int nq_core_on_io_thread(const struct nq_comm *c)
{
    return io_thread_of == c;
}

int nq_core_on_any_io_thread(const struct nq_comm *c)
{
    return io_thread_of && io_thread_of->root == c->root;
}

void nq_loop_adopt(struct nq_comm *c, int on)
{
    static __thread const struct nq_comm *before;
    if (on) {
        before = io_thread_of;
        io_thread_of = c;
    } else {
        io_thread_of = before;
    }
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    struct nq_comm *c = w->data;
    /* acq_rel: it reads the last putter's exchange (a release sequence of
     * exchanges), so every push made before one that found the flag set
     * is visible to the drain below */
    atomic_exchange_explicit(&c->cmd_wake, 0, memory_order_acq_rel);
    nq_core_run_deferred(c);
    nq_core_drain(c);
}

/* libev calls these around its blocking poll, and only there */
static void loop_release(struct ev_loop *loop)
{
    struct nq_comm *c = ev_userdata(loop);
    atomic_store_explicit(&c->polling, 1, memory_order_relaxed);
    pthread_mutex_unlock(&c->io_mu);
}

static void loop_acquire(struct ev_loop *loop)
{
    struct nq_comm *c = ev_userdata(loop);
    pthread_mutex_lock(&c->io_mu);
    atomic_store_explicit(&c->polling, 0, memory_order_relaxed);
}

/* Asynchronous receives' deadlines: one timer for the earliest. */
static void on_get_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    nq_loop_receive_deadlines(w->data);
}

void nq_loop_receive_deadlines(struct nq_comm *c)
{
    int64_t next = nq_recvq_expire(&c->rq);
    ev_timer_stop(c->loop, &c->get_timer);
    if (next == INT64_MAX)
        return;
    ev_now_update(c->loop);
    double in = (double)(next - nq_now_ns()) / 1e9;
    ev_timer_set(&c->get_timer, in > 0 ? in : 0., 0.);
    ev_timer_start(c->loop, &c->get_timer);
}

static void on_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct nq_comm *c = w->data;
    if (c->purpose == NQ_SERVER)
        nq_core_sweep(c);
    else
        nq_core_client_tick(c);
    nq_core_flush(c);
}

static void *loop_main(void *arg)
{
    struct nq_comm *c = arg;
    /* a peer that vanished must give EPIPE, not kill the process */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    io_thread_of = c;
    pthread_mutex_lock(&c->io_mu);
    /* puts made before this thread ran already signalled the ev_async, so
     * the first iteration drains them; draining here instead would lose an
     * ev_break (ev_run clears it on entry) */
    ev_run(c->loop, 0);
    nq_core_run_deferred(c);
    pthread_mutex_unlock(&c->io_mu);
    return NULL;
}

nq_status nq_loop_start(struct nq_comm *c)
{
    ev_set_userdata(c->loop, c);
    ev_set_loop_release_cb(c->loop, loop_release, loop_acquire);
    ev_async_init(&c->wake, on_wake);
    c->wake.data = c;
    ev_async_start(c->loop, &c->wake);
    /* housekeeping once a second: a server expires lost sessions, a
     * client gives up on a session that does not come */
    ev_timer_init(&c->sweep, on_sweep, 1., 1.);
    c->sweep.data = c;
    ev_timer_start(c->loop, &c->sweep);
    ev_unref(c->loop); /* housekeeping alone does not keep the loop alive */
    ev_timer_init(&c->get_timer, on_get_timer, 0., 0.);
    c->get_timer.data = c;
    if (pthread_create(&c->thread, NULL, loop_main, c) != 0)
        return nq_fail(NQ_EIO, "comm: cannot start the I/O thread");
    c->thread_started = 1;
    return NQ_OK;
}

void nq_loop_wake(struct nq_comm *c)
{
    ev_async_send(c->loop, &c->wake);
}

void nq_loop_wake_for_cmd(struct nq_comm *c)
{
    if (atomic_exchange_explicit(&c->cmd_wake, 1, memory_order_acq_rel) == 0)
        ev_async_send(c->loop, &c->wake);
}

void nq_loop_join(struct nq_comm *c)
{
    if (c->thread_started) {
        pthread_join(c->thread, NULL);
        c->thread_started = 0;
    }
}
