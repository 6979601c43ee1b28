/* Scattered reads (framer.h): whatever the frames' sizes and wherever a
 * read stops, the frames delivered are the ones sent, in order, byte for
 * byte; guesses that prove wrong fall back to the framer; a lying header in
 * a guessed slot is refused; the pool charge follows the frame in
 * progress. A simulated socket hands each read's bytes to the iov. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/be64.h"
#include "core/framer.h"

#define MAXF 64

struct got {
    size_t n;
    size_t sizes[MAXF];
    uint32_t sums[MAXF];
};

static uint32_t sum(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void on_frame(void *ctx, struct nq_msg *m)
{
    struct got *g = ctx;
    assert_true(g->n < MAXF);
    assert_int_equal(m->have, m->size);
    g->sizes[g->n] = m->size;
    g->sums[g->n] = sum(m->data, m->size);
    g->n++;
    nq_msg_free(m);
}

/* the stream of frames of the given sizes, each payload distinct */
static uint8_t *build(const size_t *sizes, size_t count, size_t *len, uint32_t *sums)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += 8 + sizes[i];
    uint8_t *s = malloc(total ? total : 1);
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        nq_put_be64(s + at, sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++)
            s[at + 8 + j] = (uint8_t)(i * 131 + j * 7 + (j >> 8));
        sums[i] = sum(s + at + 8, sizes[i]);
        at += 8 + sizes[i];
    }
    *len = total;
    return s;
}

/* One read of at most `chunk` bytes of the stream from *pos, the way the
 * TCP connection reads: scattered when the framer guesses, else into buf
 * (or straight into the frame in progress). */
static nq_status read_once(struct nq_framer *f, const uint8_t *s, size_t len, size_t *pos,
                           size_t chunk, struct got *g, int *scattered)
{
    static uint8_t buf[256 * 1024];
    enum { BIG = 64 * 1024 };
    size_t room;
    uint8_t *direct = nq_framer_direct(f, BIG, &room);
    struct nq_scatter sc;
    struct iovec iov[NQ_SCATTER_IOV];
    int cnt = direct ? 0 : nq_framer_scatter_prepare(f, &sc, iov, buf, sizeof buf, BIG);
    size_t avail = len - *pos < chunk ? len - *pos : chunk;
    if (cnt) {
        (*scattered)++;
        size_t n = 0;
        for (int i = 0; i < cnt && n < avail; i++) {
            size_t t = iov[i].iov_len < avail - n ? iov[i].iov_len : avail - n;
            memcpy(iov[i].iov_base, s + *pos + n, t);
            n += t;
        }
        *pos += n;
        if (n == 0) {
            nq_framer_scatter_cancel(&sc);
            return NQ_OK;
        }
        return nq_framer_scatter_commit(f, &sc, n, on_frame, g);
    }
    if (direct) {
        size_t t = room < avail ? room : avail;
        memcpy(direct, s + *pos, t);
        *pos += t;
        nq_framer_direct_commit(f, t, on_frame, g);
        return NQ_OK;
    }
    size_t want = nq_framer_next_read(f, BIG, sizeof buf);
    size_t t = want < avail ? want : avail;
    memcpy(buf, s + *pos, t);
    *pos += t;
    return nq_framer_feed(f, buf, t, on_frame, g);
}

/* Feed the whole stream in reads of `chunk` bytes; check every frame. */
static int run(const size_t *sizes, size_t count, size_t chunk, struct nq_framer_pool *pool)
{
    size_t len;
    uint32_t want[MAXF];
    uint8_t *s = build(sizes, count, &len, want);
    struct nq_framer f;
    nq_framer_init(&f, 1u << 30);
    if (pool)
        nq_framer_set_pool(&f, pool);
    struct got g = {0};
    size_t pos = 0;
    int scattered = 0;
    while (pos < len)
        assert_int_equal(read_once(&f, s, len, &pos, chunk, &g, &scattered), NQ_OK);
    assert_false(nq_framer_partial(&f));
    assert_int_equal(g.n, count);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(g.sizes[i], sizes[i]);
        assert_int_equal(g.sums[i], want[i]);
    }
    if (pool)
        assert_int_equal(pool->used, 0);
    nq_framer_reset(&f);
    free(s);
    return scattered;
}

static const size_t chunks[] = {1, 7, 8, 9, 4096, 9000, 9007, 9008, 9009, 9016, 18016, 30000,
                                65536, 100000, 1u << 20, 4u << 20};

/* Frames all the same size: after the first, reads scatter. */
static void test_same_size_every_cut(void **state)
{
    (void)state;
    size_t sizes[40];
    for (size_t i = 0; i < 40; i++)
        sizes[i] = 9000;
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        struct nq_framer_pool pool = {0};
        int scattered = run(sizes, 40, chunks[c], &pool);
        assert_true(scattered > 0);
    }
}

/* Sizes that change mid-stream: a guessed header proves wrong, bigger,
 * smaller, empty, tiny, big (over NQ_MSG_INLINE_MAX), and back. */
static void test_guesses_proved_wrong(void **state)
{
    (void)state;
    const size_t sizes[] = {9000, 9000, 9000, 12000, 12000, 9000, 0,     9000, 100, 8192,
                            8192, 8192, 70000, 9000, 9000, 200000, 200000, 200000, 16,
                            65536, 65536, 65535, 65536, 8191, 8192, 1 << 20, 9000};
    size_t count = sizeof sizes / sizeof *sizes;
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        struct nq_framer_pool pool = {0};
        run(sizes, count, chunks[c], &pool);
    }
}

/* A header in a guessed slot over the limit: refused, the guesses freed
 * (ASan and valgrind runs of this test see no leak). */
static void test_lying_header_in_a_guess(void **state)
{
    (void)state;
    size_t len;
    uint32_t want[4];
    const size_t sizes[] = {9000, 9000, 9000};
    uint8_t *s = build(sizes, 3, &len, want);
    nq_put_be64(s + 2 * 9008, (uint64_t)1 << 40); /* the third frame lies */
    struct nq_framer f;
    nq_framer_init(&f, 1u << 20);
    struct got g = {0};
    size_t pos = 0;
    int scattered = 0;
    nq_status st = NQ_OK;
    while (pos < len && st == NQ_OK)
        st = read_once(&f, s, len, &pos, 9008 + 100, &g, &scattered);
    assert_int_equal(st, NQ_ETOOBIG);
    assert_int_equal(f.bad_size, (uint64_t)1 << 40);
    assert_int_equal(g.n, 2);
    assert_true(scattered > 0);
    nq_framer_reset(&f);
    free(s);
}

/* A read that ends inside a guessed frame leaves it as the frame in
 * progress, charged to the pool; the next read scatters its rest first. */
static void test_partial_guess_is_the_frame_in_progress(void **state)
{
    (void)state;
    size_t len;
    uint32_t want[3];
    const size_t sizes[] = {9000, 9000, 9000};
    uint8_t *s = build(sizes, 3, &len, want);
    struct nq_framer_pool pool = {0};
    struct nq_framer f;
    nq_framer_init(&f, 1u << 30);
    nq_framer_set_pool(&f, &pool);
    struct got g = {0};
    /* the first frame through the buffer, then half of the second */
    assert_int_equal(nq_framer_feed(&f, s, 9008, on_frame, &g), NQ_OK);
    static uint8_t buf[256 * 1024];
    struct nq_scatter sc;
    struct iovec iov[NQ_SCATTER_IOV];
    int cnt = nq_framer_scatter_prepare(&f, &sc, iov, buf, sizeof buf, 64 * 1024);
    assert_int_equal(cnt, 3); /* header, body, buffer */
    assert_int_equal(iov[0].iov_len, 8);
    assert_int_equal(iov[1].iov_len, 9000);
    memcpy(iov[0].iov_base, s + 9008, 8);
    memcpy(iov[1].iov_base, s + 9016, 4000);
    assert_int_equal(nq_framer_scatter_commit(&f, &sc, 8 + 4000, on_frame, &g), NQ_OK);
    assert_true(nq_framer_partial(&f));
    assert_int_equal(pool.used, 9000);
    /* the rest of it, then a guess for the third */
    cnt = nq_framer_scatter_prepare(&f, &sc, iov, buf, sizeof buf, 64 * 1024);
    assert_true(cnt >= 4);
    assert_int_equal(iov[0].iov_len, 5000);
    memcpy(iov[0].iov_base, s + 9016 + 4000, 5000);
    memcpy(iov[1].iov_base, s + 2 * 9008, 8);
    memcpy(iov[2].iov_base, s + 2 * 9008 + 8, 9000);
    assert_int_equal(nq_framer_scatter_commit(&f, &sc, 5000 + 9008, on_frame, &g), NQ_OK);
    assert_false(nq_framer_partial(&f));
    assert_int_equal(pool.used, 0);
    assert_int_equal(g.n, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(g.sums[i], want[i]);
    free(s);
}

/* Small frames, and a header cut in two, guess nothing. */
static void test_nothing_to_guess(void **state)
{
    (void)state;
    static uint8_t buf[1024];
    struct nq_scatter sc;
    struct iovec iov[NQ_SCATTER_IOV];
    struct nq_framer f;
    nq_framer_init(&f, 1u << 30);
    assert_int_equal(nq_framer_scatter_prepare(&f, &sc, iov, buf, sizeof buf, 65536), 0);
    uint8_t small[8 + 100] = {0};
    nq_put_be64(small, 100);
    struct got g = {0};
    assert_int_equal(nq_framer_feed(&f, small, sizeof small, on_frame, &g), NQ_OK);
    assert_int_equal(nq_framer_scatter_prepare(&f, &sc, iov, buf, sizeof buf, 65536), 0);
    f.last_size = 9000;
    assert_int_equal(nq_framer_feed(&f, small, 3, on_frame, &g), NQ_OK);
    assert_int_equal(nq_framer_scatter_prepare(&f, &sc, iov, buf, sizeof buf, 65536), 0);
    nq_framer_reset(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_size_every_cut),
        cmocka_unit_test(test_guesses_proved_wrong),
        cmocka_unit_test(test_lying_header_in_a_guess),
        cmocka_unit_test(test_partial_guess_is_the_frame_in_progress),
        cmocka_unit_test(test_nothing_to_guess),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
