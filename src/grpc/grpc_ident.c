/* The gRPC client identity that survives an L7 proxy.
 *
 * Without it the server knows a client by its call's peer address, and
 * behind a proxy (nginx grpc_pass, Envoy, ...) that address is the proxy's
 * upstream connection: shared by many clients when the proxy keeps
 * connections alive, a new one per call when it does not. So our clients
 * send, on every call, `nq-client-id: <32 lowercase hex>` (their id, the
 * one their ini carries; a proxy can hash on it to keep a client on one
 * backend) and `nq-link: <16 lowercase hex>` (a random token drawn per
 * link, so that a client that starts over with a new ini, or a second
 * client claiming the same id, is a new link and not more bytes of the
 * old one). The reference ignores unknown metadata; calls without the
 * headers (reference clients) are keyed by address as before. A link's
 * ini must carry the header's id: the headers cannot be used to speak for
 * another client. */
#include <grpc/byte_buffer_reader.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "grpc/grpc_internal.h"

void nq_gq_ident_new_link(struct gq_state *g)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t r[NQ_GQ_LINK_HEX / 2];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n <= 0) { /* no entropy at all: a token still differs per link */
            static unsigned long seq;
            snprintf(g->link_hex, sizeof g->link_hex, "%016lx", (unsigned long)(uintptr_t)g ^ ++seq);
            return;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof r; i++) {
        g->link_hex[2 * i] = hex[r[i] >> 4];
        g->link_hex[2 * i + 1] = hex[r[i] & 15];
    }
    g->link_hex[NQ_GQ_LINK_HEX] = '\0';
}

void nq_gq_ident_metadata(struct gq_state *g, struct gq_call *k)
{
    if (!g->id_hex[0])
        nq_id_format(g->c->o.id, g->id_hex);
    /* values copied into the call: gRPC may hold them until it is freed */
    k->md_send[0].key = grpc_slice_from_static_string(NQ_GQ_HDR_ID);
    k->md_send[0].value = grpc_slice_from_copied_string(g->id_hex);
    k->md_send[1].key = grpc_slice_from_static_string(NQ_GQ_HDR_LINK);
    k->md_send[1].value = grpc_slice_from_copied_string(g->link_hex);
    k->md_send_n = 2;
}

/* The value of key in md (NULL: absent; -1 in *count: more than once). */
static const grpc_slice *find(const grpc_metadata_array *md, const char *key, int *count)
{
    const grpc_slice *v = NULL;
    *count = 0;
    for (size_t i = 0; i < md->count; i++)
        if (grpc_slice_str_cmp(md->metadata[i].key, key) == 0) {
            v = &md->metadata[i].value;
            ++*count;
        }
    return v;
}

/* lowercase hex of exactly n digits */
static int is_hex(const grpc_slice *v, size_t n)
{
    if (GRPC_SLICE_LENGTH(*v) != n)
        return 0;
    const uint8_t *p = GRPC_SLICE_START_PTR(*v);
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
    return 1;
}

int nq_gq_ident_key(struct gq_call *k, char *key, uint8_t *id, char *why, size_t whyn)
{
    int nid, nlink;
    const grpc_slice *vid = find(&k->md_req, NQ_GQ_HDR_ID, &nid);
    const grpc_slice *vlink = find(&k->md_req, NQ_GQ_HDR_LINK, &nlink);
    if (!vid && !vlink)
        return 0;
    if (nid != 1 || nlink != 1) {
        snprintf(why, whyn, "%s and %s must come once each (got %d and %d)", NQ_GQ_HDR_ID,
                 NQ_GQ_HDR_LINK, nid, nlink);
        return -1;
    }
    if (!is_hex(vid, 2 * NQ_ID_SIZE) || !is_hex(vlink, NQ_GQ_LINK_HEX)) {
        snprintf(why, whyn, "%s must be %d lowercase hex digits and %s %d lowercase hex digits", NQ_GQ_HDR_ID,
                 2 * NQ_ID_SIZE, NQ_GQ_HDR_LINK, NQ_GQ_LINK_HEX);
        return -1;
    }
    char hex[2 * NQ_ID_SIZE + 1];
    memcpy(hex, GRPC_SLICE_START_PTR(*vid), 2 * NQ_ID_SIZE);
    hex[2 * NQ_ID_SIZE] = '\0';
    nq_id_parse(hex, id);
    snprintf(key, NQ_GQ_KEY_MAX, "%s/%.*s", hex, NQ_GQ_LINK_HEX, (const char *)GRPC_SLICE_START_PTR(*vlink));
    return 1;
}

int nq_gq_ident_check(struct gq_peer *p, grpc_byte_buffer *b, char *why, size_t whyn)
{
    if (!p->by_header || p->ini_checked)
        return 0;
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, b))
        return 0; /* nq_gq_feed reports it */
    grpc_slice sl;
    size_t need = sizeof p->ini;
    while ((size_t)p->ini_n < need && grpc_byte_buffer_reader_next(&r, &sl)) {
        size_t n = GRPC_SLICE_LENGTH(sl);
        if (n > need - (size_t)p->ini_n)
            n = need - (size_t)p->ini_n;
        memcpy(p->ini + p->ini_n, GRPC_SLICE_START_PTR(sl), n);
        p->ini_n += (int)n;
        grpc_slice_unref(sl);
    }
    grpc_byte_buffer_reader_destroy(&r);
    if (p->ini_n < 8)
        return 0; /* not even its length yet: nothing was decided on it */
    uint64_t len = 0;
    for (int i = 0; i < 8; i++)
        len = len << 8 | p->ini[i];
    if (len != NQ_ID_SIZE) {
        /* our clients begin every link with their ini: this is the middle
         * of a link this server does not know (another server's, or lost) */
        p->ini_checked = 1;
        snprintf(why, whyn, "unknown nq-link (another server's, or lost): start a new link with your ini");
        return -2;
    }
    if ((size_t)p->ini_n < need)
        return 0;
    p->ini_checked = 1;
    if (memcmp(p->ini + 8, p->hid, NQ_ID_SIZE) == 0)
        return 0;
    char said[2 * NQ_ID_SIZE + 1], is[2 * NQ_ID_SIZE + 1];
    nq_id_format(p->hid, said);
    nq_id_format(p->ini + 8, is);
    snprintf(why, whyn, "%s header says %s but the ini says %s", NQ_GQ_HDR_ID, said, is);
    return -1;
}
