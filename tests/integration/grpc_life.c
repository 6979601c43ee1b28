/*
 * gRPC dead peers and bounded closes (issue 11): a client that vanished
 * (kill -9) or froze (SIGSTOP) after its ini, a silent identified client
 * during server close, a client whose server froze, and keepalive pings
 * noticing a frozen peer. The peers that die are other processes: this
 * program started again with --child-client / --child-server (a gRPC
 * client or server of the library, run outside cmocka), so that killing
 * or stopping them is what it is for a real peer.
 *
 * Every test runs under a watchdog (alarm): a close that never returns
 * fails the test instead of hanging ctest.
 */
#include "grpc_common.h"

#include <errno.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* the watchdog: seconds a test may take */
#define WATCHDOG_S 40
/* slack over a close's own timeout (loaded 2-core machine) */
#define MARGIN_MS 1000

static char self_path[4096];
static pid_t children[4];
static int nchildren;

/* ---- children --------------------------------------------------------- */

/* TLS_CA set (a CA file): the child is a TLS client verifying with it */
static const char *child_ca;

static nq_options *child_opts(int port, long keepalive_ms)
{
    nq_options *o = NULL;
    if (nq_options_new(&o) != NQ_OK || nq_options_set_port(o, port) != NQ_OK ||
        nq_options_set_keepalive(o, keepalive_ms) != NQ_OK)
        exit(2);
    if (child_ca && (nq_options_set_tls(o, 1) != NQ_OK || nq_options_set_tls_ca(o, child_ca) != NQ_OK))
        exit(2);
    return o;
}

/* A client that says hello (and waits for it to be sent), tells the parent
 * "ready" on stdout, then stays connected, polling, until killed. */
static int child_client(int port, long keepalive_ms)
{
    nq_options *o = child_opts(port, keepalive_ms);
    nq_comm *c = NULL;
    if (nq_comm_new(&c, NQ_GRPC, NQ_CLIENT, o) != NQ_OK)
        return 2;
    nq_options_free(o);
    nq_future *f = NULL;
    nq_status r = NQ_EIO;
    if (nq_comm_put_future(c, "hello", 5, NULL, 0, &f) != NQ_OK ||
        nq_future_wait(f, 20000, &r) != NQ_OK || r != NQ_OK)
        return 3;
    nq_future_free(f);
    printf("ready\n");
    fflush(stdout);
    for (;;)
        pause();
}

/* A server on port that echoes every message; "ready" once it listens. */
static int child_server(int port, long keepalive_ms)
{
    nq_options *o = child_opts(port, keepalive_ms);
    nq_comm *s = NULL;
    if (nq_comm_new(&s, NQ_GRPC, NQ_SERVER, o) != NQ_OK)
        return 2;
    nq_options_free(o);
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        nq_msg *m = NULL;
        if (nq_comm_get(s, NULL, 0, 1000, &m) != NQ_OK)
            continue;
        uint8_t peer[NQ_ID_SIZE];
        nq_msg_peer(m, peer);
        nq_comm_put(s, nq_msg_data(m), nq_msg_size(m), peer, 1, NULL, NULL);
        nq_msg_free(m);
    }
}

/* Start this program as a child ("--child-client" or "--child-server") and
 * wait for its "ready" line. */
static pid_t spawn_child(const char *role, int port, long keepalive_ms)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char ps[16], ks[24];
    snprintf(ps, sizeof ps, "%d", port);
    snprintf(ks, sizeof ks, "%ld", keepalive_ms);
    char *argv[] = {self_path, (char *)role, ps, ks, (char *)child_ca, NULL};
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, self_path, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    children[nchildren++] = pid;
    char line[16] = {0};
    nqt_raw_read(fds[0], line, 6, NQT_LONG_MS);
    close(fds[0]);
    if (strncmp(line, "ready\n", 6) != 0)
        fail_msg("child %s did not get ready", role);
    return pid;
}

static void reap(pid_t pid)
{
    kill(pid, SIGKILL);
    kill(pid, SIGCONT);
    waitpid(pid, NULL, 0);
    for (int i = 0; i < nchildren; i++)
        if (children[i] == pid)
            children[i] = children[--nchildren];
}

/* ---- watchdog ----------------------------------------------------------- */

static void on_alarm(int sig)
{
    static const char msg[] = "grpc_life: watchdog: the test hung (a close or free that never returns?)\n";
    (void)sig;
    for (int i = 0; i < nchildren; i++) {
        kill(children[i], SIGKILL);
        kill(children[i], SIGCONT);
    }
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

static int setup(void **state)
{
    (void)state;
    alarm(WATCHDOG_S);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    alarm(0);
    while (nchildren)
        reap(children[0]);
    return 0;
}

/* ---- helpers -------------------------------------------------------------- */

static nq_comm *server_ka(long keepalive_ms, nqt_log *log)
{
    nq_options *o = nqt_opts(0);
    assert_int_equal(nq_options_set_keepalive(o, keepalive_ms), NQ_OK);
    if (log)
        nqt_log_attach(o, log);
    return g_server(o);
}

/* The server's only peer, once it said hello. */
static void expect_hello(nq_comm *s, uint8_t id[NQ_ID_SIZE])
{
    nq_msg *m = NULL;
    assert_int_equal(nq_comm_get(s, NULL, 0, NQT_LONG_MS, &m), NQ_OK);
    assert_int_equal(nq_msg_size(m), 5);
    assert_memory_equal(nq_msg_data(m), "hello", 5);
    nq_msg_peer(m, id);
    nq_msg_free(m);
    assert_true(nqt_wait_peer(s, id, 1, NQT_LONG_MS));
}

/* close(timeout_ms): its status, and how long it took in *ms. */
static nq_status timed_close(nq_comm *c, int64_t timeout_ms, int64_t *ms)
{
    int64_t t0 = nqt_now_ms();
    nq_status st = nq_comm_close(c, timeout_ms);
    *ms = nqt_now_ms() - t0;
    print_message("close(%lld): %s after %lld ms\n", (long long)timeout_ms, nq_strerror(st),
                  (long long)*ms);
    return st;
}

static void timed_free(nq_comm *c)
{
    int64_t t0 = nqt_now_ms();
    nq_comm_free(c);
    int64_t ms = nqt_now_ms() - t0;
    assert_true(ms < MARGIN_MS);
}

/* ---- server side ---------------------------------------------------------- */

/* A client killed between rounds: its connection closes, the server drops
 * its link (the session waits for a reconnection as with TCP) and close
 * does not wait for it: NQ_OK, at once. Before: close waited for it until
 * its timeout (NQ_ETIMEDOUT), forever with NQ_FOREVER. */
static void test_killed_client_close(void **state)
{
    nq_comm *s = server_ka(NQ_DEFAULT_KEEPALIVE_MS, NULL);
    pid_t child = spawn_child("--child-client", nqt_port_of(s), NQ_DEFAULT_KEEPALIVE_MS);
    uint8_t id[NQ_ID_SIZE];
    expect_hello(s, id);
    reap(child);
    int64_t ms;
    assert_int_equal(timed_close(s, 1000, &ms), NQ_OK);
    assert_true(ms < 1000 + MARGIN_MS);
    timed_free(s);
}

/* The same with no deadline at all (what `nq server` did on SIGINT): it
 * used to wait forever. */
static void test_killed_client_close_forever(void **state)
{
    nq_comm *s = server_ka(NQ_DEFAULT_KEEPALIVE_MS, NULL);
    pid_t child = spawn_child("--child-client", nqt_port_of(s), NQ_DEFAULT_KEEPALIVE_MS);
    uint8_t id[NQ_ID_SIZE];
    expect_hello(s, id);
    reap(child);
    /* the peer list lets it go within about a second */
    assert_true(nqt_wait_peer(s, id, 0, 3000));
    int64_t ms;
    assert_int_equal(timed_close(s, NQ_FOREVER, &ms), NQ_OK);
    assert_true(ms < MARGIN_MS);
    timed_free(s);
}

/* The same over TLS (the liveness check matches gRPC's peer address of
 * the call with the connection's name in channelz; TLS must not change
 * it), with the frozen-client keepalive case: killed and frozen TLS
 * clients both leave the peer list. */
static void test_tls_killed_and_frozen(void **state)
{
    nq_options *o = nqt_tls_server_opts(0, "server.pem", "server.key");
    assert_int_equal(nq_options_set_keepalive(o, 1500), NQ_OK);
    nq_comm *s = g_server(o);
    int port = nqt_port_of(s);
    child_ca = nqt_cert("ca.pem");
    pid_t killed = spawn_child("--child-client", port, NQ_DEFAULT_KEEPALIVE_MS);
    uint8_t kid[NQ_ID_SIZE];
    expect_hello(s, kid);
    pid_t frozen = spawn_child("--child-client", port, NQ_DEFAULT_KEEPALIVE_MS);
    child_ca = NULL;
    uint8_t fid[NQ_ID_SIZE];
    expect_hello(s, fid);
    reap(killed);
    nqt_freeze(frozen);
    assert_true(nqt_wait_peer(s, kid, 0, 3000));
    assert_true(nqt_wait_peer(s, fid, 0, 6000));
    int64_t ms;
    assert_int_equal(timed_close(s, NQ_FOREVER, &ms), NQ_OK);
    assert_true(ms < MARGIN_MS);
    timed_free(s);
    reap(frozen);
}

/* A frozen client (SIGSTOP) and a silent, live one (connected, polling,
 * never closing) during server close: close gives up at its deadline with
 * NQ_ETIMEDOUT, cuts them, and the log names each (address and id). */
static void test_silent_clients_close(void **state)
{
    nqt_log log;
    nqt_log_init(&log);
    nq_comm *s = server_ka(NQ_DEFAULT_KEEPALIVE_MS, &log);
    int port = nqt_port_of(s);
    pid_t child = spawn_child("--child-client", port, NQ_DEFAULT_KEEPALIVE_MS);
    uint8_t frozen[NQ_ID_SIZE], silent[NQ_ID_SIZE];
    expect_hello(s, frozen);
    nqt_freeze(child);
    nq_comm *c = g_client(nqt_opts(port));
    nqt_put(c, "hello", 5, NULL, 0);
    expect_hello(s, silent);
    int64_t ms;
    assert_int_equal(timed_close(s, 1000, &ms), NQ_ETIMEDOUT);
    assert_true(ms >= 900 && ms < 1000 + MARGIN_MS);
    timed_free(s);
    char hex[33];
    nqt_log_print(&log, "server");
    nq_id_format(frozen, hex);
    assert_true(nqt_log_has(&log, hex));
    nq_id_format(silent, hex);
    assert_true(nqt_log_has(&log, hex));
    assert_true(nqt_log_has(&log, "did not finish in time"));
    nqt_log_destroy(&log);
    /* the client finds its server gone */
    assert_int_not_equal(nq_comm_close(c, 3000), NQ_OK);
    nq_comm_free(c);
    reap(child);
}

/* A client whose round is open and silent (it sent its ini in a call and
 * neither half-closes nor goes away), made with the gRPC core API: close
 * cancels that call at its deadline. */
static void test_open_round_close(void **state)
{
    nq_comm *s = server_ka(NQ_DEFAULT_KEEPALIVE_MS, NULL);
    int port = nqt_port_of(s);
    grpc_init();
    char target[32];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    grpc_arg a = {GRPC_ARG_INTEGER, GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, {.integer = 1}};
    grpc_channel_args args = {1, &a};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, creds, &args);
    grpc_channel_credentials_release(creds);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                               grpc_slice_from_static_string("/grpc/comm"), NULL,
                                               gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    uint8_t ini[8 + NQ_ID_SIZE] = {0, 0, 0, 0, 0, 0, 0, NQ_ID_SIZE};
    for (int i = 0; i < NQ_ID_SIZE; i++)
        ini[8 + i] = (uint8_t)(0xa0 + i);
    grpc_slice sl = grpc_slice_from_copied_buffer((const char *)ini, sizeof ini);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = bb;
    assert_int_equal(grpc_call_start_batch(call, ops, 2, (void *)1, NULL), GRPC_CALL_OK);
    grpc_event ev = grpc_completion_queue_pluck(cq, (void *)1, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    assert_int_equal(ev.type, GRPC_OP_COMPLETE);
    assert_true(ev.success);
    /* the server knows it by its id now */
    assert_true(nqt_wait_npeers(s, 1, NQT_LONG_MS) == 1);
    /* the server's initial metadata (gRPC hands out the status only after
     * it; the server's ini would come in its next round) */
    grpc_metadata_array init, trail;
    grpc_metadata_array_init(&init);
    grpc_metadata_array_init(&trail);
    grpc_byte_buffer *more = NULL;
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[0].data.recv_initial_metadata.recv_initial_metadata = &init;
    assert_int_equal(grpc_call_start_batch(call, ops, 1, (void *)3, NULL), GRPC_CALL_OK);
    ev = grpc_completion_queue_pluck(cq, (void *)3, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    assert_int_equal(ev.type, GRPC_OP_COMPLETE);
    grpc_status_code status = GRPC_STATUS_OK;
    grpc_slice details = grpc_empty_slice();
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_RECV_MESSAGE;
    ops[0].data.recv_message.recv_message = &more;
    ops[1].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[1].data.recv_status_on_client.trailing_metadata = &trail;
    ops[1].data.recv_status_on_client.status = &status;
    ops[1].data.recv_status_on_client.status_details = &details;
    assert_int_equal(grpc_call_start_batch(call, ops, 2, (void *)2, NULL), GRPC_CALL_OK);
    int64_t ms;
    assert_int_equal(timed_close(s, 1000, &ms), NQ_ETIMEDOUT);
    assert_true(ms >= 900 && ms < 1000 + MARGIN_MS);
    timed_free(s);
    /* the call was ended, not left hanging */
    gpr_timespec five = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_seconds(5, GPR_TIMESPAN));
    ev = grpc_completion_queue_pluck(cq, (void *)2, five, NULL);
    assert_int_equal(ev.type, GRPC_OP_COMPLETE);
    print_message("the open round ended with status %d\n", (int)status);
    assert_int_not_equal(status, GRPC_STATUS_OK);
    assert_null(more);
    grpc_byte_buffer_destroy(bb);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&init);
    grpc_metadata_array_destroy(&trail);
    grpc_call_unref(call);
    grpc_channel_destroy(ch);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    grpc_shutdown();
}

/* Keepalive: a client frozen between rounds (its kernel still acks TCP,
 * only pings go unanswered) is noticed by the server's pings within about
 * the keepalive (1500 ms), leaves the peer list, and close does not wait
 * for it. Before: it stayed a live peer until close gave up on it. */
static void test_keepalive_frozen_client(void **state)
{
    nq_comm *s = server_ka(1500, NULL);
    pid_t child = spawn_child("--child-client", nqt_port_of(s), NQ_DEFAULT_KEEPALIVE_MS);
    uint8_t id[NQ_ID_SIZE];
    expect_hello(s, id);
    nqt_freeze(child);
    int64_t t0 = nqt_now_ms();
    assert_true(nqt_wait_peer(s, id, 0, 6000));
    print_message("frozen client noticed after %lld ms\n", (long long)(nqt_now_ms() - t0));
    /* and its session is kept for a reconnection: puts to it are accepted */
    assert_int_equal(nq_comm_put(s, "later", 5, id, 1, NULL, NULL), NQ_OK);
    int64_t ms;
    assert_int_equal(timed_close(s, NQ_FOREVER, &ms), NQ_OK);
    assert_true(ms < MARGIN_MS);
    timed_free(s);
    reap(child);
}

/* ---- client side ---------------------------------------------------------- */

/* A client and the server child, linked (an echo came back). */
static nq_comm *linked_client(int port, long keepalive_ms, int64_t connect_ms, uint8_t sid[NQ_ID_SIZE])
{
    nq_options *o = nqt_opts(port);
    assert_int_equal(nq_options_set_keepalive(o, keepalive_ms), NQ_OK);
    assert_int_equal(nq_options_set_connect_timeout(o, connect_ms), NQ_OK);
    nq_comm *c = g_client(o);
    nqt_put_str(c, "echo me", NULL, 0);
    nq_msg *m = NULL;
    assert_int_equal(nq_comm_get(c, NULL, 0, NQT_LONG_MS, &m), NQ_OK);
    nq_msg_peer(m, sid);
    nq_msg_free(m);
    assert_true(nqt_wait_peer(c, sid, 1, NQT_LONG_MS));
    return c;
}

/* The server froze: the client's close gives up at its deadline. */
static void test_frozen_server_client_close(void **state)
{
    int port = nqt_free_port();
    pid_t child = spawn_child("--child-server", port, NQ_DEFAULT_KEEPALIVE_MS);
    uint8_t sid[NQ_ID_SIZE];
    nq_comm *c = linked_client(port, NQ_DEFAULT_KEEPALIVE_MS, NQ_DEFAULT_CONNECT_TIMEOUT_MS, sid);
    nqt_freeze(child);
    nqt_put_str(c, "into the void", NULL, 0);
    int64_t ms;
    assert_int_equal(timed_close(c, 1000, &ms), NQ_ETIMEDOUT);
    assert_true(ms >= 900 && ms < 1000 + MARGIN_MS);
    timed_free(c);
    reap(child);
}

/* Keepalive on the client (1500 ms): a frozen server is noticed within
 * about that (the round in flight fails, the server leaves the peer list),
 * puts then fail after the connect timeout (1000 ms) as for a server that
 * is down, and a close with no deadline ends (NQ_ERESET: the fin could not
 * be said). Before: the round waited for the frozen server forever, and so
 * did that close. */
static void test_keepalive_frozen_server(void **state)
{
    int port = nqt_free_port();
    pid_t child = spawn_child("--child-server", port, NQ_DEFAULT_KEEPALIVE_MS);
    uint8_t sid[NQ_ID_SIZE];
    nq_comm *c = linked_client(port, 1500, 1000, sid);
    nqt_freeze(child);
    int64_t t0 = nqt_now_ms();
    nq_future *f = NULL;
    assert_int_equal(nq_comm_put_future(c, "into the void", 13, NULL, 0, &f), NQ_OK);
    assert_true(nqt_wait_peer(c, sid, 0, 6000));
    print_message("frozen server noticed after %lld ms\n", (long long)(nqt_now_ms() - t0));
    nq_status r = NQ_OK;
    assert_int_equal(nq_future_wait(f, 30000, &r), NQ_OK);
    print_message("put to the frozen server: %s after %lld ms\n", nq_strerror(r),
                  (long long)(nqt_now_ms() - t0));
    assert_int_equal(r, NQ_EADDR);
    nq_future_free(f);
    int64_t ms;
    nq_status st = timed_close(c, NQ_FOREVER, &ms);
    assert_int_not_equal(st, NQ_OK);
    assert_true(ms < 20000);
    timed_free(c);
    reap(child);
}

/* ---- against the reference -------------------------------------------- */

/* The reference's gRPC server (net-queue 2.6.4): for each message it gets,
 * it puts 20 x 1 MiB (byte i repeated) to its sender. Its own alarm ends
 * it. */
static const char ref_server_py[] =
    "import importlib, os, signal, sys, uuid\n"
    "signal.alarm(60)\n"
    "sys.path.append(os.devnull)  # its gprc package drops the last entry\n"
    "import net_queue as nq\n"
    "from net_queue.utils.stream import BufferSerializer\n"
    "server = importlib.import_module('net_queue.gprc.server')\n"
    "raw = BufferSerializer()\n"
    "comm = server.Communicator(nq.CommunicatorOptions(\n"
    "    netloc=nq.NetworkLocation('127.0.0.1', int(sys.argv[1])), id=uuid.uuid4(),\n"
    "    serialization=nq.SerializationOptions(load=raw.load, dump=raw.dump)))\n"
    "print('ready', flush=True)\n"
    "while True:\n"
    "    m = comm.get()\n"
    "    for f in [comm.put(bytes([i]) * (1 << 20), m.peer) for i in range(20)]:\n"
    "        f.result()\n";

static pid_t ref_pid;
static int ref_out = -1;

/* Read one line from fd within timeout_ms into buf. */
static int read_line(int fd, char *buf, size_t cap, int64_t timeout_ms)
{
    int64_t end = nqt_now_ms() + timeout_ms;
    size_t n = 0;
    while (n + 1 < cap && nqt_now_ms() < end) {
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (ch == '\n')
            break;
        buf[n++] = ch;
    }
    buf[n] = 0;
    return (int)n;
}

/* Four times over: the reference server pushes 20 MiB to a client that
 * takes nothing for 1.5 s (receive queue limit 2 MiB: its rounds stall,
 * and a round may begin while the queue is full), then the client takes
 * all 20. Every message arrives, in order, and close and free return
 * within close's deadline. Before: a round that began on a full queue
 * asked for the server's initial metadata only with its first receive,
 * which came later without it; gRPC completes no receive before initial
 * metadata was asked for, so that round hung with messages in it (they
 * never came) and the close's destroy waited for it for ever (4 runs out
 * of 4 failed). Keepalive 1000 ms: the client's pings during the stalls
 * (after 500 ms of silence) must not earn a GOAWAY too_many_pings from
 * the reference (gRPC's default ping policy answers the 4th within 5 min).
 * Nothing is sent after the last cycle: the reference server has been
 * seen to drop the connection some seconds after a long stall. */
static void test_ref_stalled_client(void **state)
{
    int port = nqt_free_port();
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    char *py = getenv("NQ_REF_PYTHON");
    char *argv[] = {py, "-c", (char *)ref_server_py, ps, NULL};
    assert_int_equal(posix_spawn(&ref_pid, py, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    ref_out = fds[0];
    children[nchildren++] = ref_pid;
    char line[64];
    read_line(ref_out, line, sizeof line, 20000);
    assert_string_equal(line, "ready");

    nq_options *o = nqt_opts(port);
    assert_int_equal(nq_options_set_queue_limit(o, 2u << 20), NQ_OK);
    assert_int_equal(nq_options_set_keepalive(o, 1000), NQ_OK);
    nqt_log log;
    nqt_log_init(&log);
    nqt_log_attach(o, &log);
    nq_comm *c = g_client(o);
    for (int cycle = 0; cycle < 4; cycle++) {
        nq_future *f = NULL;
        nq_status r = NQ_EIO;
        assert_int_equal(nq_comm_put_future(c, "go", 2, NULL, 0, &f), NQ_OK);
        assert_int_equal(nq_future_wait(f, NQT_LONG_MS, &r), NQ_OK);
        assert_int_equal(r, NQ_OK);
        nq_future_free(f);
        nqt_sleep_ms(1500);
        for (int i = 0; i < 20; i++) {
            nq_msg *m = NULL;
            nq_status st = nq_comm_get(c, NULL, 0, 10000, &m);
            if (st != NQ_OK)
                fail_msg("cycle %d: message %d of 20 did not come: %s", cycle, i, nq_strerror(st));
            assert_int_equal(nq_msg_size(m), 1u << 20);
            const uint8_t *d = nq_msg_data(m);
            assert_int_equal(d[0], i);
            assert_int_equal(d[(1u << 20) - 1], i);
            nq_msg_free(m);
        }
    }
    /* the reference never ends a session: close gives up at its deadline */
    int64_t ms;
    timed_close(c, 2000, &ms);
    assert_true(ms < 2000 + MARGIN_MS);
    timed_free(c);
    nqt_log_print(&log, "client");
    assert_false(nqt_log_has(&log, "too_many_pings"));
    assert_false(nqt_log_has(&log, "Too many pings"));
    nqt_log_destroy(&log);
    close(ref_out);
    ref_out = -1;
    reap(ref_pid);
}

int main(int argc, char **argv)
{
    if (argc == 5)
        child_ca = argv[4];
    if (argc >= 4 && strcmp(argv[1], "--child-client") == 0)
        return child_client(atoi(argv[2]), atol(argv[3]));
    if (argc >= 4 && strcmp(argv[1], "--child-server") == 0)
        return child_server(atoi(argv[2]), atol(argv[3]));
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n <= 0)
        return 1;
    self_path[n] = 0;
    signal(SIGALRM, on_alarm);
    if (getenv("NQT_FILTER"))
        cmocka_set_test_filter(getenv("NQT_FILTER"));
    if (argc == 2 && strcmp(argv[1], "--ref") == 0) {
        /* as the interop tests: no reference is a failure, never a skip */
        const char *py = getenv("NQ_REF_PYTHON");
        if (!py || !*py || access(py, X_OK) != 0) {
            fprintf(stderr, "MISSING PREREQUISITE: no reference Python (NQ_REF_PYTHON); ./scripts/setup.sh makes .venv-ref\n");
            return 1;
        }
        const struct CMUnitTest ref[] = {
            cmocka_unit_test_setup_teardown(test_ref_stalled_client, setup, teardown),
        };
        return cmocka_run_group_tests(ref, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_killed_client_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_client_close_forever, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_killed_and_frozen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_clients_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_round_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_frozen_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frozen_server_client_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_frozen_server, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
