/* A loopback TCP relay for tests: every connection made to its port is
 * relayed to 127.0.0.1:<target>, and the client-to-target direction can be
 * held, so that a test can leave a client's writes stuck (its socket
 * buffer full, the target not reading them) while the other direction
 * keeps flowing. One thread, non-blocking sockets; stopping never blocks
 * on a peer that does not read. */
#ifndef NQT_TCPPROXY_H
#define NQT_TCPPROXY_H

#include <stddef.h>

typedef struct nqt_proxy nqt_proxy;

/* Listens on 127.0.0.1 (ephemeral port); NULL on failure. */
nqt_proxy *nqt_proxy_start(int target_port);
int nqt_proxy_port(const nqt_proxy *p);
/* 1: stop reading what clients send (it waits in their socket buffers, which
 * fill); 0: relay it again. Applies to every connection, current and new. */
void nqt_proxy_hold_up(nqt_proxy *p, int hold);
/* Bytes relayed so far in each direction. */
size_t nqt_proxy_up_bytes(nqt_proxy *p);
size_t nqt_proxy_down_bytes(nqt_proxy *p);
void nqt_proxy_stop(nqt_proxy *p);

#endif
