/* `nq client`: put messages in order, get some, close. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Every payload, read and encoded before any network work, so that a bad
 * file or text is a usage error that never touches a connection. */
struct payload {
    void *data;
    size_t size;
    const char *file; /* --put-file's path (progress), else NULL */
};

static void free_payloads(struct payload *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(p[i].data);
    free(p);
}

static int make_payloads(const struct cli_args *a, struct payload **out)
{
    struct payload *p = calloc(a->nputs ? a->nputs : 1, sizeof *p);
    if (!p)
        return cli_fail("client", NQ_ENOMEM);
    for (size_t i = 0; i < a->nputs; i++) {
        const struct cli_put *put = &a->puts[i];
        int rc;
        if (put->is_file) {
            void *raw = NULL;
            size_t raw_size = 0;
            p[i].file = put->arg;
            rc = cli_read_file(put->arg, &raw, &raw_size);
            if (rc == CLI_OK)
                rc = cli_encode(a->codec, raw, raw_size, 0, &p[i].data, &p[i].size);
            free(raw);
        } else {
            rc = cli_encode(a->codec, put->arg, strlen(put->arg), 1, &p[i].data, &p[i].size);
        }
        if (rc != CLI_OK) {
            free_payloads(p, a->nputs);
            return rc;
        }
    }
    *out = p;
    return CLI_OK;
}

/* Put one payload and wait until it has been handed to the transport, so
 * that the order on the wire is the order on the command line and a
 * failure is reported against the message that caused it. */
static int put_one(nq_comm *c, const struct cli_args *a, const struct payload *p,
                   struct cli_report *rep)
{
    nq_future *fu = NULL;
    cli_report_put(rep, p->file, p->size);
    nq_status st = nq_comm_put_future(c, p->data, p->size, NULL, 0, &fu);
    if (st != NQ_OK) {
        cli_report_put(rep, NULL, 0);
        return cli_fail("put", st);
    }
    nq_status result = NQ_OK;
    st = nq_future_wait(fu, a->timeout_ms, &result);
    cli_report_put(rep, NULL, 0);
    nq_future_free(fu);
    if (st != NQ_OK)
        return cli_fail_status("put: not sent within --timeout", st);
    if (result != NQ_OK)
        return cli_fail_status("put", result);
    return CLI_OK;
}

int cli_client(const struct cli_args *a)
{
    struct payload *payloads = NULL;
    int rc = make_payloads(a, &payloads);
    if (rc != CLI_OK)
        return rc;
    nq_comm *c = NULL;
    rc = cli_comm_new(a, NQ_CLIENT, &c);
    if (rc != CLI_OK) {
        free_payloads(payloads, a->nputs);
        return rc;
    }

    struct cli_report *rep = NULL;
    rc = cli_report_start(&rep, c, a->stats_s, 1);
    for (size_t i = 0; i < a->nputs && rc == CLI_OK; i++)
        rc = put_one(c, a, &payloads[i], rep);
    free_payloads(payloads, a->nputs);

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
        nq_status st = nq_comm_close(c, a->close_timeout_ms);
        if (st != NQ_OK)
            rc = cli_fail("close", st);
    }
    cli_report_stop(rep); /* the final figures, after close */
    nq_comm_free(c);
    return rc;
}
