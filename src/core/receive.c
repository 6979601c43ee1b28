/* The public receive calls of ABI 1.2 (abi/netqueue/receive.h): the three
 * asynchronous forms, cancel, the readiness descriptor. The receivers'
 * logic is in recvq.c; this file adapts the forms to it. */
#include <stdlib.h>

#include "core/comm_internal.h"
#include "core/future_internal.h"
#include "core/status.h"

static nq_status check(nq_comm *c, const uint8_t *peers, size_t npeers)
{
    if (!c)
        return nq_fail(NQ_EINVAL, "get: comm is NULL");
    if (npeers && !peers)
        return nq_fail(NQ_EINVAL, "get: peers is NULL with npeers %zu", npeers);
    return NQ_OK;
}

nq_status nq_comm_get_async(nq_comm *c, const uint8_t *peers, size_t npeers, int64_t timeout_ms,
                            nq_get_fn fn, void *user, uint64_t *op_id)
{
    nq_status st = check(c, peers, npeers);
    if (st != NQ_OK)
        return st;
    if (!fn)
        return nq_fail(NQ_EINVAL, "get: callback is NULL");
    return nq_recvq_get_async(&c->rq, NQ_RECV_CALLBACK, peers, npeers, timeout_ms, fn, user,
                              op_id);
}

nq_status nq_comm_get_future(nq_comm *c, const uint8_t *peers, size_t npeers, int64_t timeout_ms,
                             uint64_t *op_id, nq_future **out)
{
    nq_status st = check(c, peers, npeers);
    if (st != NQ_OK)
        return st;
    if (!out)
        return nq_fail(NQ_EINVAL, "get: out is NULL");
    nq_future *f;
    if ((st = nq_future_create(&f)) != NQ_OK)
        return st;
    /* published before the receive: it may complete before this returns */
    *out = f;
    st = nq_recvq_get_async(&c->rq, NQ_RECV_FUTURE, peers, npeers, timeout_ms,
                            nq_future_complete_get, f, op_id);
    if (st != NQ_OK) {
        *out = NULL;
        nq_future_abandon(f);
    }
    return st;
}

nq_status nq_comm_get_cq(nq_comm *c, const uint8_t *peers, size_t npeers, int64_t timeout_ms,
                         nq_cq *cq, uint64_t tag, uint64_t *op_id)
{
    nq_status st = check(c, peers, npeers);
    if (st != NQ_OK)
        return st;
    if (!cq)
        return nq_fail(NQ_EINVAL, "get: cq is NULL");
    struct nq_cq_token *t;
    if ((st = nq_cq_token_new(&t, cq, tag)) != NQ_OK)
        return st;
    st = nq_recvq_get_async(&c->rq, NQ_RECV_CQ, peers, npeers, timeout_ms, nq_cq_complete_get,
                            t, op_id);
    if (st != NQ_OK)
        nq_cq_token_free(t);
    return st;
}

nq_status nq_comm_get_cancel(nq_comm *c, uint64_t op_id)
{
    if (!c)
        return nq_fail(NQ_EINVAL, "get: comm is NULL");
    return nq_recvq_cancel(&c->rq, op_id);
}

nq_status nq_comm_fd(nq_comm *c, int *fd)
{
    if (!c || !fd)
        return nq_fail(NQ_EINVAL, "get: NULL argument");
    int f = nq_recvq_fd(&c->rq);
    if (f < 0)
        return nq_fail(NQ_EIO, "get: cannot create the readiness descriptor");
    *fd = f;
    return NQ_OK;
}
