/*
 * The pickle codec against Python 3.13's own bytes (pickle_vectors.h), and
 * against hostile input: truncations, garbage, globals, bombs, deep nesting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <netqueue/value.h>

#include "pickle_vectors.h"

#define N_VECTORS (sizeof nq_vectors / sizeof nq_vectors[0])
#define N_BAD (sizeof nq_bad_vectors / sizeof nq_bad_vectors[0])

typedef struct buf {
    uint8_t *data;
    size_t len, cap;
} buf;

static void buf_add(buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 16;
        b->data = realloc(b->data, b->cap);
        assert_non_null(b->data);
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void buf_str(buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static buf expand(const nq_run *runs, size_t n)
{
    buf b = {0};
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < runs[i].count; k++)
            buf_add(&b, runs[i].pattern, runs[i].len);
    return b;
}

/* ---- descriptions (see gen_pickle_vectors.py) into values ---- */

static size_t number(const uint8_t **p, char end)
{
    char *e;
    size_t n = strtoull((const char *)*p, &e, 10);
    assert_int_equal(*e, end);
    *p = (const uint8_t *)e + 1;
    return n;
}

static int hexdigit(uint8_t c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

static size_t hexbytes(const uint8_t **p, uint8_t *out)
{
    size_t n = 0;
    while (**p != ';') {
        out[n++] = (uint8_t)(hexdigit((*p)[0]) << 4 | hexdigit((*p)[1]));
        *p += 2;
    }
    (*p)++;
    return n;
}

static nq_value *build(const uint8_t **p)
{
    nq_value *v = NULL;
    uint8_t tag = *(*p)++;
    uint8_t tmp[1024];
    switch (tag) {
    case 'N': assert_int_equal(nq_value_new_none(&v), NQ_OK); break;
    case 'T': assert_int_equal(nq_value_new_bool(&v, 1), NQ_OK); break;
    case 'F': assert_int_equal(nq_value_new_bool(&v, 0), NQ_OK); break;
    case 'i': {
        char *e;
        long long x = strtoll((const char *)*p, &e, 10);
        assert_int_equal(*e, ';');
        *p = (const uint8_t *)e + 1;
        assert_int_equal(nq_value_new_int(&v, x), NQ_OK);
        break;
    }
    case 'I': {
        size_t n = hexbytes(p, tmp);
        assert_int_equal(nq_value_new_bigint(&v, tmp, n), NQ_OK);
        break;
    }
    case 'D': {
        double d;
        assert_int_equal(hexbytes(p, tmp), 8);
        memcpy(&d, tmp, 8);
        assert_int_equal(nq_value_new_float(&v, d), NQ_OK);
        break;
    }
    case 'S':
    case 'B':
    case 'A': {
        size_t n = number(p, ':');
        nq_status st = tag == 'S' ? nq_value_new_str(&v, (const char *)*p, n)
                     : tag == 'B' ? nq_value_new_bytes(&v, *p, n)
                                  : nq_value_new_bytearray(&v, *p, n);
        assert_int_equal(st, NQ_OK);
        *p += n;
        break;
    }
    case 'L':
    case 'U':
    case 'M': {
        size_t n = number(p, ':');
        nq_status st = tag == 'L' ? nq_value_new_list(&v)
                     : tag == 'U' ? nq_value_new_tuple(&v) : nq_value_new_dict(&v);
        assert_int_equal(st, NQ_OK);
        for (size_t i = 0; i < n; i++) {
            nq_value *a = build(p);
            if (tag == 'M') {
                nq_value *b = build(p);
                assert_int_equal(nq_value_dict_add(v, a, b), NQ_OK);
            } else {
                assert_int_equal(nq_value_append(v, a), NQ_OK);
            }
        }
        break;
    }
    default:
        fail_msg("bad description tag %c", tag);
    }
    return v;
}

static nq_value *build_desc(const nq_vector *vec)
{
    buf d = expand(vec->desc, vec->ndesc);
    buf_add(&d, "", 1);
    const uint8_t *p = d.data;
    nq_value *v = build(&p);
    assert_int_equal(p - d.data, d.len - 1);
    free(d.data);
    return v;
}

/* Structural equality; floats compare by bits (nan, -0.0). */
static int equal(const nq_value *a, const nq_value *b)
{
    nq_value_type t = nq_value_type_of(a);
    if (t != nq_value_type_of(b))
        return 0;
    switch (t) {
    case NQ_VALUE_NONE:
        return 1;
    case NQ_VALUE_BOOL: {
        int x, y;
        nq_value_get_bool(a, &x);
        nq_value_get_bool(b, &y);
        return x == y;
    }
    case NQ_VALUE_INT: {
        const uint8_t *x, *y;
        size_t nx, ny;
        nq_value_get_bigint(a, &x, &nx);
        nq_value_get_bigint(b, &y, &ny);
        return nx == ny && memcmp(x, y, nx) == 0;
    }
    case NQ_VALUE_FLOAT: {
        double x, y;
        nq_value_get_float(a, &x);
        nq_value_get_float(b, &y);
        return memcmp(&x, &y, sizeof x) == 0;
    }
    case NQ_VALUE_STR:
    case NQ_VALUE_BYTES:
    case NQ_VALUE_BYTEARRAY: {
        const void *x, *y;
        size_t nx, ny;
        nq_value_get_bytes(a, &x, &nx);
        nq_value_get_bytes(b, &y, &ny);
        return nx == ny && memcmp(x, y, nx) == 0;
    }
    case NQ_VALUE_LIST:
    case NQ_VALUE_TUPLE:
    case NQ_VALUE_DICT:
        if (nq_value_len(a) != nq_value_len(b))
            return 0;
        for (size_t i = 0; i < nq_value_len(a); i++) {
            if (!equal(nq_value_item(a, i), nq_value_item(b, i)))
                return 0;
            if (t == NQ_VALUE_DICT && !equal(nq_value_dict_key(a, i), nq_value_dict_key(b, i)))
                return 0;
        }
        return 1;
    }
    return 0;
}

static void assert_same_bytes(const char *name, const uint8_t *got, size_t ngot,
                              const uint8_t *want, size_t nwant)
{
    size_t i = 0;
    while (i < ngot && i < nwant && got[i] == want[i])
        i++;
    if (i != ngot || i != nwant)
        fail_msg("%s: dump differs from Python at offset %zu (got %zu bytes, want %zu)",
                 name, i, ngot, nwant);
}

/* ---- Python's bytes ---- */

static void test_dump_matches_python(void **state)
{
    (void)state;
    size_t checked = 0;
    for (size_t i = 0; i < N_VECTORS; i++) {
        const nq_vector *vec = &nq_vectors[i];
        if (!vec->exact)
            continue;
        nq_value *v = build_desc(vec);
        buf want = expand(vec->pickle, vec->npickle);
        void *out;
        size_t n;
        assert_int_equal(nq_pickle_dump(v, &out, &n), NQ_OK);
        assert_same_bytes(vec->name, out, n, want.data, want.len);
        nq_buffer_free(out);
        nq_value_free(v);
        free(want.data);
        checked++;
    }
    assert_true(checked > 80);
}

static void test_load_python_pickles(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_VECTORS; i++) {
        const nq_vector *vec = &nq_vectors[i];
        nq_value *want = build_desc(vec);
        buf in = expand(vec->pickle, vec->npickle);
        nq_value *got = NULL;
        nq_status st = nq_pickle_load(in.data, in.len, &got);
        if (st != NQ_OK)
            fail_msg("%s (protocol %d): %s", vec->name, vec->protocol, nq_last_error());
        if (!equal(got, want))
            fail_msg("%s (protocol %d): loaded value differs", vec->name, vec->protocol);
        if (vec->exact) {
            void *out;
            size_t n;
            assert_int_equal(nq_pickle_dump(got, &out, &n), NQ_OK);
            assert_same_bytes(vec->name, out, n, in.data, in.len);
            nq_buffer_free(out);
        }
        nq_value_free(got);
        nq_value_free(want);
        free(in.data);
    }
}

static void expect_codec(const char *what, const void *data, size_t n)
{
    nq_value *v = (nq_value *)&v; /* must be reset to NULL */
    nq_status st = nq_pickle_load(data, n, &v);
    if (st != NQ_ECODEC)
        fail_msg("%s: status %d, want NQ_ECODEC", what, (int)st);
    assert_null(v);
    assert_true(nq_last_error()[0] != '\0');
}

static void test_python_pickles_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_BAD; i++) {
        buf in = expand(nq_bad_vectors[i].pickle, nq_bad_vectors[i].npickle);
        expect_codec(nq_bad_vectors[i].name, in.data, in.len);
        print_message("  %-16s %s\n", nq_bad_vectors[i].name, nq_last_error());
        free(in.data);
    }
}

static void test_truncations(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_VECTORS; i++) {
        buf in = expand(nq_vectors[i].pickle, nq_vectors[i].npickle);
        /* Every cut of small pickles; of big ones, the edges and a sample. */
        for (size_t cut = 0; cut < in.len;) {
            uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
            memcpy(copy, in.data, cut);
            expect_codec(nq_vectors[i].name, copy, cut);
            free(copy);
            if (in.len <= 4096 || cut < 300 || cut + 300 >= in.len)
                cut++;
            else
                cut += 4093;
        }
        free(in.data);
    }
}

/* ---- hostile input ---- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void load_anything(const uint8_t *data, size_t n)
{
    nq_value *v = NULL;
    nq_status st = nq_pickle_load(data, n, &v);
    if (st == NQ_OK) {
        void *out;
        size_t size;
        assert_int_equal(nq_pickle_dump(v, &out, &size), NQ_OK);
        nq_buffer_free(out);
        nq_value_free(v);
    } else {
        assert_int_equal(st, NQ_ECODEC);
        assert_null(v);
    }
}

static void test_random_garbage(void **state)
{
    (void)state;
    /* Bytes drawn mostly from the opcodes we accept, so that runs go deep. */
    static const uint8_t ops[] = "(.01NKJMGX]})atesuh\x94q\x85\x86\x87\x88\x89\x8a\x8c\x8e\x95\x96" "C\x80";
    uint8_t b[96];
    for (int round = 0; round < 60000; round++) {
        size_t n = next_rand() % sizeof b;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = next_rand();
            b[i] = (r & 3) ? ops[(r >> 8) % (sizeof ops - 1)] : (uint8_t)(r >> 16);
        }
        if (n && round % 2)
            b[n - 1] = '.';
        uint8_t *exact = malloc(n ? n : 1);
        memcpy(exact, b, n);
        load_anything(exact, n);
        free(exact);
    }
    /* Mutations of real pickles. */
    for (size_t i = 0; i < N_VECTORS; i++) {
        buf in = expand(nq_vectors[i].pickle, nq_vectors[i].npickle);
        if (in.len > 4096) {
            free(in.data);
            continue;
        }
        for (int round = 0; round < 40; round++) {
            uint8_t *m = malloc(in.len);
            memcpy(m, in.data, in.len);
            for (int k = 0; k < 1 + round % 3; k++)
                m[next_rand() % in.len] = (uint8_t)next_rand();
            load_anything(m, in.len);
            free(m);
        }
        free(in.data);
    }
}

static void test_hostile_opcodes(void **state)
{
    (void)state;
    static const struct { const char *what; const char *data; size_t n; } cases[] = {
        {"empty", "", 0},
        {"GLOBAL", "\x80\x02" "cos\nsystem\n" "\x8c\x02id\x85R.", 19},
        {"STACK_GLOBAL", "\x80\x04\x8c\x02os\x8c\x06system\x93.", 16},
        {"REDUCE", "\x80\x02N)R.", 6},
        {"BUILD", "\x80\x02]Nb.", 6},
        {"INST", "(i__main__\nX\n.", 14},
        {"PERSID", "P0\n.", 4},
        {"EXT1", "\x80\x02\x82\x01.", 5},
        {"NEWOBJ", "\x80\x02N)\x81.", 6},
        {"EMPTY_SET", "\x80\x04\x8f.", 4},
        {"FROZENSET", "\x80\x04(\x91.", 5},
        {"DUP", "\x80\x02N2.", 5},
        {"text INT", "I1\n.", 4},
        {"BINUNICODE 2^32-1", "\x80\x05X\xff\xff\xff\xff" "abc.", 11},
        {"BINBYTES8 2^64-1", "\x80\x05\x8e\xff\xff\xff\xff\xff\xff\xff\xff" "ab.", 14},
        {"BINUNICODE8 2^63", "\x80\x05\x8d\x00\x00\x00\x00\x00\x00\x00\x80" "ab.", 14},
        {"LONG4 negative", "\x80\x05\x8b\xff\xff\xff\xff.", 8},
        {"FRAME too long", "\x80\x05\x95\x10\x00\x00\x00\x00\x00\x00\x00N.", 13},
        {"PROTO 6", "\x80\x06N.", 4},
        {"trailing data", "\x80\x05N.N", 5},
        {"two values", "\x80\x05NN.", 5},
        {"no value", "\x80\x05.", 3},
        {"open MARK", "\x80\x05(N.", 5},
        {"no STOP", "\x80\x05N", 3},
        {"surrogate str", "\x80\x05\x8c\x03\xed\xa0\x80.", 8},
        {"overlong str", "\x80\x05\x8c\x02\xc0\xaf.", 7},
        {"APPEND to tuple", "\x80\x05)Na.", 6},
        {"SETITEM on list", "\x80\x05]NNs.", 7},
        {"APPENDS no mark", "\x80\x05]Ne.", 6},
        {"APPENDS under fence", "\x80\x05]((Ne.", 8},
        {"APPEND across mark", "\x80\x05](a.", 6},
        {"odd SETITEMS", "\x80\x05}(Nu.", 7},
        {"TUPLE2 underflow", "\x80\x05N\x86.", 5},
        {"TUPLE3 across mark", "\x80\x05NN(N\x87.", 8},
        {"POP empty", "\x80\x050N.", 5},
        {"POP_MARK no mark", "\x80\x05N1.", 5},
        {"BINGET missing", "\x80\x05h\x00.", 5},
        {"LONG_BINGET missing", "\x80\x05j\x00\x00\x00\x01.", 8},
        {"LONG_BINPUT 2^32-1", "\x80\x05Nr\xff\xff\xff\xff.", 9},
        {"MEMOIZE empty", "\x80\x05\x94N.", 5},
        {"recursive list", "\x80\x05]\x94h\x00a.", 7},
        {"recursive via tuple", "\x80\x05]\x94h\x00\x85\x94" "a.", 9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *exact = malloc(cases[i].n ? cases[i].n : 1);
        memcpy(exact, cases[i].data, cases[i].n);
        expect_codec(cases[i].what, exact, cases[i].n);
        print_message("  %-20s %s\n", cases[i].what, nq_last_error());
        free(exact);
    }
}

static void memo_get(buf *b, size_t idx)
{
    if (idx < 256) {
        uint8_t op[2] = {'h', (uint8_t)idx};
        buf_add(b, op, 2);
    } else {
        uint8_t op[5] = {'j', (uint8_t)idx, (uint8_t)(idx >> 8), (uint8_t)(idx >> 16), (uint8_t)(idx >> 24)};
        buf_add(b, op, 5);
    }
}

static void test_deep_nesting(void **state)
{
    (void)state;
    /* 100000 nested lists on the stack: EMPTY_LIST... then APPEND... */
    buf b = {0};
    buf_str(&b, "\x80\x05");
    for (int i = 0; i < 100000; i++)
        buf_str(&b, "]");
    for (int i = 0; i < 99999; i++)
        buf_str(&b, "a");
    buf_str(&b, ".");
    expect_codec("100000 nested lists", b.data, b.len);
    print_message("  %s\n", nq_last_error());

    /* The same with MARK-based opcodes: 100000 open marks. */
    b.len = 0;
    buf_str(&b, "\x80\x05");
    for (int i = 0; i < 100000; i++)
        buf_str(&b, "(");
    buf_str(&b, "N");
    for (int i = 0; i < 100000; i++)
        buf_str(&b, "l");
    buf_str(&b, ".");
    expect_codec("100000 MARK..LIST", b.data, b.len);

    /* Depth without stack depth: chain lists through the memo and POP. */
    b.len = 0;
    buf_str(&b, "\x80\x05]\x94");
    for (size_t i = 0; i < 100000; i++) {
        buf_str(&b, "]");
        memo_get(&b, i);
        buf_str(&b, "a\x94" "0");
    }
    buf_str(&b, "0");
    memo_get(&b, 100000);
    buf_str(&b, ".");
    expect_codec("memo chain of 100000", b.data, b.len);
    print_message("  %s\n", nq_last_error());

    /* Depth that grows after the parent was built (the late check). */
    b.len = 0;
    buf_str(&b, "\x80\x05]\x94");
    for (size_t i = 0; i < 995; i++) {
        buf_str(&b, "]");
        memo_get(&b, i);
        buf_str(&b, "a\x94" "0");
    }
    /* stack: [c]; c is 996 levels under the top: give it 10 more */
    for (int i = 0; i < 10; i++)
        buf_str(&b, "]");
    for (int i = 0; i < 9; i++)
        buf_str(&b, "a");
    buf_str(&b, "a0");
    memo_get(&b, 995);
    buf_str(&b, ".");
    expect_codec("deepened after sharing", b.data, b.len);
    print_message("  %s\n", nq_last_error());
    free(b.data);
}

static buf nested_lists(int depth)
{
    buf b = {0};
    buf_str(&b, "\x80\x05");
    for (int i = 0; i < depth; i++)
        buf_str(&b, "]");
    for (int i = 1; i < depth; i++)
        buf_str(&b, "a");
    buf_str(&b, ".");
    return b;
}

static nq_value *api_nested(int depth)
{
    nq_value *v;
    assert_int_equal(nq_value_new_int(&v, 7), NQ_OK);
    for (int i = 0; i < depth; i++) {
        nq_value *l;
        assert_int_equal(nq_value_new_list(&l), NQ_OK);
        assert_int_equal(nq_value_append(l, v), NQ_OK);
        v = l;
    }
    return v;
}

static void test_depth_limit(void **state)
{
    (void)state;
    nq_value *v = NULL;
    buf ok = nested_lists(1000), bad = nested_lists(1001);
    assert_int_equal(nq_pickle_load(ok.data, ok.len, &v), NQ_OK);
    nq_value_free(v);
    expect_codec("1001 levels", bad.data, bad.len);
    free(ok.data);
    free(bad.data);

    void *out;
    size_t n;
    v = api_nested(1000);
    assert_int_equal(nq_pickle_dump(v, &out, &n), NQ_OK);
    nq_buffer_free(out);
    nq_value_free(v);
    v = api_nested(1001);
    assert_int_equal(nq_pickle_dump(v, &out, &n), NQ_ECODEC);
    assert_null(out);
    nq_value_free(v);
    /* Freeing never recurses, whatever the depth. */
    v = api_nested(200000);
    assert_int_equal(nq_pickle_dump(v, &out, &n), NQ_ECODEC);
    nq_value_free(v);
}

static void test_memo_bomb(void **state)
{
    (void)state;
    /* x0 = "abcdefgh"; x(i+1) = [x(i), x(i)]: 2^40 strs from ~300 bytes. */
    buf b = {0};
    buf_str(&b, "\x80\x05\x8c\x08" "abcdefgh\x94" "0");
    for (size_t i = 0; i < 40; i++) {
        buf_str(&b, "](");
        memo_get(&b, i);
        memo_get(&b, i);
        buf_str(&b, "e\x94" "0");
    }
    memo_get(&b, 40);
    buf_str(&b, ".");
    expect_codec("memo bomb", b.data, b.len);
    print_message("  %s\n", nq_last_error());

    /* Modest sharing is expanded, as Python would see it: ["x"] * 1000. */
    b.len = 0;
    buf_str(&b, "\x80\x05\x8c\x01x\x94" "0](");
    for (int i = 0; i < 1000; i++)
        memo_get(&b, 0);
    buf_str(&b, "e.");
    nq_value *v = NULL;
    assert_int_equal(nq_pickle_load(b.data, b.len, &v), NQ_OK);
    assert_int_equal(nq_value_len(v), 1000);
    nq_value_free(v);
    free(b.data);
}

static void test_shared_values(void **state)
{
    (void)state;
    /* [s, s, s] where s is one memoized str: three separate copies. */
    const char pk[] = "\x80\x05]\x94(\x8c\x03" "abc\x94h\x01h\x01" "e.";
    nq_value *v = NULL;
    assert_int_equal(nq_pickle_load(pk, sizeof pk - 1, &v), NQ_OK);
    assert_int_equal(nq_value_len(v), 3);
    for (size_t i = 0; i < 3; i++) {
        const void *d;
        size_t n;
        assert_int_equal(nq_value_get_bytes(nq_value_item(v, i), &d, &n), NQ_OK);
        assert_memory_equal(d, "abc", 4);
        if (i)
            assert_ptr_not_equal(nq_value_item(v, i), nq_value_item(v, i - 1));
    }
    nq_value_free(v);

    /* L = []; M = [L, L]; L.append(7): M is [[7], [7]] as in Python. */
    const char pk2[] = "\x80\x05]\x94]\x94(h\x00h\x00" "e0K\x07" "a0h\x01.";
    assert_int_equal(nq_pickle_load(pk2, sizeof pk2 - 1, &v), NQ_OK);
    assert_int_equal(nq_value_len(v), 2);
    for (size_t i = 0; i < 2; i++) {
        const nq_value *l = nq_value_item(v, i);
        int64_t x = 0;
        assert_int_equal(nq_value_len(l), 1);
        assert_int_equal(nq_value_get_int(nq_value_item(l, 0), &x), NQ_OK);
        assert_int_equal(x, 7);
    }
    void *out;
    size_t n;
    assert_int_equal(nq_pickle_dump(v, &out, &n), NQ_OK);
    nq_buffer_free(out);
    nq_value_free(v);
}

/* ---- the value API ---- */

static void test_value_api(void **state)
{
    (void)state;
    nq_value *v = NULL, *w = NULL, *l = NULL, *d = NULL;
    int64_t i64;
    const uint8_t *big;
    size_t n;
    const void *data;

    assert_int_equal(nq_value_new_none(NULL), NQ_EINVAL);
    assert_int_equal(nq_value_new_str(&v, "\xff", 1), NQ_EINVAL);
    assert_null(v);
    assert_int_equal(nq_value_new_str(&v, "\xed\xa0\x80", 3), NQ_EINVAL);
    assert_int_equal(nq_value_new_str(&v, NULL, 1), NQ_EINVAL);
    assert_int_equal(nq_value_new_str(&v, "a\0b", 3), NQ_OK);
    assert_int_equal(nq_value_get_bytes(v, &data, &n), NQ_OK);
    assert_int_equal(n, 3);
    assert_int_equal(((const char *)data)[3], '\0');
    assert_int_equal(nq_value_get_int(v, &i64), NQ_EINVAL);
    assert_int_equal(nq_value_len(v), 0);
    nq_value_free(v);

    assert_int_equal(nq_value_new_int(&v, 0), NQ_OK);
    assert_int_equal(nq_value_get_bigint(v, &big, &n), NQ_OK);
    assert_int_equal(n, 0);
    nq_value_free(v);
    assert_int_equal(nq_value_new_int(&v, INT64_MIN), NQ_OK);
    assert_int_equal(nq_value_get_int(v, &i64), NQ_OK);
    assert_true(i64 == INT64_MIN);
    nq_value_free(v);
    static const uint8_t minus_one[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(nq_value_new_bigint(&v, minus_one, sizeof minus_one), NQ_OK);
    assert_int_equal(nq_value_get_int(v, &i64), NQ_OK);
    assert_int_equal(i64, -1);
    assert_int_equal(nq_value_get_bigint(v, &big, &n), NQ_OK);
    assert_int_equal(n, 1);
    nq_value_free(v);
    static const uint8_t two64[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0};
    assert_int_equal(nq_value_new_bigint(&v, two64, sizeof two64), NQ_OK);
    assert_int_equal(nq_value_get_int(v, &i64), NQ_ECODEC);
    assert_int_equal(nq_value_get_bigint(v, &big, &n), NQ_OK);
    assert_int_equal(n, 9);
    nq_value_free(v);

    assert_int_equal(nq_value_new_list(&l), NQ_OK);
    assert_int_equal(nq_value_new_dict(&d), NQ_OK);
    assert_int_equal(nq_value_new_bool(&v, 5), NQ_OK);
    int b;
    assert_int_equal(nq_value_get_bool(v, &b), NQ_OK);
    assert_int_equal(b, 1);
    assert_int_equal(nq_value_append(d, v), NQ_EINVAL);      /* not a list */
    assert_int_equal(nq_value_append(l, v), NQ_OK);
    assert_int_equal(nq_value_append(l, v), NQ_EINVAL);      /* owned already */
    assert_int_equal(nq_value_append(l, l), NQ_EINVAL);      /* itself */
    assert_int_equal(nq_value_new_none(&w), NQ_OK);
    assert_int_equal(nq_value_dict_add(d, w, w), NQ_EINVAL); /* same key and item */
    assert_int_equal(nq_value_dict_add(d, w, l), NQ_OK);
    assert_int_equal(nq_value_append(l, d), NQ_EINVAL);      /* cycle */
    assert_int_equal(nq_value_len(d), 1);
    assert_ptr_equal(nq_value_dict_key(d, 0), w);
    assert_ptr_equal(nq_value_item(d, 0), l);
    assert_null(nq_value_item(d, 1));
    assert_null(nq_value_dict_key(l, 0));
    assert_ptr_equal(nq_value_item(l, 0), v);
    assert_int_equal(nq_value_type_of(NULL), NQ_VALUE_NONE);
    assert_int_equal(nq_value_type_of(d), NQ_VALUE_DICT);
    nq_value_free(d);
    nq_value_free(NULL);
    nq_buffer_free(NULL);

    void *out;
    assert_int_equal(nq_pickle_dump(NULL, &out, &n), NQ_EINVAL);
    assert_int_equal(nq_pickle_load(NULL, 0, &v), NQ_ECODEC);
    assert_int_equal(nq_pickle_load(NULL, 1, &v), NQ_EINVAL);
    assert_int_equal(nq_pickle_load("N.", 2, NULL), NQ_EINVAL);
}

/* The payloads from the wire-protocol capture. */
static void test_wire_examples(void **state)
{
    (void)state;
    nq_value *v;
    void *out;
    size_t n;
    assert_int_equal(nq_value_new_str(&v, "Hello, Server!", 14), NQ_OK);
    assert_int_equal(nq_pickle_dump(v, &out, &n), NQ_OK);
    assert_int_equal(n, 0x1d);
    assert_memory_equal(out, "\x80\x05\x95\x12\x00\x00\x00\x00\x00\x00\x00\x8c\x0e"
                             "Hello, Server!\x94.", n);
    nq_buffer_free(out);
    nq_value_free(v);
    assert_int_equal(nq_value_new_bytes(&v, "abc", 3), NQ_OK);
    assert_int_equal(nq_pickle_dump(v, &out, &n), NQ_OK);
    assert_int_equal(n, 18);
    assert_memory_equal(out, "\x80\x05\x95\x07\x00\x00\x00\x00\x00\x00\x00" "C\x03" "abc\x94.", n);
    nq_buffer_free(out);
    nq_value_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_api),
        cmocka_unit_test(test_wire_examples),
        cmocka_unit_test(test_dump_matches_python),
        cmocka_unit_test(test_load_python_pickles),
        cmocka_unit_test(test_python_pickles_refused),
        cmocka_unit_test(test_hostile_opcodes),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_memo_bomb),
        cmocka_unit_test(test_shared_values),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_random_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
