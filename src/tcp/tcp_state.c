/* State shared by the TCP server and client: the connection list and the
 * receive buffer. */
#include <stdlib.h>
#include <unistd.h>

#include "tcp/tcp_internal.h"

struct tcp_state *nq_tcp_state_new(struct nq_comm *c)
{
    struct tcp_state *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->rbuf = malloc(NQ_TCP_RBUF);
    if (!t->rbuf) {
        free(t);
        return NULL;
    }
    t->c = c;
    t->listen_fd = -1;
    return t;
}

void nq_tcp_close_all(struct tcp_state *t, const char *why)
{
    while (t->conns)
        nq_tcp_conn_close(t->conns, why);
}

void nq_tcp_resume_all(struct tcp_state *t)
{
    for (struct tcp_conn *k = t->conns; k; k = k->next)
        nq_tcp_conn_update(k);
}

void nq_tcp_state_free(struct tcp_state *t)
{
    if (!t)
        return;
    if (t->listen_fd >= 0)
        close(t->listen_fd);
    if (t->ssl_ctx)
        SSL_CTX_free(t->ssl_ctx);
    free(t->rbuf);
    free(t->tls_stage);
    free(t);
}
