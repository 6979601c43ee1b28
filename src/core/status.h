/* Internal: setting the thread's last-error detail. */
#ifndef NQ_CORE_STATUS_H
#define NQ_CORE_STATUS_H

#include <netqueue/common.h>

/* Record a printf-style detail for nq_last_error() and return status. */
nq_status nq_fail(nq_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void nq_clear_error(void);

#endif
