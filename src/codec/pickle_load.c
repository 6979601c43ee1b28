/*
 * Pickle decoder for the safe subset (protocols 2..5, no globals).
 *
 * It is a plain stack machine over the input: every length is checked
 * against the bytes left before use, the stack and memo live on the heap
 * and only grow with input consumed, and nothing recurses. Sharing made by
 * BINGET is resolved at STOP by pickle_graph.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/pickle_graph.h"
#include "codec/pickle_ops.h"
#include "core/status.h"

typedef struct loader {
    const uint8_t *in;
    size_t size, pos;
    size_t op_pos; /* where the current opcode starts, for messages */
    int op;
    nq_graph graph;
    nq_value **stack;
    size_t sp, stack_cap;
    size_t *marks; /* stack heights at each MARK; the top one is the fence */
    size_t nmarks, marks_cap;
    nq_value **memo;
    size_t memo_cap, memo_count;
} loader;

static nq_status bad(loader *L, const char *what)
{
    char name[16];
    return nq_fail(NQ_ECODEC, "pickle: %s (%s at offset %zu)", what,
                   nq_pickle_op_name(L->op, name), L->op_pos);
}

static nq_status oom(void)
{
    return nq_fail(NQ_ENOMEM, "pickle: out of memory");
}

static nq_status take(loader *L, size_t n, const uint8_t **p)
{
    if (n > L->size - L->pos)
        return bad(L, "truncated input");
    *p = L->in + L->pos;
    L->pos += n;
    return NQ_OK;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t cap2 = *cap ? *cap : 16;
    while (cap2 < need)
        cap2 *= 2;
    void *a = realloc(*arr, cap2 * elem);
    if (!a)
        return false;
    *arr = a;
    *cap = cap2;
    return true;
}

static size_t fence(const loader *L)
{
    return L->nmarks ? L->marks[L->nmarks - 1] : 0;
}

static nq_status push(loader *L, nq_value *v)
{
    if (!v)
        return oom();
    if (!grow((void **)&L->stack, &L->stack_cap, L->sp + 1, sizeof *L->stack))
        return oom();
    L->stack[L->sp++] = v;
    return NQ_OK;
}

/* Items above the fence; Python refuses to pop below the last MARK. */
static nq_status need_items(loader *L, size_t n)
{
    if (L->sp - fence(L) < n)
        return bad(L, "stack underflow");
    return NQ_OK;
}

static nq_status pop_mark(loader *L, size_t *start)
{
    if (!L->nmarks)
        return bad(L, "no MARK on the stack");
    *start = L->marks[--L->nmarks];
    return NQ_OK;
}

/* Add slot to container, tracking a lower bound of its height so that deep
 * nesting fails early; pickle_graph.c makes the exact check. */
static nq_status add_slot(loader *L, nq_value *c, nq_value *item)
{
    if (!nq_seq_push(c, item))
        return oom();
    uint32_t h = item->height + 1;
    if (h > c->height)
        c->height = h;
    if (c->height > NQ_VALUE_MAX_DEPTH)
        return bad(L, "value nested deeper than 1000 levels");
    return NQ_OK;
}

static nq_status new_container(loader *L, nq_value_type type, nq_value **out)
{
    nq_value *v = nq_graph_node(&L->graph, type);
    if (!v)
        return oom();
    v->height = 1;
    *out = v;
    return NQ_OK;
}

/* Replace stack[start..sp) by one container holding them. */
static nq_status collect(loader *L, nq_value_type type, size_t start)
{
    size_t n = L->sp - start;
    if (type == NQ_VALUE_DICT && n % 2)
        return bad(L, "odd number of items for a dict");
    nq_value *c = NULL;
    nq_status st = new_container(L, type, &c);
    for (size_t i = start; st == NQ_OK && i < L->sp; i++)
        st = add_slot(L, c, L->stack[i]);
    if (st != NQ_OK)
        return st;
    L->sp = start;
    return push(L, c);
}

static nq_status load_int_le(loader *L, const uint8_t *p, size_t n)
{
    nq_value *v = nq_graph_node(&L->graph, NQ_VALUE_INT);
    if (!v || !nq_int_set_le(v, p, n))
        return oom();
    return push(L, v);
}

static nq_status load_long(loader *L, int width)
{
    const uint8_t *p = NULL;
    nq_status st = take(L, (size_t)width, &p);
    if (st != NQ_OK)
        return st;
    uint64_t n = le(p, width);
    if (width == 4 && n > INT32_MAX)
        return bad(L, "negative byte count");
    if (n > L->size - L->pos)
        return bad(L, "truncated input");
    st = take(L, (size_t)n, &p);
    return st != NQ_OK ? st : load_int_le(L, p, (size_t)n);
}

static nq_status load_blob(loader *L, nq_value_type type, int width)
{
    const uint8_t *p = NULL;
    nq_status st = take(L, (size_t)width, &p);
    if (st != NQ_OK)
        return st;
    uint64_t n = le(p, width);
    if (n > L->size - L->pos)
        return bad(L, "length runs past the end of the input");
    st = take(L, (size_t)n, &p);
    if (st != NQ_OK)
        return st;
    if (type == NQ_VALUE_STR && !nq_utf8_valid(p, (size_t)n))
        return bad(L, "str is not valid UTF-8");
    nq_value *v = nq_graph_node(&L->graph, type);
    if (!v || !nq_blob_set(v, p, (size_t)n))
        return oom();
    return push(L, v);
}

static nq_status load_binfloat(loader *L)
{
    const uint8_t *p = NULL;
    nq_status st = take(L, 8, &p);
    if (st != NQ_OK)
        return st;
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = bits << 8 | p[i];
    nq_value *v = nq_graph_node(&L->graph, NQ_VALUE_FLOAT);
    if (!v)
        return oom();
    memcpy(&v->u.real, &bits, sizeof bits);
    return push(L, v);
}

static nq_status load_scalar(loader *L, nq_value_type type, int flag)
{
    nq_value *v = nq_graph_node(&L->graph, type);
    if (v && type == NQ_VALUE_BOOL)
        v->u.boolean = flag;
    return push(L, v);
}

/* The memo is dense: a real pickler numbers entries 0, 1, 2..., one opcode
 * each, so an index beyond the input size can only be an attack. */
static nq_status memo_put(loader *L, uint64_t idx)
{
    nq_status st = need_items(L, 1);
    if (st != NQ_OK)
        return st;
    if (idx > L->size)
        return bad(L, "memo index out of range");
    size_t old = L->memo_cap;
    if (!grow((void **)&L->memo, &L->memo_cap, (size_t)idx + 1, sizeof *L->memo))
        return oom();
    if (L->memo_cap > old)
        memset(L->memo + old, 0, (L->memo_cap - old) * sizeof *L->memo);
    if (!L->memo[idx])
        L->memo_count++;
    L->memo[idx] = L->stack[L->sp - 1];
    return NQ_OK;
}

static nq_status memo_get(loader *L, uint64_t idx)
{
    if (idx >= L->memo_cap || !L->memo[idx])
        return bad(L, "memo entry not found");
    return push(L, L->memo[idx]);
}

static nq_status load_index(loader *L, int width, uint64_t *idx)
{
    const uint8_t *p = NULL;
    nq_status st = take(L, (size_t)width, &p);
    if (st == NQ_OK)
        *idx = le(p, width);
    return st;
}

/* Move stack[start..sp) into the container at stack[target]. */
static nq_status fill(loader *L, size_t target, size_t start, nq_value_type want)
{
    nq_value *c = L->stack[target];
    if (c->type != want)
        return bad(L, want == NQ_VALUE_LIST ? "append target is not a list"
                                            : "setitem target is not a dict");
    if (want == NQ_VALUE_DICT && (L->sp - start) % 2)
        return bad(L, "odd number of items for a dict");
    for (size_t i = start; i < L->sp; i++) {
        nq_status st = add_slot(L, c, L->stack[i]);
        if (st != NQ_OK)
            return st;
    }
    L->sp = start;
    return NQ_OK;
}

/* APPEND / SETITEM: the target sits just below its 1 or 2 items. */
static nq_status fill_one(loader *L, size_t items, nq_value_type want)
{
    nq_status st = need_items(L, items + 1);
    return st != NQ_OK ? st : fill(L, L->sp - items - 1, L->sp - items, want);
}

/* APPENDS / SETITEMS: the target sits just below the MARK. */
static nq_status fill_marked(loader *L, nq_value_type want)
{
    size_t start = 0;
    nq_status st = pop_mark(L, &start);
    if (st != NQ_OK)
        return st;
    if (start == 0 || start - 1 < fence(L))
        return bad(L, "stack underflow");
    return fill(L, start - 1, start, want);
}

static nq_status load_tuple_n(loader *L, size_t n)
{
    nq_status st = need_items(L, n);
    return st != NQ_OK ? st : collect(L, NQ_VALUE_TUPLE, L->sp - n);
}

static nq_status load_marked(loader *L, nq_value_type type)
{
    size_t start = 0;
    nq_status st = pop_mark(L, &start);
    return st != NQ_OK ? st : collect(L, type, start);
}

static nq_status load_pop(loader *L)
{
    if (L->sp > fence(L)) {
        L->sp--;
        return NQ_OK;
    }
    if (L->nmarks) { /* as Python: POP right after MARK drops the mark */
        L->nmarks--;
        return NQ_OK;
    }
    return bad(L, "stack underflow");
}

static nq_status load_frame(loader *L)
{
    const uint8_t *p = NULL;
    nq_status st = take(L, 8, &p);
    if (st == NQ_OK && le(p, 8) > L->size - L->pos)
        st = bad(L, "frame runs past the end of the input");
    return st;
}

static nq_status load_proto(loader *L)
{
    const uint8_t *p = NULL;
    nq_status st = take(L, 1, &p);
    if (st == NQ_OK && p[0] > 5)
        st = bad(L, "unsupported pickle protocol");
    return st;
}

static nq_status load_mark(loader *L)
{
    if (!grow((void **)&L->marks, &L->marks_cap, L->nmarks + 1, sizeof *L->marks))
        return oom();
    L->marks[L->nmarks++] = L->sp;
    return NQ_OK;
}

static nq_status load_stop(loader *L, nq_value **root)
{
    if (L->nmarks || L->sp != 1)
        return bad(L, "STOP with a stack that is not one value");
    if (L->pos != L->size)
        return bad(L, "data after STOP");
    *root = L->stack[0];
    return NQ_OK;
}

static nq_status step(loader *L)
{
    uint64_t idx;
    const uint8_t *p = NULL;
    nq_status st;
    switch (L->op) {
    case PK_PROTO: return load_proto(L);
    case PK_FRAME: return load_frame(L);
    case PK_MARK: return load_mark(L);
    case PK_POP: return load_pop(L);
    case PK_POP_MARK: return pop_mark(L, &L->sp);
    case PK_NONE: return load_scalar(L, NQ_VALUE_NONE, 0);
    case PK_NEWTRUE: return load_scalar(L, NQ_VALUE_BOOL, 1);
    case PK_NEWFALSE: return load_scalar(L, NQ_VALUE_BOOL, 0);
    case PK_BININT1:
    case PK_BININT2:
    case PK_BININT: {
        int w = L->op == PK_BININT1 ? 1 : L->op == PK_BININT2 ? 2 : 4;
        if ((st = take(L, (size_t)w, &p)) != NQ_OK)
            return st;
        uint8_t le8[4] = {0};
        memcpy(le8, p, (size_t)w);
        /* BININT is signed; the short forms are unsigned. */
        return load_int_le(L, le8, L->op == PK_BININT ? 4 : (size_t)w + 1);
    }
    case PK_LONG1: return load_long(L, 1);
    case PK_LONG4: return load_long(L, 4);
    case PK_BINFLOAT: return load_binfloat(L);
    case PK_SHORT_BINUNICODE: return load_blob(L, NQ_VALUE_STR, 1);
    case PK_BINUNICODE: return load_blob(L, NQ_VALUE_STR, 4);
    case PK_BINUNICODE8: return load_blob(L, NQ_VALUE_STR, 8);
    case PK_SHORT_BINBYTES: return load_blob(L, NQ_VALUE_BYTES, 1);
    case PK_BINBYTES: return load_blob(L, NQ_VALUE_BYTES, 4);
    case PK_BINBYTES8: return load_blob(L, NQ_VALUE_BYTES, 8);
    case PK_BYTEARRAY8: return load_blob(L, NQ_VALUE_BYTEARRAY, 8);
    case PK_EMPTY_LIST:
    case PK_EMPTY_DICT:
    case PK_EMPTY_TUPLE: {
        nq_value *c = NULL;
        nq_value_type t = L->op == PK_EMPTY_LIST ? NQ_VALUE_LIST
                        : L->op == PK_EMPTY_DICT ? NQ_VALUE_DICT : NQ_VALUE_TUPLE;
        if ((st = new_container(L, t, &c)) != NQ_OK)
            return st;
        return push(L, c);
    }
    case PK_TUPLE1: return load_tuple_n(L, 1);
    case PK_TUPLE2: return load_tuple_n(L, 2);
    case PK_TUPLE3: return load_tuple_n(L, 3);
    case PK_TUPLE: return load_marked(L, NQ_VALUE_TUPLE);
    case PK_LIST: return load_marked(L, NQ_VALUE_LIST);
    case PK_DICT: return load_marked(L, NQ_VALUE_DICT);
    case PK_APPEND: return fill_one(L, 1, NQ_VALUE_LIST);
    case PK_APPENDS: return fill_marked(L, NQ_VALUE_LIST);
    case PK_SETITEM: return fill_one(L, 2, NQ_VALUE_DICT);
    case PK_SETITEMS: return fill_marked(L, NQ_VALUE_DICT);
    case PK_MEMOIZE: return memo_put(L, L->memo_count);
    case PK_BINPUT:
    case PK_LONG_BINPUT:
        if ((st = load_index(L, L->op == PK_BINPUT ? 1 : 4, &idx)) != NQ_OK)
            return st;
        return memo_put(L, idx);
    case PK_BINGET:
    case PK_LONG_BINGET:
        if ((st = load_index(L, L->op == PK_BINGET ? 1 : 4, &idx)) != NQ_OK)
            return st;
        return memo_get(L, idx);
    default:
        return bad(L, "unsupported opcode");
    }
}

nq_status nq_pickle_load(const void *data, size_t size, nq_value **out)
{
    if (!out)
        return nq_fail(NQ_EINVAL, "pickle: out is NULL");
    *out = NULL;
    if (!data && size)
        return nq_fail(NQ_EINVAL, "pickle: data is NULL");
    nq_clear_error();
    loader L = {.in = data, .size = size};
    nq_graph_init(&L.graph, size);
    nq_value *root = NULL;
    nq_status st = NQ_OK;
    while (st == NQ_OK && !root) {
        L.op_pos = L.pos;
        if (L.pos == L.size) {
            st = nq_fail(NQ_ECODEC, "pickle: truncated input (no STOP before offset %zu)", L.pos);
            break;
        }
        L.op = L.in[L.pos++];
        st = L.op == PK_STOP ? load_stop(&L, &root) : step(&L);
    }
    if (st == NQ_OK)
        st = nq_graph_tree(&L.graph, root, out);
    if (st != NQ_OK)
        nq_graph_free(&L.graph);
    free(L.stack);
    free(L.marks);
    free(L.memo);
    return st;
}
