/*
 * Pickle encoder: the bytes Python 3.13's C pickler writes for
 * pickle.dumps(v, protocol=5), reproduced step by step — framing included,
 * since peers compare and cache pickles byte for byte.
 *
 * Python emits BINGET when it meets the *same object* twice; an nq_value is
 * a tree (no node is shared), so we never emit BINGET. Every str, bytes,
 * bytearray, non-empty tuple, list and dict is followed by MEMOIZE as in
 * Python, which keeps the memo numbering of our output identical.
 */
#include <stdlib.h>
#include <string.h>

#include "codec/pickle_ops.h"
#include "codec/value_internal.h"
#include "core/status.h"

typedef struct writer {
    uint8_t *buf;
    size_t len, cap;
    bool framing;
    bool in_frame;
    size_t frame_start; /* offset of the 9 reserved header bytes */
    bool oom;
} writer;

static bool reserve(writer *w, size_t n)
{
    if (w->oom)
        return false;
    if (n > SIZE_MAX - w->len) {
        w->oom = true;
        return false;
    }
    size_t need = w->len + n;
    if (need <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *b = realloc(w->buf, cap);
    if (!b) {
        w->oom = true;
        return false;
    }
    w->buf = b;
    w->cap = cap;
    return true;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A frame that ends up smaller than PK_FRAME_MIN loses its header. */
static void commit_frame(writer *w)
{
    if (!w->framing || !w->in_frame)
        return;
    size_t body = w->len - w->frame_start - PK_FRAME_HEADER;
    uint8_t *h = w->buf + w->frame_start;
    if (body >= PK_FRAME_MIN) {
        h[0] = PK_FRAME;
        put_le(h + 1, body, 8);
    } else {
        memmove(h, h + PK_FRAME_HEADER, body);
        w->len -= PK_FRAME_HEADER;
    }
    w->in_frame = false;
}

/* Python checks, before saving each value, whether the frame is full. */
static void opcode_boundary(writer *w)
{
    if (w->framing && w->in_frame && w->len - w->frame_start - PK_FRAME_HEADER >= PK_FRAME_TARGET)
        commit_frame(w);
}

static void emit(writer *w, const void *data, size_t n)
{
    bool open = w->framing && !w->in_frame;
    if (!reserve(w, n + (open ? PK_FRAME_HEADER : 0)))
        return;
    if (open) {
        w->frame_start = w->len;
        w->in_frame = true;
        w->len += PK_FRAME_HEADER;
    }
    if (n)
        memcpy(w->buf + w->len, data, n);
    w->len += n;
}

static void emit_op(writer *w, uint8_t op)
{
    emit(w, &op, 1);
}

/* Payloads of 64 KiB or more go outside any frame, after closing the open one. */
static void emit_blob(writer *w, const uint8_t *hdr, size_t hlen, const uint8_t *data, size_t n)
{
    bool framing = w->framing;
    if (n >= PK_FRAME_TARGET) {
        commit_frame(w);
        w->framing = false;
    }
    emit(w, hdr, hlen);
    emit(w, data, n);
    w->framing = framing;
}

static void save_int(writer *w, const nq_value *v)
{
    uint8_t h[5];
    size_t size = v->u.integer.size;
    int64_t x = v->u.integer.small;
    if (size <= 4 && x >= 0 && x <= 0xff) {
        h[0] = PK_BININT1, h[1] = (uint8_t)x;
        emit(w, h, 2);
    } else if (size <= 4 && x >= 0 && x <= 0xffff) {
        h[0] = PK_BININT2;
        put_le(h + 1, (uint64_t)x, 2);
        emit(w, h, 3);
    } else if (size <= 4) {
        h[0] = PK_BININT;
        put_le(h + 1, (uint64_t)x, 4);
        emit(w, h, 5);
    } else if (size < 256) {
        h[0] = PK_LONG1, h[1] = (uint8_t)size;
        emit(w, h, 2);
        emit(w, nq_int_bytes(v), size);
    } else if (size <= INT32_MAX) {
        h[0] = PK_LONG4;
        put_le(h + 1, size, 4);
        emit(w, h, 5);
        emit(w, nq_int_bytes(v), size);
    } else {
        w->oom = true; /* unreachable in practice: a 2 GiB int */
    }
}

static void save_float(writer *w, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    uint8_t h[9] = {PK_BINFLOAT};
    for (int i = 0; i < 8; i++)
        h[1 + i] = (uint8_t)(bits >> (56 - 8 * i));
    emit(w, h, sizeof h);
}

static void save_blob(writer *w, const nq_value *v)
{
    uint8_t h[9];
    size_t hlen, n = v->u.blob.size;
    if (v->type == NQ_VALUE_BYTEARRAY) {
        h[0] = PK_BYTEARRAY8;
        put_le(h + 1, n, 8);
        hlen = 9;
    } else if (n <= 0xff) {
        h[0] = v->type == NQ_VALUE_STR ? PK_SHORT_BINUNICODE : PK_SHORT_BINBYTES;
        h[1] = (uint8_t)n;
        hlen = 2;
    } else if ((uint64_t)n <= 0xffffffffu) {
        h[0] = v->type == NQ_VALUE_STR ? PK_BINUNICODE : PK_BINBYTES;
        put_le(h + 1, n, 4);
        hlen = 5;
    } else {
        h[0] = v->type == NQ_VALUE_STR ? PK_BINUNICODE8 : PK_BINBYTES8;
        put_le(h + 1, n, 8);
        hlen = 9;
    }
    emit_blob(w, h, hlen, v->u.blob.data, n);
    emit_op(w, PK_MEMOIZE);
}

/* depth: containers enclosing v. */
static nq_status save(writer *w, const nq_value *v, int depth);

/* MARK items... APPENDS in batches; a lone item is just APPEND. */
static nq_status save_list_items(writer *w, const nq_value *v, int depth)
{
    size_t n = v->u.seq.len;
    if (n == 1) {
        nq_status st = save(w, v->u.seq.slots[0], depth + 1);
        emit_op(w, PK_APPEND);
        return st;
    }
    for (size_t i = 0; i < n;) {
        emit_op(w, PK_MARK);
        for (size_t k = 0; k < PK_BATCH && i < n; k++, i++) {
            nq_status st = save(w, v->u.seq.slots[i], depth + 1);
            if (st != NQ_OK)
                return st;
        }
        emit_op(w, PK_APPENDS);
    }
    return NQ_OK;
}

/* Like lists, except that Python loops while the last batch was full, so a
 * dict of exactly k*1000 pairs ends with an empty MARK SETITEMS. */
static nq_status save_dict_items(writer *w, const nq_value *v, int depth)
{
    size_t pairs = v->u.seq.len / 2;
    nq_value *const *s = v->u.seq.slots;
    if (pairs == 1) {
        nq_status st = save(w, s[0], depth + 1);
        if (st == NQ_OK)
            st = save(w, s[1], depth + 1);
        emit_op(w, PK_SETITEM);
        return st;
    }
    size_t i = 0, batch;
    do {
        emit_op(w, PK_MARK);
        for (batch = 0; batch < PK_BATCH && i < pairs; batch++, i++) {
            nq_status st = save(w, s[2 * i], depth + 1);
            if (st == NQ_OK)
                st = save(w, s[2 * i + 1], depth + 1);
            if (st != NQ_OK)
                return st;
        }
        emit_op(w, PK_SETITEMS);
    } while (batch == PK_BATCH);
    return NQ_OK;
}

static nq_status save_tuple(writer *w, const nq_value *v, int depth)
{
    static const uint8_t small[] = {PK_EMPTY_TUPLE, PK_TUPLE1, PK_TUPLE2, PK_TUPLE3};
    size_t n = v->u.seq.len;
    if (n == 0) {
        emit_op(w, PK_EMPTY_TUPLE); /* Python does not memoize () */
        return NQ_OK;
    }
    if (n > 3)
        emit_op(w, PK_MARK);
    for (size_t i = 0; i < n; i++) {
        nq_status st = save(w, v->u.seq.slots[i], depth + 1);
        if (st != NQ_OK)
            return st;
    }
    emit_op(w, n <= 3 ? small[n] : PK_TUPLE);
    emit_op(w, PK_MEMOIZE);
    return NQ_OK;
}

static nq_status save(writer *w, const nq_value *v, int depth)
{
    if (nq_value_is_container(v) && depth >= NQ_VALUE_MAX_DEPTH)
        return nq_fail(NQ_ECODEC, "pickle: value nested deeper than %d levels", NQ_VALUE_MAX_DEPTH);
    opcode_boundary(w);
    switch (v->type) {
    case NQ_VALUE_NONE:
        emit_op(w, PK_NONE);
        return NQ_OK;
    case NQ_VALUE_BOOL:
        emit_op(w, v->u.boolean ? PK_NEWTRUE : PK_NEWFALSE);
        return NQ_OK;
    case NQ_VALUE_INT:
        save_int(w, v);
        return NQ_OK;
    case NQ_VALUE_FLOAT:
        save_float(w, v->u.real);
        return NQ_OK;
    case NQ_VALUE_STR:
    case NQ_VALUE_BYTES:
    case NQ_VALUE_BYTEARRAY:
        save_blob(w, v);
        return NQ_OK;
    case NQ_VALUE_TUPLE:
        return save_tuple(w, v, depth);
    case NQ_VALUE_LIST:
        emit_op(w, PK_EMPTY_LIST);
        emit_op(w, PK_MEMOIZE);
        return v->u.seq.len ? save_list_items(w, v, depth) : NQ_OK;
    case NQ_VALUE_DICT:
        emit_op(w, PK_EMPTY_DICT);
        emit_op(w, PK_MEMOIZE);
        return v->u.seq.len ? save_dict_items(w, v, depth) : NQ_OK;
    }
    return nq_fail(NQ_EINVAL, "pickle: unknown value type %d", (int)v->type);
}

nq_status nq_pickle_dump(const nq_value *value, void **out, size_t *size)
{
    if (!out || !size)
        return nq_fail(NQ_EINVAL, "pickle: out or size is NULL");
    *out = NULL;
    *size = 0;
    if (!value)
        return nq_fail(NQ_EINVAL, "pickle: value is NULL");
    nq_clear_error();
    writer w = {0};
    const uint8_t proto[2] = {PK_PROTO, 5};
    emit(&w, proto, sizeof proto);
    w.framing = true;
    nq_status st = save(&w, value, 0);
    emit_op(&w, PK_STOP);
    commit_frame(&w);
    if (st == NQ_OK && w.oom)
        st = nq_fail(NQ_ENOMEM, "pickle: out of memory");
    if (st != NQ_OK) {
        free(w.buf);
        return st;
    }
    *out = w.buf;
    *size = w.len;
    return NQ_OK;
}

void nq_buffer_free(void *buffer)
{
    free(buffer);
}
