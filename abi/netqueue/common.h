/**
 * @file
 * netqueue — common definitions: export macros, status codes, ids.
 *
 * Thread rules for the whole ABI: every function is safe to call from any
 * thread unless its comment says otherwise. Callbacks given to the library
 * run on the library's own I/O thread, with no library lock held — except
 * for puts (and chunks) still pending when a communicator is closed: those
 * complete with NQ_ECANCELED on the thread that calls nq_comm_close() or
 * nq_comm_free(), after the I/O thread has stopped. Callbacks must not block
 * and must not call nq_comm_close() or nq_comm_free() on the communicator
 * that runs them.
 */
#ifndef NETQUEUE_COMMON_H
#define NETQUEUE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks the functions the library exports (visibility, dllimport). */
#if defined(_WIN32)
#  define NQ_API __declspec(dllimport)
#elif defined(__GNUC__)
#  define NQ_API __attribute__((visibility("default")))
#else
#  define NQ_API
#endif

/**
 * Marks a function deprecated, with msg saying what to use instead; it stays
 * for at least one minor release before a major removes it.
 */
#if defined(__GNUC__)
#  define NQ_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#  define NQ_DEPRECATED(msg)
#endif

/** Length in bytes of a communicator id (a UUID in RFC 4122 byte order). */
#define NQ_ID_SIZE 16

/** Wait forever, for the timeout arguments below that take milliseconds. */
#define NQ_FOREVER (-1)

/**
 * Result of every fallible call. The numbers are stable across releases:
 * new codes may be added, existing ones never change meaning.
 */
typedef enum nq_status {
    NQ_OK = 0,            /**< success */
    NQ_EINVAL = 1,        /**< an argument or option value is invalid */
    NQ_ENOMEM = 2,        /**< out of memory */
    NQ_ECLOSED = 3,       /**< the communicator is closed (and, for get, drained) */
    NQ_ECANCELED = 4,     /**< a pending operation was cancelled by close */
    NQ_ETIMEDOUT = 5,     /**< the timeout elapsed first */
    NQ_ENOPEER = 6,       /**< the peer id is not known to this communicator */
    NQ_ERESET = 7,        /**< the peer's connection was lost before completion */
    NQ_EPROTO = 8,        /**< the peer broke the protocol (bad frame, bad handshake) */
    NQ_ETOOBIG = 9,       /**< a message exceeds the configured message limit */
    NQ_EIO = 10,          /**< a system I/O call failed (see nq_last_error()) */
    NQ_ETLS = 11,         /**< TLS set-up failed (key, certificate, CA files) */
    NQ_EUNSUPPORTED = 12, /**< not supported by this build, protocol or role */
    NQ_EAGAIN = 13,       /**< nothing available yet (non-blocking calls) */
    NQ_ECODEC = 14,       /**< a value cannot be encoded or decoded by the codec */
    NQ_EADDR = 15,        /**< an address cannot be resolved, bound or reached */
    NQ_ESTATE = 16        /**< the call is not valid in the object's current state */
} nq_status;

/**
 * Short, static, English name of a status ("invalid argument", ...).
 * Never NULL; unknown codes give "unknown status". Any thread.
 */
NQ_API const char *nq_strerror(nq_status status);

/**
 * Detail of the last failed call made by the calling thread (for example
 * "options: port 70000 is not in 0..65535"). Thread-local; successful calls
 * leave it alone, so read it right after the failing call. Empty string
 * when no call of this thread has failed yet.
 */
NQ_API const char *nq_last_error(void);

/**
 * Fill out[16] with a new random (version 4) UUID, as Python's uuid4().
 * Returns NQ_EINVAL if out is NULL, NQ_EIO if no randomness is available.
 */
NQ_API nq_status nq_id_random(uint8_t *out);

/**
 * Format id[16] as 32 lowercase hex digits plus a NUL into out (33 bytes).
 * nq_id_parse reads it back.
 */
NQ_API nq_status nq_id_format(const uint8_t *id, char *out);

/**
 * Parse 32 hex digits (dashes ignored, as in a UUID) into out[16].
 * Returns NQ_EINVAL on anything but 32 hex digits.
 */
NQ_API nq_status nq_id_parse(const char *text, uint8_t *out);

#ifdef __cplusplus
}
#endif
#endif
