/* Memory bounds. A server that stops getting pushes back (receive queue
 * limit); a client with a send limit then stops accepting puts instead of
 * copying without end; close releases a put that waits; nothing accepted
 * is lost or reordered. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nqtest.h"

#define MSG (64 * 1024)
#define TRIES 4000 /* 256 MiB: far more than socket buffers and both limits */

struct putter {
    nq_comm *c;
    _Atomic int accepted;
    nq_status last;
};

static void *put_all(void *arg)
{
    struct putter *p = arg;
    uint8_t *buf = malloc(MSG);
    for (int i = 0; i < TRIES; i++) {
        memset(buf, 0, MSG);
        memcpy(buf, &i, sizeof i);
        nq_status st = nq_comm_put(p->c, buf, MSG, NULL, 0, NULL, NULL);
        if (st != NQ_OK) {
            p->last = st;
            break;
        }
        p->accepted++;
    }
    free(buf);
    return NULL;
}

static void test_send_limit_bounds_and_close_releases(void **state)
{
    nq_options *so = nqt_opts(0);
    assert_int_equal(nq_options_set_queue_limit(so, 1024 * 1024), NQ_OK);
    nq_comm *s = nqt_server(so);
    nq_options *co = nqt_opts(nqt_port_of(s));
    assert_int_equal(nq_options_set_send_limit(co, 1024 * 1024), NQ_OK);
    nq_comm *c = nqt_client(co);

    struct putter p = {.c = c, .last = NQ_OK};
    pthread_t t;
    pthread_create(&t, NULL, put_all, &p);
    /* wait until the putter stops making progress: the server does not get,
     * so only the bounds can stop it */
    int last = -1;
    for (int stable = 0; stable < 10;) {
        nqt_sleep_ms(100);
        int now = p.accepted;
        stable = now == last ? stable + 1 : 0;
        last = now;
        assert_true(now < TRIES);
    }
    print_message("puts accepted before the send limit held: %d of %d\n", last, TRIES);

    /* close with a short timeout: the waiting put gives up with NQ_ECLOSED */
    nq_status cs = nq_comm_close(c, 300);
    assert_true(cs == NQ_ETIMEDOUT || cs == NQ_OK);
    pthread_join(t, NULL);
    assert_int_equal(p.last, NQ_ECLOSED);

    /* what reached the server is a prefix of what was put, in order */
    int got = 0;
    nq_msg *m;
    while (nq_comm_get(s, NULL, 0, 500, &m) == NQ_OK) {
        int seq;
        assert_int_equal(nq_msg_size(m), MSG);
        memcpy(&seq, nq_msg_data(m), sizeof seq);
        assert_int_equal(seq, got);
        got++;
        nq_msg_free(m);
    }
    print_message("server got %d messages in order\n", got);
    assert_true(got > 0 && got <= p.accepted);
    nq_comm_free(c);
    nq_comm_close(s, 2000);
    nq_comm_free(s);
}

static void test_send_limit_lets_everything_through(void **state)
{
    int port;
    nq_comm *s = nqt_plain_server(&port);
    nq_options *co = nqt_opts(port);
    assert_int_equal(nq_options_set_send_limit(co, 256 * 1024), NQ_OK);
    nq_comm *c = nqt_client(co);
    struct putter p = {.c = c, .last = NQ_OK};
    pthread_t t;
    pthread_create(&t, NULL, put_all, &p);
    for (int i = 0; i < TRIES; i++) {
        nq_msg *m;
        assert_int_equal(nq_comm_get(s, NULL, 0, 20000, &m), NQ_OK);
        int seq;
        memcpy(&seq, nq_msg_data(m), sizeof seq);
        assert_int_equal(seq, i);
        nq_msg_free(m);
    }
    pthread_join(t, NULL);
    assert_int_equal(p.accepted, TRIES);
    assert_int_equal(nq_comm_close(c, 20000), NQ_OK);
    nq_comm_free(c);
    assert_int_equal(nq_comm_close(s, 20000), NQ_OK);
    nq_comm_free(s);
}

/* A server whose queue is full stops reading; when it closes it must still
 * notice a client that was cut off meanwhile instead of waiting for it. */
static void test_full_server_closes_after_client_cut(void **state)
{
    nq_options *so = nqt_opts(0);
    assert_int_equal(nq_options_set_queue_limit(so, 1024), NQ_OK);
    nq_comm *s = nqt_server(so);
    nq_comm *c = nqt_plain_client(nqt_port_of(s));
    uint8_t *buf = calloc(1, 1 << 20);
    for (int i = 0; i < 64; i++)
        assert_int_equal(nq_comm_put(c, buf, 1 << 20, NULL, 0, NULL, NULL), NQ_OK);
    free(buf);
    nqt_sleep_ms(200);
    assert_int_equal(nq_comm_close(c, 200), NQ_ETIMEDOUT); /* the server is not reading */
    nq_comm_free(c);
    assert_int_equal(nq_comm_close(s, 20000), NQ_OK);
    nq_msg *m;
    int got = 0;
    while (nq_comm_get(s, NULL, 0, 0, &m) == NQ_OK) { /* still gettable after close */
        assert_int_equal(nq_msg_size(m), 1 << 20);
        nq_msg_free(m);
        got++;
    }
    print_message("server kept %d whole messages from the cut client\n", got);
    assert_true(got > 0 && got < 64);
    nq_comm_free(s);
}

static void test_send_limit_option(void **state)
{
    nq_options *o;
    assert_int_equal(nq_options_new(&o), NQ_OK);
    assert_int_equal(nq_options_set_send_limit(o, 10), NQ_EINVAL);
    assert_int_equal(nq_options_set_send_limit(o, 0), NQ_OK);
    assert_int_equal(nq_options_set_send_limit(o, 1 << 20), NQ_OK);
    nq_options_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_limit_option),
        cmocka_unit_test(test_send_limit_bounds_and_close_releases),
        cmocka_unit_test(test_send_limit_lets_everything_through),
        cmocka_unit_test(test_full_server_closes_after_client_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
