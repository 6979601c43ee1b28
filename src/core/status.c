/* Status names and the per-thread detail of the last error. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/status.h"

static _Thread_local char last_error[512];

const char *nq_strerror(nq_status status)
{
    switch (status) {
    case NQ_OK: return "success";
    case NQ_EINVAL: return "invalid argument";
    case NQ_ENOMEM: return "out of memory";
    case NQ_ECLOSED: return "communicator closed";
    case NQ_ECANCELED: return "cancelled by close";
    case NQ_ETIMEDOUT: return "timed out";
    case NQ_ENOPEER: return "unknown peer";
    case NQ_ERESET: return "connection to peer lost";
    case NQ_EPROTO: return "protocol error";
    case NQ_ETOOBIG: return "message too big";
    case NQ_EIO: return "I/O error";
    case NQ_ETLS: return "TLS error";
    case NQ_EUNSUPPORTED: return "not supported";
    case NQ_EAGAIN: return "nothing available yet";
    case NQ_ECODEC: return "codec error";
    case NQ_EADDR: return "address error";
    case NQ_ESTATE: return "invalid state";
    }
    return "unknown status";
}

const char *nq_last_error(void)
{
    return last_error;
}

nq_status nq_fail(nq_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

void nq_clear_error(void)
{
    last_error[0] = '\0';
}
