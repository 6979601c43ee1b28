/* The public receive calls of ABI 1.2 and 1.3 (abi/netqueue/receive.h):
 * the three asynchronous forms, their kind-filtered variants, cancel, the
 * readiness descriptor. The receivers' logic is in recvq.c; this file
 * adapts the forms to it. */
#include <stdlib.h>

#include "core/comm_internal.h"
#include "core/future_internal.h"
#include "core/status.h"

static nq_status check(nq_comm *c, unsigned kinds, const uint8_t *peers, size_t npeers)
{
    if (!c)
        return nq_fail(NQ_EINVAL, "get: comm is NULL");
    if (npeers && !peers)
        return nq_fail(NQ_EINVAL, "get: peers is NULL with npeers %zu", npeers);
    if (!kinds)
        return nq_fail(NQ_EINVAL, "get: kinds is 0 (no message could ever match)");
    return NQ_OK;
}

nq_status nq_comm_get_kinds(nq_comm *c, unsigned kinds, const uint8_t *peers, size_t npeers,
                            int64_t timeout_ms, nq_msg **out)
{
    nq_status st = check(c, kinds, peers, npeers);
    if (st != NQ_OK)
        return st;
    if (!out)
        return nq_fail(NQ_EINVAL, "get: out is NULL");
    return nq_recvq_get(&c->rq, kinds, peers, npeers, timeout_ms, out);
}

nq_status nq_comm_get_batch(nq_comm *c, unsigned kinds, const uint8_t *peers, size_t npeers,
                            int64_t timeout_ms, nq_msg **msgs, size_t max, size_t *got)
{
    if (got)
        *got = 0;
    nq_status st = check(c, kinds, peers, npeers);
    if (st != NQ_OK)
        return st;
    if (!msgs || !got || max == 0)
        return nq_fail(NQ_EINVAL, "get: msgs or got is NULL, or max is 0");
    if ((st = nq_recvq_get(&c->rq, kinds, peers, npeers, timeout_ms, &msgs[0])) != NQ_OK)
        return st;
    *got = 1 + nq_recvq_get_more(&c->rq, kinds, peers, npeers, msgs + 1, max - 1);
    return NQ_OK;
}

nq_status nq_comm_get_async(nq_comm *c, const uint8_t *peers, size_t npeers, int64_t timeout_ms,
                            nq_get_fn fn, void *user, uint64_t *op_id)
{
    return nq_comm_get_kinds_async(c, NQ_KINDS_ALL, peers, npeers, timeout_ms, fn, user, op_id);
}

nq_status nq_comm_get_kinds_async(nq_comm *c, unsigned kinds, const uint8_t *peers,
                                  size_t npeers, int64_t timeout_ms, nq_get_fn fn, void *user,
                                  uint64_t *op_id)
{
    nq_status st = check(c, kinds, peers, npeers);
    if (st != NQ_OK)
        return st;
    if (!fn)
        return nq_fail(NQ_EINVAL, "get: callback is NULL");
    return nq_recvq_get_async(&c->rq, NQ_RECV_CALLBACK, kinds, peers, npeers, timeout_ms, fn,
                              user, op_id);
}

nq_status nq_comm_get_future(nq_comm *c, const uint8_t *peers, size_t npeers, int64_t timeout_ms,
                             uint64_t *op_id, nq_future **out)
{
    return nq_comm_get_kinds_future(c, NQ_KINDS_ALL, peers, npeers, timeout_ms, op_id, out);
}

nq_status nq_comm_get_kinds_future(nq_comm *c, unsigned kinds, const uint8_t *peers,
                                   size_t npeers, int64_t timeout_ms, uint64_t *op_id,
                                   nq_future **out)
{
    nq_status st = check(c, kinds, peers, npeers);
    if (st != NQ_OK)
        return st;
    if (!out)
        return nq_fail(NQ_EINVAL, "get: out is NULL");
    nq_future *f;
    if ((st = nq_future_create(&f)) != NQ_OK)
        return st;
    /* published before the receive: it may complete before this returns */
    *out = f;
    st = nq_recvq_get_async(&c->rq, NQ_RECV_FUTURE, kinds, peers, npeers, timeout_ms,
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
    return nq_comm_get_kinds_cq(c, NQ_KINDS_ALL, peers, npeers, timeout_ms, cq, tag, op_id);
}

nq_status nq_comm_get_kinds_cq(nq_comm *c, unsigned kinds, const uint8_t *peers, size_t npeers,
                               int64_t timeout_ms, nq_cq *cq, uint64_t tag, uint64_t *op_id)
{
    nq_status st = check(c, kinds, peers, npeers);
    if (st != NQ_OK)
        return st;
    if (!cq)
        return nq_fail(NQ_EINVAL, "get: cq is NULL");
    struct nq_cq_token *t;
    if ((st = nq_cq_token_new(&t, cq, tag)) != NQ_OK)
        return st;
    st = nq_recvq_get_async(&c->rq, NQ_RECV_CQ, kinds, peers, npeers, timeout_ms,
                            nq_cq_complete_get, t, op_id);
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
