/* Unit tests for chunks and streams: ownership, order, splitting, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <netqueue/netqueue.h>

/* Records every release call, so tests can check "exactly once" and that the
 * release sees the pointer and size it was handed, not a split remainder. */
struct tally {
    int calls;
    void *data;
    size_t size;
};

static void count_release(void *user, void *data, size_t size)
{
    struct tally *t = user;
    t->calls++;
    t->data = data;
    t->size = size;
}

static nq_chunk *wrap(char *data, size_t size, struct tally *t)
{
    nq_chunk *c = NULL;
    assert_int_equal(nq_chunk_wrap(&c, data, size, count_release, t), NQ_OK);
    assert_non_null(c);
    return c;
}

static void test_chunk_wrap_and_copy(void **state)
{
    char bytes[] = "hello";
    struct tally t = { 0 };
    nq_chunk *w = wrap(bytes, 5, &t);
    assert_ptr_equal(nq_chunk_data(w), bytes);
    assert_int_equal(nq_chunk_size(w), 5);
    nq_chunk_free(w);
    assert_int_equal(t.calls, 1);
    assert_ptr_equal(t.data, bytes);
    assert_int_equal(t.size, 5);

    nq_chunk *c = NULL;
    assert_int_equal(nq_chunk_copy(&c, bytes, 5), NQ_OK);
    assert_ptr_not_equal(nq_chunk_data(c), bytes);
    bytes[0] = 'J';
    assert_memory_equal(nq_chunk_data(c), "hello", 5);
    nq_chunk_free(c);

    /* Empty chunks, with and without data, and no release function. */
    assert_int_equal(nq_chunk_copy(&c, NULL, 0), NQ_OK);
    assert_int_equal(nq_chunk_size(c), 0);
    nq_chunk_free(c);
    assert_int_equal(nq_chunk_wrap(&c, NULL, 0, NULL, NULL), NQ_OK);
    nq_chunk_free(c);
    nq_chunk_free(NULL);
}

static void test_chunk_errors(void **state)
{
    struct tally t = { 0 };
    nq_chunk *c = (nq_chunk *)&t;
    assert_int_equal(nq_chunk_wrap(NULL, "x", 1, count_release, &t), NQ_EINVAL);
    assert_int_equal(nq_chunk_wrap(&c, NULL, 1, count_release, &t), NQ_EINVAL);
    assert_null(c);
    assert_int_equal(t.calls, 0); /* no release on error */
    assert_true(strlen(nq_last_error()) > 0);
    assert_int_equal(nq_chunk_copy(NULL, "x", 1), NQ_EINVAL);
    c = (nq_chunk *)&t;
    assert_int_equal(nq_chunk_copy(&c, NULL, 1), NQ_EINVAL);
    assert_null(c);
}

static void test_write_read_order(void **state)
{
    nq_stream *s = NULL;
    assert_int_equal(nq_stream_new(&s), NQ_OK);
    assert_int_equal(nq_stream_nchunks(s), 0);
    assert_int_equal(nq_stream_nbytes(s), 0);

    assert_int_equal(nq_stream_write(s, "ab", 2), NQ_OK);
    assert_int_equal(nq_stream_write(s, "cde", 3), NQ_OK);
    assert_int_equal(nq_stream_write(s, NULL, 0), NQ_OK);
    assert_int_equal(nq_stream_nchunks(s), 3);
    assert_int_equal(nq_stream_nbytes(s), 5);

    const nq_chunk *p = NULL;
    assert_int_equal(nq_stream_peek_chunk(s, &p), NQ_OK);
    assert_memory_equal(nq_chunk_data(p), "ab", 2);
    assert_int_equal(nq_stream_nchunks(s), 3); /* peek takes nothing */

    nq_chunk *c = NULL;
    assert_int_equal(nq_stream_read_chunk(s, &c), NQ_OK);
    assert_ptr_equal(c, p);
    assert_int_equal(nq_stream_nchunks(s), 2);
    assert_int_equal(nq_stream_nbytes(s), 3);

    /* unread puts it back in front */
    assert_int_equal(nq_stream_unread_chunk(s, c), NQ_OK);
    assert_int_equal(nq_stream_nbytes(s), 5);
    assert_int_equal(nq_stream_peek_chunk(s, &p), NQ_OK);
    assert_ptr_equal(p, c);

    /* unwrite takes the last (the empty one), then "cde" */
    assert_int_equal(nq_stream_unwrite_chunk(s, &c), NQ_OK);
    assert_int_equal(nq_chunk_size(c), 0);
    nq_chunk_free(c);
    assert_int_equal(nq_stream_unwrite_chunk(s, &c), NQ_OK);
    assert_memory_equal(nq_chunk_data(c), "cde", 3);
    nq_chunk_free(c);
    assert_int_equal(nq_stream_nchunks(s), 1);
    assert_int_equal(nq_stream_nbytes(s), 2);

    assert_int_equal(nq_stream_read_chunk(s, &c), NQ_OK);
    nq_chunk_free(c);
    assert_int_equal(nq_stream_read_chunk(s, &c), NQ_EAGAIN);
    assert_null(c);
    assert_int_equal(nq_stream_unwrite_chunk(s, &c), NQ_EAGAIN);
    assert_int_equal(nq_stream_peek_chunk(s, &p), NQ_EAGAIN);

    /* a stream reused after being emptied from the tail end */
    assert_int_equal(nq_stream_write(s, "z", 1), NQ_OK);
    assert_int_equal(nq_stream_unread_chunk(s, wrap("y", 1, &(struct tally){ 0 })), NQ_OK);
    char buf[4];
    size_t n = 0;
    assert_int_equal(nq_stream_read(s, buf, sizeof buf, &n), NQ_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(buf, "yz", 2);
    nq_stream_free(s);
}

static void test_read_spans_and_splits(void **state)
{
    char a[] = "0123456789", b[] = "abcdef";
    struct tally ta = { 0 }, tb = { 0 };
    nq_stream *s = NULL;
    assert_int_equal(nq_stream_new(&s), NQ_OK);
    assert_int_equal(nq_stream_write_chunk(s, wrap(a, 10, &ta)), NQ_OK);
    assert_int_equal(nq_stream_write_chunk(s, wrap(b, 6, &tb)), NQ_OK);

    char buf[32];
    size_t n = 0;
    assert_int_equal(nq_stream_read(s, buf, 3, &n), NQ_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "012", 3);
    assert_int_equal(ta.calls, 0); /* the rest of a is still in the stream */
    assert_int_equal(nq_stream_nbytes(s), 13);
    assert_int_equal(nq_stream_nchunks(s), 2);

    /* many nibbles at the same chunk */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(nq_stream_read(s, buf, 1, &n), NQ_OK);
        assert_int_equal(n, 1);
        assert_int_equal(buf[0], '3' + i);
    }
    assert_int_equal(ta.calls, 0);

    const nq_chunk *p = NULL;
    assert_int_equal(nq_stream_peek_chunk(s, &p), NQ_OK);
    assert_int_equal(nq_chunk_size(p), 3);
    assert_memory_equal(nq_chunk_data(p), "789", 3);

    /* read across the chunk boundary: a goes (once, with its own pointer
     * and size), b is split */
    assert_int_equal(nq_stream_read(s, buf, 5, &n), NQ_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "789ab", 5);
    assert_int_equal(ta.calls, 1);
    assert_ptr_equal(ta.data, a);
    assert_int_equal(ta.size, 10);
    assert_int_equal(tb.calls, 0);
    assert_int_equal(nq_stream_nbytes(s), 4);

    /* the remainder of b taken as a chunk keeps the duty to release b */
    nq_chunk *c = NULL;
    assert_int_equal(nq_stream_read_chunk(s, &c), NQ_OK);
    assert_int_equal(nq_chunk_size(c), 4);
    assert_memory_equal(nq_chunk_data(c), "cdef", 4);
    assert_int_equal(nq_stream_nbytes(s), 0);
    nq_chunk_free(c);
    assert_int_equal(tb.calls, 1);
    assert_ptr_equal(tb.data, b);
    assert_int_equal(tb.size, 6);

    assert_int_equal(nq_stream_read(s, buf, sizeof buf, &n), NQ_OK);
    assert_int_equal(n, 0);
    nq_stream_free(s);
    assert_int_equal(ta.calls, 1);
    assert_int_equal(tb.calls, 1);
}

static void test_split_then_free_and_clear(void **state)
{
    char a[] = "abcdef";
    struct tally t = { 0 };
    nq_stream *s = NULL;
    char buf[4];
    size_t n;

    assert_int_equal(nq_stream_new(&s), NQ_OK);
    assert_int_equal(nq_stream_write_chunk(s, wrap(a, 6, &t)), NQ_OK);
    assert_int_equal(nq_stream_read(s, buf, 2, &n), NQ_OK);
    nq_stream_free(s);
    assert_int_equal(t.calls, 1);
    assert_ptr_equal(t.data, a);
    assert_int_equal(t.size, 6);

    t = (struct tally){ 0 };
    assert_int_equal(nq_stream_new(&s), NQ_OK);
    assert_int_equal(nq_stream_write_chunk(s, wrap(a, 6, &t)), NQ_OK);
    assert_int_equal(nq_stream_write(s, "x", 1), NQ_OK);
    assert_int_equal(nq_stream_read(s, buf, 1, &n), NQ_OK);
    nq_stream_clear(s);
    assert_int_equal(t.calls, 1);
    assert_int_equal(nq_stream_nchunks(s), 0);
    assert_int_equal(nq_stream_nbytes(s), 0);
    nq_stream_clear(s); /* nothing left to release twice */
    assert_int_equal(t.calls, 1);

    /* the split remainder can be unwritten, unread and read to the end */
    t = (struct tally){ 0 };
    assert_int_equal(nq_stream_write_chunk(s, wrap(a, 6, &t)), NQ_OK);
    assert_int_equal(nq_stream_read(s, buf, 1, &n), NQ_OK);
    nq_chunk *c;
    assert_int_equal(nq_stream_unwrite_chunk(s, &c), NQ_OK);
    assert_int_equal(nq_stream_unread_chunk(s, c), NQ_OK);
    assert_int_equal(nq_stream_read(s, buf, 4, &n), NQ_OK);
    assert_memory_equal(buf, "bcde", 4);
    assert_int_equal(t.calls, 0);
    assert_int_equal(nq_stream_read(s, buf, 4, &n), NQ_OK);
    assert_int_equal(n, 1);
    assert_int_equal(buf[0], 'f');
    assert_int_equal(t.calls, 1);
    nq_stream_free(s);
    assert_int_equal(t.calls, 1);
}

static void test_read_copies_and_chunks_without_release(void **state)
{
    nq_stream *s = NULL;
    char buf[8];
    size_t n;
    static char fixed[] = "static!";
    nq_chunk *c;

    assert_int_equal(nq_stream_new(&s), NQ_OK);
    assert_int_equal(nq_stream_write(s, "hello", 5), NQ_OK);
    assert_int_equal(nq_chunk_wrap(&c, fixed, 7, NULL, NULL), NQ_OK);
    assert_int_equal(nq_stream_write_chunk(s, c), NQ_OK);
    assert_int_equal(nq_stream_read(s, buf, 2, &n), NQ_OK);
    assert_int_equal(nq_stream_read(s, buf, 4, &n), NQ_OK);
    assert_memory_equal(buf, "llos", 4);
    assert_int_equal(nq_stream_nchunks(s), 1);
    assert_int_equal(nq_stream_nbytes(s), 6);
    assert_int_equal(nq_stream_read(s, buf, 0, &n), NQ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(nq_stream_read(s, buf, sizeof buf, &n), NQ_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(buf, "tatic!", 6);
    assert_string_equal(fixed, "static!");
    nq_stream_free(s);
}

static void test_stream_errors(void **state)
{
    nq_stream *s = NULL;
    nq_chunk *c = NULL;
    const nq_chunk *p = NULL;
    char buf[2];
    size_t n = 7;

    assert_int_equal(nq_stream_new(NULL), NQ_EINVAL);
    assert_int_equal(nq_stream_new(&s), NQ_OK);
    assert_int_equal(nq_stream_write_chunk(NULL, c), NQ_EINVAL);
    assert_int_equal(nq_stream_write_chunk(s, NULL), NQ_EINVAL);
    assert_int_equal(nq_stream_unread_chunk(s, NULL), NQ_EINVAL);
    assert_int_equal(nq_stream_write(NULL, "x", 1), NQ_EINVAL);
    assert_int_equal(nq_stream_write(s, NULL, 1), NQ_EINVAL);
    assert_int_equal(nq_stream_read_chunk(NULL, &c), NQ_EINVAL);
    assert_int_equal(nq_stream_read_chunk(s, NULL), NQ_EINVAL);
    assert_int_equal(nq_stream_unwrite_chunk(s, NULL), NQ_EINVAL);
    assert_int_equal(nq_stream_peek_chunk(NULL, &p), NQ_EINVAL);
    assert_int_equal(nq_stream_read(NULL, buf, 1, &n), NQ_EINVAL);
    assert_int_equal(n, 0);
    assert_int_equal(nq_stream_read(s, NULL, 1, &n), NQ_EINVAL);
    assert_int_equal(nq_stream_read(s, buf, 1, NULL), NQ_EINVAL);
    assert_int_equal(nq_stream_nchunks(s), 0);
    assert_int_equal(nq_stream_nchunks(NULL), 0);
    assert_int_equal(nq_stream_nbytes(NULL), 0);
    nq_stream_clear(NULL);
    nq_stream_free(NULL);
    nq_stream_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_wrap_and_copy),
        cmocka_unit_test(test_chunk_errors),
        cmocka_unit_test(test_write_read_order),
        cmocka_unit_test(test_read_spans_and_splits),
        cmocka_unit_test(test_split_then_free_and_clear),
        cmocka_unit_test(test_read_copies_and_chunks_without_release),
        cmocka_unit_test(test_stream_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
