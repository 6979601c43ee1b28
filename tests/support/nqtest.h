/*
 * Shared helpers for the integration tests (public ABI only).
 *
 * - ports, options and communicators on loopback (plain and TLS from
 *   NQ_TEST_CERTS);
 * - a log sink that counts and keeps what a communicator logged;
 * - wait helpers;
 * - a raw-socket "scripted peer" for wire-level tests: connect, send bytes
 *   with cuts anywhere, read frames with a timeout, wait for EOF.
 *
 * The nqt_* functions that return a handle assert success with cmocka, so
 * they may only be called from a test's own (main) thread.
 */
#ifndef NQTEST_H
#define NQTEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <sys/types.h>
#include <pthread.h>

#include <cmocka.h>

#include <netqueue/netqueue.h>

/* Timeout used where a test waits for something that must happen. */
#define NQT_LONG_MS 20000
/* Timeout used where a test checks that something does not happen. */
#define NQT_SHORT_MS 300

/* ---- time ------------------------------------------------------------- */

int64_t nqt_now_ms(void);
void nqt_sleep_ms(int64_t ms);

/* ---- processes -------------------------------------------------------- */

/* SIGSTOP our child pid and return once it has stopped. kill() only
 * queues the signal: a child that runs on for a moment can still answer
 * what the test sends next, believing it frozen (it_grpc_life failed so
 * in CI). */
void nqt_freeze(pid_t pid);

/* ---- ports, certificates, options ------------------------------------- */

/* A loopback TCP port that was free a moment ago (bind port 0, read back). */
int nqt_free_port(void);

/* Path of a file in NQ_TEST_CERTS ("ca.pem", ...); fails the test if unset or absent. */
const char *nqt_cert(const char *name);

/* Options for 127.0.0.1:port (port 0 for a server: ephemeral). */
nq_options *nqt_opts(int port);
/* TLS server options with cert/key names from NQ_TEST_CERTS. */
nq_options *nqt_tls_server_opts(int port, const char *cert, const char *key);
/* TLS client options verifying against ca (a name in NQ_TEST_CERTS). */
nq_options *nqt_tls_client_opts(int port, const char *ca);

/* nq_comm_new that must succeed; frees opts. */
nq_comm *nqt_server(nq_options *opts);
nq_comm *nqt_client(nq_options *opts);
/* Plain server on an ephemeral port; its port into *port. */
nq_comm *nqt_plain_server(int *port);
/* Plain client of 127.0.0.1:port. */
nq_comm *nqt_plain_client(int port);

int nqt_port_of(nq_comm *server);
void nqt_id_of(nq_comm *comm, uint8_t id[NQ_ID_SIZE]);

/* ---- log capture ------------------------------------------------------ */

typedef struct nqt_log {
    pthread_mutex_t mu;
    int nerror, nwarn, nother;
    char text[8192]; /* all lines so far, truncated */
} nqt_log;

void nqt_log_init(nqt_log *log);
/* Route opts' log lines (WARN and more severe) into log. */
void nqt_log_attach(nq_options *opts, nqt_log *log);
/* Number of WARN or ERROR lines so far. */
int nqt_log_bad(nqt_log *log);
/* Wait until nqt_log_bad(log) >= n; returns the count seen. */
int nqt_log_wait_bad(nqt_log *log, int n, int64_t timeout_ms);
void nqt_log_print(nqt_log *log, const char *what);
/* 1 if a line so far contains needle (under the log's lock: the I/O
 * thread may be writing). */
int nqt_log_has(nqt_log *log, const char *needle);
void nqt_log_destroy(nqt_log *log);

/* ---- waits and messages ----------------------------------------------- */

/* Number of live peers of comm. */
size_t nqt_npeers(nq_comm *comm);
/* Wait until comm has exactly n live peers; returns the last count seen. */
size_t nqt_wait_npeers(nq_comm *comm, size_t n, int64_t timeout_ms);
/* Wait until peer id is (live=1) or is not (live=0) among comm's peers. */
int nqt_wait_peer(nq_comm *comm, const uint8_t *id, int live, int64_t timeout_ms);

/* put that must return NQ_OK (no callback). */
void nqt_put(nq_comm *comm, const void *data, size_t size,
             const uint8_t *peers, size_t npeers);
void nqt_put_str(nq_comm *comm, const char *s, const uint8_t *peers, size_t npeers);

/*
 * Get one message (from any peer) within NQT_LONG_MS and check its payload
 * equals data[0..size) and, if from is not NULL, its sender. Returns it freed.
 */
void nqt_expect(nq_comm *comm, const void *data, size_t size, const uint8_t *from);
void nqt_expect_str(nq_comm *comm, const char *s, const uint8_t *from);
/* Check that no message arrives within timeout_ms. */
void nqt_expect_none(nq_comm *comm, int64_t timeout_ms);

/* Round trip: client puts, server gets and echoes back, client gets it. */
void nqt_round_trip(nq_comm *server, nq_comm *client, const char *text);

/* Deterministic pseudo-random bytes (seeded xorshift). */
void nqt_fill(void *buf, size_t size, uint64_t seed);

/* ---- raw scripted peer ------------------------------------------------ */

/* 8-byte big-endian length header. */
void nqt_header(uint8_t out[8], uint64_t len);
uint64_t nqt_get_be64(const uint8_t in[8]);

/* Connect a plain TCP socket to 127.0.0.1:port (retrying up to 5 s); -1 on failure. */
int nqt_raw_connect(int port);
/* 1 when something accepts on 127.0.0.1:port now (one try), else 0. */
int nqt_port_open(int port);
/* Listening socket on 127.0.0.1, ephemeral port into *port. */
int nqt_raw_listen(int *port);
/* Accept one connection within timeout_ms; -1 on timeout/error. */
int nqt_raw_accept(int lfd, int64_t timeout_ms);

/* Send all bytes; 0 on success, -1 on error (EPIPE is an error). */
int nqt_raw_send(int fd, const void *buf, size_t len);
/* Send in pieces of step bytes, sleeping pause_ms between pieces. */
int nqt_raw_send_steps(int fd, const void *buf, size_t len, size_t step, int pause_ms);
/* Send buf cut at the given offsets (ascending), pausing between pieces. */
int nqt_raw_send_cuts(int fd, const void *buf, size_t len,
                      const size_t *cuts, size_t ncuts, int pause_ms);
/* Send one frame: header + payload. */
int nqt_raw_send_frame(int fd, const void *payload, uint64_t len);

/*
 * Read exactly len bytes within timeout_ms overall (a socket or a pipe).
 * Returns 0 ok, -1 EOF or error before len bytes, -2 timeout.
 */
int nqt_raw_read(int fd, void *buf, size_t len, int64_t timeout_ms);
/*
 * Read one frame (payload up to max bytes; longer ones fail with -3).
 * *payload is malloc'd (free it); returns as nqt_raw_read.
 */
int nqt_raw_read_frame(int fd, uint8_t **payload, uint64_t *len, uint64_t max,
                       int64_t timeout_ms);
/*
 * Read and discard until the peer closes: 0 on EOF (or reset), -2 on
 * timeout. *nbytes (may be NULL) gets how many bytes were discarded.
 */
int nqt_raw_wait_eof(int fd, int64_t timeout_ms, size_t *nbytes);
void nqt_raw_close(int fd);
/* Close with RST (SO_LINGER 0) instead of FIN. */
void nqt_raw_abort(int fd);

/* Raise RLIMIT_NOFILE soft limit to at least n (up to the hard limit); returns new soft. */
long nqt_raise_nofile(long n);

/* Remove a test's scratch folder and empty dir[] (kept, and named on
 * stderr, when the environment variable keep_env is set: for debugging). */
void nqt_remove_dir(char *dir, const char *keep_env);

#endif
