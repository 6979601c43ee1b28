/* Internal: monotonic deadlines for timed waits. */
#ifndef NQ_CORE_TIMEUTIL_H
#define NQ_CORE_TIMEUTIL_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

static inline void nq_cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

/* Deadline timeout_ns from now on CLOCK_MONOTONIC (now if <= 0). */
static inline void nq_deadline_ns(struct timespec *ts, int64_t timeout_ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    if (timeout_ns <= 0)
        return;
    ts->tv_sec += timeout_ns / 1000000000;
    ts->tv_nsec += timeout_ns % 1000000000;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Deadline timeout_ms from now on CLOCK_MONOTONIC (now if <= 0). */
static inline void nq_deadline(struct timespec *ts, int64_t timeout_ms)
{
    nq_deadline_ns(ts, timeout_ms > 0 ? timeout_ms * 1000000 : 0);
}

static inline int64_t nq_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t nq_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
