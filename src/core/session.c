/* Per-peer send queues: frames waiting for the transport, written with
 * gather I/O, completed (and their puts' callbacks run) once fully out. */
#include <stdlib.h>

#include "core/comm_internal.h"
#include "core/future_internal.h"

int nq_session_has_output(const struct nq_session *s)
{
    return s->head != NULL;
}

int nq_session_finished(const struct nq_session *s)
{
    return s->fin_sent && s->fin_received && !s->head;
}

int nq_session_gather(struct nq_session *s, struct iovec *iov, int max, uint64_t max_bytes,
                      int merge)
{
    return nq_session_gather_at(s, 0, iov, max, max_bytes, merge);
}

int nq_session_gather_at(struct nq_session *s, uint64_t after, struct iovec *iov, int max,
                         uint64_t max_bytes, int merge)
{
    int n = 0;
    uint64_t total = 0;
    uint64_t skip = s->head_off + after;
    for (struct nq_send_item *it = s->head; it && n < max && total < max_bytes;
         it = merge ? it->next : NULL) {
        struct nq_payload *p = it->p;
        for (int i = 0; i < p->niov && n < max && total < max_bytes; i++) {
            uint64_t len = p->iov[i].iov_len;
            if (skip >= len) {
                skip -= len;
                continue;
            }
            uint64_t take = len - skip;
            if (take > max_bytes - total)
                take = max_bytes - total;
            iov[n].iov_base = (uint8_t *)p->iov[i].iov_base + skip;
            iov[n].iov_len = (size_t)take;
            skip = 0;
            total += take;
            n++;
        }
    }
    return n;
}

static void item_done(struct nq_comm *c, struct nq_session *s, struct nq_send_item *it,
                      nq_status st)
{
    struct nq_put_req *r = it->req;
    if (r && st == NQ_OK) { /* a data frame (control frames have no put) */
        uint64_t payload = it->p->frame_size - 8;
        s->msgs_out++;
        s->bytes_out += payload;
        c->ctr.msgs_out++;
        c->ctr.bytes_out += payload;
    }
    nq_payload_unref(it->p);
    if (!r) {
        free(it);
        return;
    }
    if (st != NQ_OK && r->result == NQ_OK)
        r->result = st;
    if (it != &r->item)
        free(it);
    if (--r->pending == 0) {
        /* the common case inline (every message's path): the I/O thread
         * completing a put of its own */
        if (!r->whole && !c->in_direct) {
            nq_count_put_done(c, r->result);
            if (r->fn)
                r->fn(r->user, r->result);
            nq_put_req_free(r);
            return;
        }
        nq_core_put_complete(c, r);
    }
}

void nq_session_consume(struct nq_comm *c, struct nq_session *s, uint64_t n)
{
    c->ctr.frame_bytes_out += n;
    uint64_t off = s->head_off + n;
    while (s->head && off >= s->head->p->frame_size) {
        struct nq_send_item *it = s->head;
        off -= it->p->frame_size;
        s->head = it->next;
        if (!s->head)
            s->tail = NULL;
        if (it->fin)
            s->fin_sent = 1;
        if (s->link && !s->link->peer_ini) {
            it->next = NULL; /* still held (and counted) until the peer's ini */
            if (s->sent_tail)
                s->sent_tail->next = it;
            else
                s->sent_head = it;
            s->sent_tail = it;
        } else {
            s->queued -= it->p->frame_size;
            item_done(c, s, it, NQ_OK);
        }
    }
    s->head_off = off;
}

void nq_session_ack(struct nq_comm *c, struct nq_session *s)
{
    while (s->sent_head) {
        struct nq_send_item *it = s->sent_head;
        s->sent_head = it->next;
        s->queued -= it->p->frame_size;
        item_done(c, s, it, NQ_OK);
    }
    s->sent_tail = NULL;
}

void nq_session_requeue(struct nq_session *s)
{
    if (!s->sent_head)
        return;
    for (struct nq_send_item *it = s->sent_head; it; it = it->next)
        if (it->fin)
            s->fin_sent = 0;
    s->sent_tail->next = s->head;
    if (!s->head)
        s->tail = s->sent_tail;
    s->head = s->sent_head;
    s->sent_head = s->sent_tail = NULL;
    s->head_off = 0;
}

void nq_session_push(struct nq_session *s, struct nq_send_item *it)
{
    s->queued += it->p->frame_size;
    it->next = NULL;
    if (s->tail)
        s->tail->next = it;
    else
        s->head = it;
    s->tail = it;
}

void nq_session_push_front(struct nq_session *s, struct nq_send_item *it)
{
    s->queued += it->p->frame_size;
    it->next = s->head;
    s->head = it;
    if (!s->tail)
        s->tail = it;
}

void nq_session_fail_all(struct nq_comm *c, struct nq_session *s, nq_status st)
{
    nq_session_requeue(s);
    while (s->head) {
        struct nq_send_item *it = s->head;
        s->head = it->next;
        s->queued -= it->p->frame_size;
        item_done(c, s, it, st);
    }
    s->tail = NULL;
    s->head_off = 0;
}

void nq_session_fail_item(struct nq_comm *c, struct nq_session *s, struct nq_send_item *it,
                          nq_status st)
{
    s->queued -= it->p->frame_size;
    item_done(c, s, it, st);
}
