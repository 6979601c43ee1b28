/**
 * @file
 * netqueue — chunks and streams: zero-copy byte sequences.
 *
 * A chunk is a run of bytes plus the function that releases it. Handing a
 * chunk to the library hands over the duty to release it: the library calls
 * release(user, data, size) exactly once, on whatever thread drops the last
 * reference (an application thread or the I/O thread), when it no longer
 * reads the bytes. A stream is an ordered list of chunks, as the reference's
 * io_stream.Stream: write appends, read takes the first, peek looks at it,
 * unread puts one back in front, unwrite takes the last.
 *
 * Streams and chunks are not thread-safe: one thread at a time per handle.
 */
#ifndef NETQUEUE_STREAM_H
#define NETQUEUE_STREAM_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A run of bytes and the function that releases them (opaque). */
typedef struct nq_chunk nq_chunk;
/** An ordered list of chunks (opaque). */
typedef struct nq_stream nq_stream;

/** Release function of a chunk; may run on any thread, must not block. */
typedef void (*nq_release_fn)(void *user, void *data, size_t size);

/**
 * Wrap caller-owned bytes as a chunk (no copy). release may be NULL for
 * bytes that outlive the chunk. size 0 is allowed.
 * Errors: NQ_EINVAL (out NULL, data NULL with size > 0), NQ_ENOMEM.
 * On error release is not called.
 */
NQ_API nq_status nq_chunk_wrap(nq_chunk **out, void *data, size_t size,
                               nq_release_fn release, void *user);

/** A chunk holding a private copy of data[0..size). Errors: NQ_EINVAL, NQ_ENOMEM. */
NQ_API nq_status nq_chunk_copy(nq_chunk **out, const void *data, size_t size);

/** Bytes of a chunk (valid until the chunk is freed). */
NQ_API const void *nq_chunk_data(const nq_chunk *chunk);
/** Number of bytes of a chunk. */
NQ_API size_t nq_chunk_size(const nq_chunk *chunk);

/** Free a chunk, calling its release function. NULL is ignored. */
NQ_API void nq_chunk_free(nq_chunk *chunk);

/** New empty stream. Errors: NQ_EINVAL, NQ_ENOMEM. */
NQ_API nq_status nq_stream_new(nq_stream **out);

/** Free a stream and every chunk it holds. NULL is ignored. */
NQ_API void nq_stream_free(nq_stream *stream);

/** Number of chunks held. */
NQ_API size_t nq_stream_nchunks(const nq_stream *stream);
/** Number of bytes held, over all chunks. */
NQ_API uint64_t nq_stream_nbytes(const nq_stream *stream);

/** Append a chunk; the stream owns it from now on. Errors: NQ_EINVAL. */
NQ_API nq_status nq_stream_write_chunk(nq_stream *stream, nq_chunk *chunk);

/** Append a private copy of data (convenience). Errors: NQ_EINVAL, NQ_ENOMEM. */
NQ_API nq_status nq_stream_write(nq_stream *stream, const void *data, size_t size);

/** Take the first chunk; the caller owns it. NQ_EAGAIN when empty. */
NQ_API nq_status nq_stream_read_chunk(nq_stream *stream, nq_chunk **out);

/** Put a chunk back in front; the stream owns it. Errors: NQ_EINVAL. */
NQ_API nq_status nq_stream_unread_chunk(nq_stream *stream, nq_chunk *chunk);

/** Take the last chunk; the caller owns it. NQ_EAGAIN when empty. */
NQ_API nq_status nq_stream_unwrite_chunk(nq_stream *stream, nq_chunk **out);

/**
 * Borrow the first chunk without taking it: *out stays owned by the stream
 * and is valid until the stream is next changed. NQ_EAGAIN when empty.
 */
NQ_API nq_status nq_stream_peek_chunk(const nq_stream *stream, const nq_chunk **out);

/**
 * Copy up to size bytes from the front into buf, consuming them (chunks are
 * split as needed). *nread gets the count (0 when empty).
 */
NQ_API nq_status nq_stream_read(nq_stream *stream, void *buf, size_t size, size_t *nread);

/** Release every chunk. */
NQ_API void nq_stream_clear(nq_stream *stream);

#ifdef __cplusplus
}
#endif
#endif
