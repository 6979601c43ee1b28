/* Error lines and exit codes, one format for every failure. */
#include <stdarg.h>

#include "cli.h"

int cli_exit_code(nq_status st)
{
    switch (st) {
    case NQ_OK: return CLI_OK;
    case NQ_ETIMEDOUT: return CLI_TIMEOUT;
    default: return CLI_ERROR;
    }
}

/* nq_last_error() is thread-local: call this on the thread that failed. */
int cli_fail(const char *what, nq_status st)
{
    const char *detail = nq_last_error();
    if (detail && *detail)
        fprintf(stderr, "nq: %s: %s (%s)\n", what, nq_strerror(st), detail);
    else
        fprintf(stderr, "nq: %s: %s\n", what, nq_strerror(st));
    return cli_exit_code(st);
}

int cli_fail_status(const char *what, nq_status st)
{
    fprintf(stderr, "nq: %s: %s\n", what, nq_strerror(st));
    return cli_exit_code(st);
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("nq: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_USAGE;
}
