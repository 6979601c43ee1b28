/* Internal: received messages. */
#ifndef NQ_CORE_MSG_H
#define NQ_CORE_MSG_H

#include <pthread.h>
#include <stdatomic.h>
#include <netqueue/comm.h>
#include <netqueue/receive.h>

#include "core/mpsc.h"

struct nq_msg {
    struct nq_mpsc_node node; /* the I/O thread's lock-free hand-over */
    struct nq_msg *next;
    struct nq_msg *prev;
    uint8_t peer[NQ_ID_SIZE];
    size_t size; /* payload bytes declared by the frame */
    size_t have; /* bytes received so far */
    size_t cap;  /* bytes allocated at data */
    size_t alloc_cap; /* bytes of the allocation holding this struct (blockpool.h) */
    uint8_t *data;
    nq_msg_kind kind;       /* data, or a peer event (then data/size are empty) */
    const char *detail;     /* an event's text, in inline_buf; NULL for data */
    uint8_t inline_buf[]; /* small payloads live here, one allocation */
};

/* Payloads up to this size are stored inline and allocated at once. */
#define NQ_MSG_INLINE_MAX (64u * 1024u)
/* A bigger declared size is not trusted: the buffer grows as bytes come. */
#define NQ_MSG_FIRST_CAP (8u << 20)

struct nq_msg *nq_msg_alloc(size_t size);
/* Make room for at least `need` received bytes; -1 if out of memory. */
int nq_msg_reserve(struct nq_msg *m, size_t need);

#include "core/recvq.h"

#endif
