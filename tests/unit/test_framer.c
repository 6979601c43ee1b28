/* The frame decoder: any cut of the byte stream reassembles the same
 * frames; lengths over the limit are refused before any allocation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/framer.h"

struct got {
    size_t n;
    size_t sizes[16];
    uint8_t data[16][300];
};

static void on_frame(void *ctx, struct nq_msg *m)
{
    struct got *g = ctx;
    assert_true(g->n < 16);
    assert_int_equal(m->have, m->size);
    g->sizes[g->n] = m->size;
    memcpy(g->data[g->n], m->data, m->size);
    g->n++;
    nq_msg_free(m);
}

static size_t put_frame(uint8_t *out, const uint8_t *payload, size_t n)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    memcpy(out + 8, payload, n);
    return 8 + n;
}

/* frames of 0, 1, 15, 16, 17 and 255 bytes back to back */
static size_t build_stream(uint8_t *buf, const size_t *sizes, size_t count)
{
    size_t len = 0;
    uint8_t payload[300];
    for (size_t i = 0; i < count; i++) {
        for (size_t j = 0; j < sizes[i]; j++)
            payload[j] = (uint8_t)(i * 31 + j);
        len += put_frame(buf + len, payload, sizes[i]);
    }
    return len;
}

static void check(const struct got *g, const size_t *sizes, size_t count)
{
    assert_int_equal(g->n, count);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(g->sizes[i], sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++)
            assert_int_equal(g->data[i][j], (uint8_t)(i * 31 + j));
    }
}

static void test_every_single_cut(void **state)
{
    static const size_t sizes[] = {0, 1, 15, 16, 17, 255};
    uint8_t buf[2048];
    size_t len = build_stream(buf, sizes, 6);
    for (size_t cut = 0; cut <= len; cut++) {
        struct nq_framer f;
        struct got g = {0};
        nq_framer_init(&f, 1 << 20);
        assert_int_equal(nq_framer_feed(&f, buf, cut, on_frame, &g), NQ_OK);
        assert_int_equal(nq_framer_feed(&f, buf + cut, len - cut, on_frame, &g), NQ_OK);
        check(&g, sizes, 6);
        assert_false(nq_framer_partial(&f));
        nq_framer_reset(&f);
    }
}

static void test_byte_at_a_time_and_two_cuts(void **state)
{
    static const size_t sizes[] = {16, 0, 3};
    uint8_t buf[256];
    size_t len = build_stream(buf, sizes, 3);
    for (size_t a = 0; a <= len; a++) {
        for (size_t b = a; b <= len; b++) {
            struct nq_framer f;
            struct got g = {0};
            nq_framer_init(&f, 1 << 20);
            assert_int_equal(nq_framer_feed(&f, buf, a, on_frame, &g), NQ_OK);
            assert_int_equal(nq_framer_feed(&f, buf + a, b - a, on_frame, &g), NQ_OK);
            assert_int_equal(nq_framer_feed(&f, buf + b, len - b, on_frame, &g), NQ_OK);
            check(&g, sizes, 3);
            nq_framer_reset(&f);
        }
    }
    struct nq_framer f;
    struct got g = {0};
    nq_framer_init(&f, 1 << 20);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(nq_framer_feed(&f, buf + i, 1, on_frame, &g), NQ_OK);
    check(&g, sizes, 3);
}

static void test_limit(void **state)
{
    uint8_t hdr[8] = {0, 0, 0, 0, 0, 0x10, 0, 1}; /* 1 MiB + 1 */
    struct nq_framer f;
    struct got g = {0};
    nq_framer_init(&f, 1 << 20);
    assert_int_equal(nq_framer_feed(&f, hdr, 8, on_frame, &g), NQ_ETOOBIG);
    assert_int_equal(f.bad_size, (1u << 20) + 1);
    assert_int_equal(g.n, 0);
    nq_framer_reset(&f);

    uint8_t huge[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    nq_framer_init(&f, UINT64_C(1) << 62);
    assert_int_equal(nq_framer_feed(&f, huge, 8, on_frame, &g), NQ_ETOOBIG);
    nq_framer_reset(&f);
}

static size_t big_size;
static int big_ok;

static void on_big(void *ctx, struct nq_msg *m)
{
    big_size = m->size;
    big_ok = m->have == m->size && m->data[0] == 0xab && m->data[m->size - 1] == 0xab;
    nq_msg_free(m);
}

static void test_partial_and_direct(void **state)
{
    /* a 20 MiB payload: the header is trusted only as bytes arrive */
    size_t n = 20u << 20;
    uint8_t hdr[8];
    for (int i = 0; i < 8; i++)
        hdr[i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    struct nq_framer f;
    nq_framer_init(&f, 1u << 30);
    assert_int_equal(nq_framer_feed(&f, hdr, 8, on_big, NULL), NQ_OK);
    assert_true(nq_framer_partial(&f));
    assert_true(f.msg->cap < n); /* not allocated up front */
    size_t done = 0;
    while (done < n) {
        size_t room;
        uint8_t *p = nq_framer_direct(&f, 4096, &room);
        assert_non_null(p);
        if (room > n - done)
            room = n - done;
        memset(p, 0xab, room);
        done += room;
        nq_framer_direct_commit(&f, room, on_big, NULL);
    }
    assert_int_equal(big_size, n);
    assert_true(big_ok);
    assert_false(nq_framer_partial(&f));
}

static size_t small_frames;
static void on_small(void *ctx, struct nq_msg *m)
{
    (void)ctx;
    small_frames++;
    nq_msg_free(m);
}

/* After a big frame the reader asks for just the next header, so that the
 * next body can be read straight into its message; after a small one, for
 * a whole buffer again. */
static void test_next_read_after_big(void **state)
{
    (void)state;
    enum { BIG = 64 * 1024, FULL = 256 * 1024 };
    struct nq_framer f;
    nq_framer_init(&f, 1u << 30);
    assert_int_equal(nq_framer_next_read(&f, BIG, FULL), FULL); /* nothing seen yet */
    static uint8_t frame[8 + 100 * 1024], body[100 * 1024];
    size_t n = sizeof body;
    size_t len = put_frame(frame, body, n);
    assert_int_equal(nq_framer_feed(&f, frame, len, on_small, NULL), NQ_OK);
    assert_int_equal(small_frames, 1);
    assert_int_equal(nq_framer_next_read(&f, BIG, FULL), 8);
    uint8_t small[8 + 10];
    size_t slen = put_frame(small, (const uint8_t *)"0123456789", 10);
    assert_int_equal(nq_framer_feed(&f, small, 3, on_small, NULL), NQ_OK);
    assert_int_equal(nq_framer_next_read(&f, BIG, FULL), 5); /* the header's rest */
    assert_int_equal(nq_framer_feed(&f, small + 3, 5, on_small, NULL), NQ_OK);
    /* a frame in progress: the caller reads into it or a whole buffer */
    assert_int_equal(nq_framer_next_read(&f, BIG, FULL), FULL);
    assert_int_equal(nq_framer_feed(&f, small + 8, slen - 8, on_small, NULL), NQ_OK);
    assert_int_equal(small_frames, 2);
    assert_int_equal(nq_framer_next_read(&f, BIG, FULL), FULL);
    nq_framer_reset(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_single_cut),
        cmocka_unit_test(test_byte_at_a_time_and_two_cuts),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_partial_and_direct),
        cmocka_unit_test(test_next_read_after_big),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
