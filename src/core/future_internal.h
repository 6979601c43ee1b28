/* Internal: the completion adapters nq_comm_put_future/put_cq install. */
#ifndef NQ_CORE_FUTURE_INTERNAL_H
#define NQ_CORE_FUTURE_INTERNAL_H

#include <netqueue/future.h>
#include <netqueue/receive.h>

struct nq_cq_token;

/* A future with two references: the caller's and the put's. */
nq_status nq_future_create(nq_future **out);
/* nq_done_fn for futures: completes and drops the put's reference. */
void nq_future_complete(void *future, nq_status status);
/* nq_get_fn for receive futures: stores msg, completes, drops a reference. */
void nq_future_complete_get(void *future, nq_status status, nq_msg *msg);
/* The put failed synchronously: free the future entirely. */
void nq_future_abandon(nq_future *f);

nq_status nq_cq_token_new(struct nq_cq_token **out, nq_cq *cq, uint64_t tag);
/* The put failed synchronously: the token is never posted. */
void nq_cq_token_free(struct nq_cq_token *t);
/* nq_done_fn for completion queues: posts the token (which becomes the event). */
void nq_cq_complete(void *token, nq_status status);
/* nq_get_fn for completion queues: posts the token with the message. */
void nq_cq_complete_get(void *token, nq_status status, nq_msg *msg);

/* The library's own completions (future, cq) are safe on any thread; a
 * user's callback is documented to run on the I/O thread. */
static inline int nq_done_fn_any_thread(nq_done_fn fn)
{
    return fn == nq_future_complete || fn == nq_cq_complete;
}

#endif
