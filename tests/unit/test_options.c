/* Options validation: bad values are refused where they are given, with a
 * detail, and leave the handle unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <netqueue/netqueue.h>
#include "core/options_internal.h"

static void test_defaults(void **state)
{
    nq_options *o, *p;
    assert_int_equal(nq_options_new(&o), NQ_OK);
    assert_int_equal(nq_options_new(&p), NQ_OK);
    assert_string_equal(o->host, "127.0.0.1");
    assert_int_equal(o->port, 51966);
    assert_int_equal(o->dialect, NQ_DIALECT_CURRENT);
    /* each handle gets its own id (the reference shared one by accident) */
    assert_memory_not_equal(o->id, p->id, 16);
    assert_int_equal(o->id[6] >> 4, 4);
    nq_options_free(o);
    nq_options_free(p);
}

static void test_rejects(void **state)
{
    nq_options *o;
    assert_int_equal(nq_options_new(&o), NQ_OK);
    assert_int_equal(nq_options_set_port(o, 70000), NQ_EINVAL);
    assert_true(strlen(nq_last_error()) > 0);
    assert_int_equal(nq_options_set_port(o, -1), NQ_EINVAL);
    assert_int_equal(o->port, 51966);
    assert_int_equal(nq_options_set_workers(o, 0), NQ_EINVAL);
    assert_int_equal(nq_options_set_host(o, NULL), NQ_EINVAL);
    assert_int_equal(nq_options_set_host(o, ""), NQ_EINVAL);
    assert_int_equal(nq_options_set_transport_size(o, 100), NQ_EINVAL);
    assert_int_equal(nq_options_set_queue_policy(o, (nq_queue_policy)7), NQ_EINVAL);
    assert_int_equal(nq_options_set_dialect(o, (nq_dialect)2), NQ_EINVAL);
    assert_int_equal(nq_options_set_message_limit(o, UINT64_MAX), NQ_EINVAL);
    assert_int_equal(nq_options_set_tls_key(o, ""), NQ_EINVAL);
    assert_int_equal(nq_options_set_port(NULL, 1), NQ_EINVAL);
    assert_int_equal(nq_options_set_port(o, 0), NQ_OK);
    assert_int_equal(nq_options_set_host(o, "::1"), NQ_OK);
    assert_string_equal(o->host, "::1");
    nq_options_free(o);
}

static void test_copy_is_deep(void **state)
{
    nq_options *o, *c;
    assert_int_equal(nq_options_new(&o), NQ_OK);
    assert_int_equal(nq_options_set_tls_ca(o, "/tmp/ca.pem"), NQ_OK);
    assert_int_equal(nq_options_set_tls_client_ca(o, "/tmp/clients.pem"), NQ_OK);
    assert_int_equal(nq_options_copy(&c, o), NQ_OK);
    assert_int_equal(nq_options_set_tls_ca(o, "/tmp/other.pem"), NQ_OK);
    assert_int_equal(nq_options_set_tls_client_ca(o, NULL), NQ_OK);
    assert_null(o->tls_client_ca);
    assert_string_equal(c->tls_ca, "/tmp/ca.pem");
    assert_string_equal(c->tls_client_ca, "/tmp/clients.pem");
    assert_int_equal(nq_options_set_tls_client_ca(c, ""), NQ_EINVAL); /* unchanged */
    assert_string_equal(c->tls_client_ca, "/tmp/clients.pem");
    nq_options_free(o);
    nq_options_free(c);
}

static void test_comm_new_rejects(void **state)
{
    nq_comm *c = NULL;
    /* MQTT is built in when paho is found: then the constructor succeeds
     * (it never waits for the broker); otherwise it says so */
    nq_status mq = nq_comm_new(&c, NQ_MQTT, NQ_CLIENT, NULL);
    assert_true(mq == NQ_EUNSUPPORTED || mq == NQ_OK);
    if (c) {
        nq_comm_free(c);
        c = NULL;
    }
    assert_int_equal(nq_comm_new(&c, (nq_protocol)9, NQ_CLIENT, NULL), NQ_EINVAL);
    assert_int_equal(nq_comm_new(&c, NQ_TCP, (nq_purpose)5, NULL), NQ_EINVAL);
    assert_null(c);
    nq_options *o;
    assert_int_equal(nq_options_new(&o), NQ_OK);
    nq_options_set_tls(o, 1);
    nq_options_set_port(o, 0);
    assert_int_equal(nq_comm_new(&c, NQ_TCP, NQ_SERVER, o), NQ_ETLS); /* no key */
    assert_non_null(strstr(nq_last_error(), "key"));
    nq_options_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_copy_is_deep),
        cmocka_unit_test(test_comm_new_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
