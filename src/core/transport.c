/* The read-only views a transport has of its communicator (transport.h):
 * the communicator's layout stays the core's own. */
#include "core/comm_internal.h"

const struct nq_options *nq_core_opts(const struct nq_comm *c) { return &c->o; }
struct ev_loop *nq_core_loop(const struct nq_comm *c) { return c->loop; }
nq_purpose nq_core_purpose(const struct nq_comm *c) { return c->purpose; }
int nq_core_shard(const struct nq_comm *c) { return c->shard_ix; }
int nq_core_closing(const struct nq_comm *c) { return c->close_phase; }
void *nq_core_transport(const struct nq_comm *c) { return c->transport; }
void nq_core_set_transport(struct nq_comm *c, void *state) { c->transport = state; }
void nq_core_set_port(struct nq_comm *c, int port) { c->port = port; }
struct nq_session *nq_core_client_session(struct nq_comm *c) { return c->sessions; }
struct nq_link *nq_session_link(const struct nq_session *s) { return s->link; }
void nq_core_note_change(struct nq_comm *c) { c->io_changed = 1; }

int nq_core_closed(struct nq_comm *c)
{
    /* written under the root's close_mu by whichever thread ends the close */
    pthread_mutex_lock(&nq_root(c)->close_mu);
    int done = c->close_done;
    pthread_mutex_unlock(&nq_root(c)->close_mu);
    return done;
}

int nq_core_reading_paused(struct nq_comm *c)
{
    return atomic_load(&nq_root(c)->rq.paused) && !c->close_phase;
}

int nq_core_pause_if_full(struct nq_comm *c)
{
    return nq_recvq_pause_if_full(&nq_root(c)->rq);
}

void nq_core_link_init(struct nq_comm *c, struct nq_link *l)
{
    nq_framer_init(&l->fr, c->o.message_limit < NQ_ID_SIZE ? NQ_ID_SIZE : c->o.message_limit);
    nq_framer_set_pool(&l->fr, &c->rx_pool);
    c->ctr.connections++;
}
