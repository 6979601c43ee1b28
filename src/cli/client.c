/* `nq client`: put messages in order, get some, close. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Put one payload and wait until it has been handed to the transport, so
 * that the order on the wire is the order on the command line and a
 * failure is reported against the message that caused it. */
static int put_one(nq_comm *c, const struct cli_args *a, const struct cli_put *p)
{
    void *raw = NULL, *buf = NULL;
    size_t raw_size = 0, size = 0;
    int rc;
    if (p->is_file) {
        rc = cli_read_file(p->arg, &raw, &raw_size);
        if (rc != CLI_OK)
            return rc;
        rc = cli_encode(a->codec, raw, raw_size, 0, &buf, &size);
        free(raw);
    } else {
        rc = cli_encode(a->codec, p->arg, strlen(p->arg), 1, &buf, &size);
    }
    if (rc != CLI_OK)
        return rc;

    nq_future *fu = NULL;
    nq_status st = nq_comm_put_future(c, buf, size, NULL, 0, &fu);
    free(buf); /* put copies the bytes */
    if (st != NQ_OK)
        return cli_fail("put", st);
    nq_status result = NQ_OK;
    st = nq_future_wait(fu, a->timeout_ms, &result);
    nq_future_free(fu);
    if (st != NQ_OK)
        return cli_fail_status("put: not sent within --timeout", st);
    if (result != NQ_OK)
        return cli_fail_status("put", result);
    return CLI_OK;
}

int cli_client(const struct cli_args *a)
{
    nq_comm *c = NULL;
    int rc = cli_comm_new(a, NQ_CLIENT, &c);
    if (rc != CLI_OK)
        return rc;

    for (size_t i = 0; i < a->nputs && rc == CLI_OK; i++)
        rc = put_one(c, a, &a->puts[i]);

    for (long i = 0; i < a->get && rc == CLI_OK; i++) {
        nq_msg *m = NULL;
        nq_status st = nq_comm_get(c, NULL, 0, a->timeout_ms, &m);
        if (st != NQ_OK) {
            rc = cli_fail("get", st);
            break;
        }
        if (!a->quiet)
            rc = cli_print_msg(stdout, m, a->codec);
        nq_msg_free(m);
    }

    if (rc == CLI_OK) {
        nq_status st = nq_comm_close(c, a->timeout_ms);
        if (st != NQ_OK)
            rc = cli_fail("close", st);
    }
    nq_comm_free(c);
    return rc;
}
