/* Chunks and streams: a doubly linked list of chunks with byte accounting. */
#include <stdlib.h>
#include <string.h>

#include "core/blockpool.h"
#include "core/status.h"
#include "core/stream_internal.h"

/*
 * A chunk whose front was consumed by nq_stream_read cannot just advance its
 * data pointer: its release function must still get the pointer and size it
 * was handed. So the remainder becomes a new chunk whose release frees the
 * original, detached chunk. A remainder is split further in place, which keeps
 * the indirection one level deep however many reads nibble at it.
 */
static void release_split(void *user, void *data, size_t size)
{
    (void)data;
    (void)size;
    nq_chunk_free(user);
}

/* Chunks and streams come from the block pool: a zero-copy put's are made
 * by the putter and freed by the I/O thread, which through malloc fought
 * over its arena lock on every put (a futex call per 64 B message). The
 * caller sets every field but alloc_cap. */
static nq_chunk *chunk_alloc(size_t extra, size_t *cap)
{
    if (extra > SIZE_MAX - sizeof(nq_chunk))
        return NULL;
    return nq_pool_alloc(sizeof(nq_chunk) + extra, cap);
}

nq_status nq_chunk_wrap(nq_chunk **out, void *data, size_t size,
                        nq_release_fn release, void *user)
{
    if (!out)
        return nq_fail(NQ_EINVAL, "nq_chunk_wrap: out is NULL");
    *out = NULL;
    if (!data && size > 0)
        return nq_fail(NQ_EINVAL, "nq_chunk_wrap: data is NULL with size %zu", size);
    size_t cap;
    nq_chunk *c = chunk_alloc(0, &cap);
    if (!c)
        return nq_fail(NQ_ENOMEM, "nq_chunk_wrap: out of memory");
    *c = (nq_chunk){ .data = data, .size = size, .release = release, .user = user,
                     .alloc_cap = cap };
    *out = c;
    return NQ_OK;
}

nq_status nq_chunk_copy(nq_chunk **out, const void *data, size_t size)
{
    if (!out)
        return nq_fail(NQ_EINVAL, "nq_chunk_copy: out is NULL");
    *out = NULL;
    if (!data && size > 0)
        return nq_fail(NQ_EINVAL, "nq_chunk_copy: data is NULL with size %zu", size);
    size_t cap;
    nq_chunk *c = chunk_alloc(size, &cap);
    if (!c)
        return nq_fail(NQ_ENOMEM, "nq_chunk_copy: cannot allocate %zu bytes", size);
    *c = (nq_chunk){ .data = c + 1, .size = size, .alloc_cap = cap };
    if (size)
        memcpy(c->data, data, size);
    *out = c;
    return NQ_OK;
}

const void *nq_chunk_data(const nq_chunk *chunk)
{
    return chunk ? chunk->data : NULL;
}

size_t nq_chunk_size(const nq_chunk *chunk)
{
    return chunk ? chunk->size : 0;
}

void nq_chunk_free(nq_chunk *chunk)
{
    if (!chunk)
        return;
    if (chunk->release)
        chunk->release(chunk->user, chunk->data, chunk->size);
    nq_pool_free(chunk, chunk->alloc_cap);
}

nq_status nq_stream_new(nq_stream **out)
{
    if (!out)
        return nq_fail(NQ_EINVAL, "nq_stream_new: out is NULL");
    size_t cap;
    *out = nq_pool_alloc(sizeof(nq_stream), &cap);
    if (!*out)
        return nq_fail(NQ_ENOMEM, "nq_stream_new: out of memory");
    **out = (nq_stream){ .alloc_cap = cap };
    return NQ_OK;
}

void nq_stream_free(nq_stream *stream)
{
    if (!stream)
        return;
    nq_stream_clear(stream);
    nq_pool_free(stream, stream->alloc_cap);
}

size_t nq_stream_nchunks(const nq_stream *stream)
{
    return stream ? stream->nchunks : 0;
}

uint64_t nq_stream_nbytes(const nq_stream *stream)
{
    return stream ? stream->nbytes : 0;
}

static void unlink_chunk(nq_stream *s, nq_chunk *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        s->tail = c->prev;
    c->next = c->prev = NULL;
    s->nchunks--;
    s->nbytes -= c->size;
}

nq_status nq_stream_write_chunk(nq_stream *stream, nq_chunk *chunk)
{
    if (!stream || !chunk)
        return nq_fail(NQ_EINVAL, "nq_stream_write_chunk: %s is NULL",
                       stream ? "chunk" : "stream");
    chunk->next = NULL;
    chunk->prev = stream->tail;
    if (stream->tail)
        stream->tail->next = chunk;
    else
        stream->head = chunk;
    stream->tail = chunk;
    stream->nchunks++;
    stream->nbytes += chunk->size;
    return NQ_OK;
}

nq_status nq_stream_write(nq_stream *stream, const void *data, size_t size)
{
    if (!stream)
        return nq_fail(NQ_EINVAL, "nq_stream_write: stream is NULL");
    nq_chunk *c;
    nq_status st = nq_chunk_copy(&c, data, size);
    if (st != NQ_OK)
        return st;
    return nq_stream_write_chunk(stream, c);
}

nq_status nq_stream_read_chunk(nq_stream *stream, nq_chunk **out)
{
    if (!stream || !out)
        return nq_fail(NQ_EINVAL, "nq_stream_read_chunk: %s is NULL",
                       stream ? "out" : "stream");
    *out = stream->head;
    if (!stream->head)
        return NQ_EAGAIN;
    unlink_chunk(stream, stream->head);
    return NQ_OK;
}

nq_status nq_stream_unread_chunk(nq_stream *stream, nq_chunk *chunk)
{
    if (!stream || !chunk)
        return nq_fail(NQ_EINVAL, "nq_stream_unread_chunk: %s is NULL",
                       stream ? "chunk" : "stream");
    chunk->prev = NULL;
    chunk->next = stream->head;
    if (stream->head)
        stream->head->prev = chunk;
    else
        stream->tail = chunk;
    stream->head = chunk;
    stream->nchunks++;
    stream->nbytes += chunk->size;
    return NQ_OK;
}

nq_status nq_stream_unwrite_chunk(nq_stream *stream, nq_chunk **out)
{
    if (!stream || !out)
        return nq_fail(NQ_EINVAL, "nq_stream_unwrite_chunk: %s is NULL",
                       stream ? "out" : "stream");
    *out = stream->tail;
    if (!stream->tail)
        return NQ_EAGAIN;
    unlink_chunk(stream, stream->tail);
    return NQ_OK;
}

nq_status nq_stream_peek_chunk(const nq_stream *stream, const nq_chunk **out)
{
    if (!stream || !out)
        return nq_fail(NQ_EINVAL, "nq_stream_peek_chunk: %s is NULL",
                       stream ? "out" : "stream");
    *out = stream->head;
    return stream->head ? NQ_OK : NQ_EAGAIN;
}

/*
 * Make the head chunk safe to advance in place. Chunks that release nothing,
 * or whose release ignores its arguments, already are; others get wrapped.
 */
static nq_status split_head(nq_stream *s)
{
    nq_chunk *c = s->head;
    if (!c->release || c->release == release_split)
        return NQ_OK;
    nq_chunk *rest;
    nq_status st = nq_chunk_wrap(&rest, c->data, c->size, release_split, c);
    if (st != NQ_OK)
        return st;
    /* rest takes c's place in the list and owns c from now on. */
    rest->next = c->next;
    if (c->next)
        c->next->prev = rest;
    else
        s->tail = rest;
    s->head = rest;
    c->next = c->prev = NULL;
    return NQ_OK;
}

nq_status nq_stream_read(nq_stream *stream, void *buf, size_t size, size_t *nread)
{
    if (nread)
        *nread = 0;
    if (!stream || !nread || (!buf && size > 0))
        return nq_fail(NQ_EINVAL, "nq_stream_read: %s is NULL",
                       !stream ? "stream" : !nread ? "nread" : "buf");
    size_t done = 0;
    while (done < size && stream->head) {
        nq_chunk *c = stream->head;
        size_t want = size - done;
        if (c->size <= want) {
            if (c->size)
                memcpy((char *)buf + done, c->data, c->size);
            done += c->size;
            unlink_chunk(stream, c);
            nq_chunk_free(c);
        } else {
            /* Split before copying, so a failed allocation consumes nothing
             * of this chunk and *nread stays exact. */
            nq_status st = split_head(stream);
            if (st != NQ_OK)
                return st;
            c = stream->head;
            memcpy((char *)buf + done, c->data, want);
            c->data = (char *)c->data + want;
            c->size -= want;
            stream->nbytes -= want;
            done += want;
        }
        *nread = done;
    }
    return NQ_OK;
}

void nq_stream_clear(nq_stream *stream)
{
    if (!stream)
        return;
    nq_chunk *c = stream->head;
    while (c) {
        nq_chunk *next = c->next;
        nq_chunk_free(c);
        c = next;
    }
    stream->head = stream->tail = NULL;
    stream->nchunks = 0;
    stream->nbytes = 0;
}
