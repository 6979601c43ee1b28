/*
 * Test helper: a private nginx in front of gRPC backends, as an L7 proxy
 * that terminates TLS (the certificates of NQ_TEST_CERTS) and passes
 * /grpc/comm with grpc_pass to an upstream that hashes on the
 * nq-client-id header. Runs in the foreground (daemon off) with a
 * generated config, its pid, logs and temp files in a temporary folder,
 * on a free loopback port; stopped by the test (and killed if the test
 * process dies).
 */
#ifndef NQT_NGINX_H
#define NQT_NGINX_H

#include <sys/types.h>

#define NQT_NGINX_MAX_BACKENDS 8

typedef struct nqt_nginx {
    pid_t pid;
    int port;                /* the TLS listener clients connect to */
    int keepalive;           /* idle upstream connections kept (0: one per call) */
    int timeout_s;           /* nginx's read/send timeouts, both sides */
    int nbackends;
    int backends[NQT_NGINX_MAX_BACKENDS];
    char dir[128];
} nqt_nginx;

/* Start nginx for the backends' ports (fails the test, naming the
 * package, when nginx is not installed). keepalive: nginx's upstream
 * keepalive (idle connections cached per worker), 0 for none. timeout_s:
 * grpc_read_timeout, grpc_send_timeout, send_timeout and
 * client_body_timeout (0: one hour). Asserts that it listens. */
void nqt_nginx_start(nqt_nginx *n, const int *backends, int nbackends, int keepalive, int timeout_s);
/* The access log so far, one line per call: "<nq-client-id> <upstream
 * address(es)> <status>" (malloc'd; NULL when unreadable). */
char *nqt_nginx_access_log(nqt_nginx *n);
/* SIGQUIT (graceful), then SIGKILL after a deadline; waits; removes the
 * folder unless NQT_NGINX_KEEP is set. */
void nqt_nginx_stop(nqt_nginx *n);

#endif
