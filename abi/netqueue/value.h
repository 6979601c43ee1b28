/**
 * @file
 * netqueue — values and codecs.
 *
 * An nq_value is a tree of the Python values a safe pickle can carry: None,
 * bool, int (any size), float, str (UTF-8), bytes, bytearray, list, tuple,
 * dict. nq_pickle_dump() encodes one as Python 3.13's pickle.dumps(v) does
 * (protocol 5, byte for byte), nq_pickle_load() decodes pickle protocols
 * 2..5 and rejects anything else (globals, reduce, persistent ids...) with
 * NQ_ECODEC: decoding never runs code and never trusts a length it has not
 * got. Values are not thread-safe; one thread at a time per tree.
 */
#ifndef NETQUEUE_VALUE_H
#define NETQUEUE_VALUE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A Python value, possibly a tree of them (opaque; nq_value_free). */
typedef struct nq_value nq_value;

/** The Python type of a value (nq_value_type_of). */
typedef enum nq_value_type {
    NQ_VALUE_NONE = 0,      /**< None */
    NQ_VALUE_BOOL = 1,      /**< bool */
    NQ_VALUE_INT = 2,       /**< int, of any size */
    NQ_VALUE_FLOAT = 3,     /**< float (a C double) */
    NQ_VALUE_STR = 4,       /**< str, held as UTF-8 */
    NQ_VALUE_BYTES = 5,     /**< bytes */
    NQ_VALUE_BYTEARRAY = 6, /**< bytearray */
    NQ_VALUE_LIST = 7,      /**< list */
    NQ_VALUE_TUPLE = 8,     /**< tuple */
    NQ_VALUE_DICT = 9       /**< dict, insertion order kept */
} nq_value_type;

/**
 * @name Constructors
 * Each makes a new value in *out, owned by the caller (free it with
 * nq_value_free, or hand it to a container). Errors: NQ_EINVAL (out NULL,
 * bad UTF-8 for str), NQ_ENOMEM.
 * @{
 */
/** New None. */
NQ_API nq_status nq_value_new_none(nq_value **out);
/** New bool: False for 0, True otherwise. */
NQ_API nq_status nq_value_new_bool(nq_value **out, int value);
/** New int from an int64_t. */
NQ_API nq_status nq_value_new_int(nq_value **out, int64_t value);
/** An int of any size: little-endian two's complement bytes (as pickle LONG1). */
NQ_API nq_status nq_value_new_bigint(nq_value **out, const uint8_t *le_bytes, size_t size);
/** New float. */
NQ_API nq_status nq_value_new_float(nq_value **out, double value);
/** New str from size bytes of UTF-8 (copied; NQ_EINVAL if not valid UTF-8). */
NQ_API nq_status nq_value_new_str(nq_value **out, const char *utf8, size_t size);
/** New bytes, a copy of data[0..size). */
NQ_API nq_status nq_value_new_bytes(nq_value **out, const void *data, size_t size);
/** New bytearray, a copy of data[0..size). */
NQ_API nq_status nq_value_new_bytearray(nq_value **out, const void *data, size_t size);
/** New empty list (fill it with nq_value_append). */
NQ_API nq_status nq_value_new_list(nq_value **out);
/** New empty tuple (fill it with nq_value_append). */
NQ_API nq_status nq_value_new_tuple(nq_value **out);
/** New empty dict (fill it with nq_value_dict_add). */
NQ_API nq_status nq_value_new_dict(nq_value **out);
/** @} */

/** Free a value and everything it contains. NULL is ignored. */
NQ_API void nq_value_free(nq_value *value);

/**
 * Append item to a list or tuple; the container owns it on success (on
 * error the caller keeps it). Errors: NQ_EINVAL (not a list/tuple), NQ_ENOMEM.
 */
NQ_API nq_status nq_value_append(nq_value *container, nq_value *item);

/**
 * Add key -> item to a dict (insertion order kept; a key equal to an
 * existing one is not merged). The dict owns both on success.
 */
NQ_API nq_status nq_value_dict_add(nq_value *dict, nq_value *key, nq_value *item);

/** The type of a value. */
NQ_API nq_value_type nq_value_type_of(const nq_value *value);

/**
 * @name Scalars
 * Each reads a value of its type; NQ_EINVAL if the value has another type.
 * @{
 */
/** A bool as 0 or 1. */
NQ_API nq_status nq_value_get_bool(const nq_value *value, int *out);
/** An int that fits in int64_t; a bigger one gives NQ_ECODEC (use nq_value_get_bigint). */
NQ_API nq_status nq_value_get_int(const nq_value *value, int64_t *out);
/** Any int as little-endian two's complement: *data borrowed from value. */
NQ_API nq_status nq_value_get_bigint(const nq_value *value, const uint8_t **data, size_t *size);
/** A float. */
NQ_API nq_status nq_value_get_float(const nq_value *value, double *out);
/** str, bytes, bytearray: *data borrowed from value (str is UTF-8, NUL-terminated). */
NQ_API nq_status nq_value_get_bytes(const nq_value *value, const void **data, size_t *size);
/** @} */

/** Items of a list, tuple or dict (dict: number of pairs); 0 for scalars. */
NQ_API size_t nq_value_len(const nq_value *value);
/** Borrowed i-th item of a list or tuple, or i-th item of a dict; NULL if out of range. */
NQ_API const nq_value *nq_value_item(const nq_value *value, size_t i);
/** Borrowed i-th key of a dict; NULL if out of range or not a dict. */
NQ_API const nq_value *nq_value_dict_key(const nq_value *value, size_t i);

/**
 * Encode value as pickle protocol 5, exactly as Python 3.13 pickle.dumps.
 * *out is malloc'd by the library: free it with nq_buffer_free().
 * Errors: NQ_EINVAL, NQ_ENOMEM, NQ_ECODEC (too deep: > 1000 levels).
 */
NQ_API nq_status nq_pickle_dump(const nq_value *value, void **out, size_t *size);

/**
 * Decode a pickle (protocols 2..5) of the subset above into a new value.
 * Errors: NQ_EINVAL, NQ_ENOMEM, NQ_ECODEC (truncated, unsupported opcode,
 * globals, nesting deeper than 1000); nq_last_error() says which.
 */
NQ_API nq_status nq_pickle_load(const void *data, size_t size, nq_value **out);

/** Free a buffer the library allocated (nq_pickle_dump). NULL is ignored. */
NQ_API void nq_buffer_free(void *buffer);

#ifdef __cplusplus
}
#endif
#endif
