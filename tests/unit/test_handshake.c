/* ini/fin recognition in both dialects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/handshake.h"

static const uint8_t peer[16] = {0x9f, 0xc6, 0xd5, 0xc2, 0xd1, 0x9c, 0x47, 0xf6,
                                 0x8b, 0x2a, 0x6f, 0xf9, 0x5f, 0xbb, 0xb4, 0x8d};
static const uint8_t other[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void test_first_frame(void **state)
{
    for (int d = 0; d < 2; d++) {
        assert_int_equal(nq_handshake_classify(d, 0, NULL, peer, 16), NQ_FRAME_INI);
        assert_int_equal(nq_handshake_classify(d, 0, NULL, peer, 15), NQ_FRAME_BAD_INI);
        assert_int_equal(nq_handshake_classify(d, 0, NULL, peer, 17), NQ_FRAME_BAD_INI);
        assert_int_equal(nq_handshake_classify(d, 0, NULL, peer, 0), NQ_FRAME_BAD_INI);
    }
}

static void test_current(void **state)
{
    assert_int_equal(nq_handshake_classify(NQ_DIALECT_CURRENT, 1, peer, peer, 16), NQ_FRAME_FIN);
    assert_int_equal(nq_handshake_classify(NQ_DIALECT_CURRENT, 1, peer, other, 16), NQ_FRAME_DATA);
    assert_int_equal(nq_handshake_classify(NQ_DIALECT_CURRENT, 1, peer, peer, 0), NQ_FRAME_DATA);
    assert_int_equal(nq_handshake_classify(NQ_DIALECT_CURRENT, 1, peer, peer, 15), NQ_FRAME_DATA);
}

static void test_legacy(void **state)
{
    assert_int_equal(nq_handshake_classify(NQ_DIALECT_LEGACY, 1, peer, peer, 0), NQ_FRAME_FIN);
    /* in legacy the id again is just data */
    assert_int_equal(nq_handshake_classify(NQ_DIALECT_LEGACY, 1, peer, peer, 16), NQ_FRAME_DATA);
    assert_int_equal(nq_handshake_classify(NQ_DIALECT_LEGACY, 1, peer, other, 1), NQ_FRAME_DATA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_frame),
        cmocka_unit_test(test_current),
        cmocka_unit_test(test_legacy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
