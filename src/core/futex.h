/* Internal: sleeping on a 32-bit word (Linux futex). A producer bumps the
 * word and wakes sleepers; a consumer reads the word, looks for work, and
 * sleeps only while the word is unchanged, so no wake-up is lost. */
#ifndef NQ_CORE_FUTEX_H
#define NQ_CORE_FUTEX_H

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline void nq_futex_wake_all(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Sleep while *word == seen, at most until deadline (CLOCK_MONOTONIC;
 * NULL: no limit). May return early; callers loop. */
static inline void nq_futex_wait(_Atomic uint32_t *word, uint32_t seen,
                                 const struct timespec *deadline)
{
    struct timespec rel, *relp = NULL;
    if (deadline) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        rel.tv_sec = deadline->tv_sec - now.tv_sec;
        rel.tv_nsec = deadline->tv_nsec - now.tv_nsec;
        if (rel.tv_nsec < 0) {
            rel.tv_sec--;
            rel.tv_nsec += 1000000000L;
        }
        if (rel.tv_sec < 0)
            return;
        relp = &rel;
    }
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, seen, relp, NULL, 0);
}

/* 1 when the CLOCK_MONOTONIC deadline has passed. */
static inline int nq_deadline_passed(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

#endif
