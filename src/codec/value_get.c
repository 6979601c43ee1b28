/* Reading an nq_value: types, scalars and container items. */
#include "codec/value_internal.h"
#include "core/status.h"

nq_value_type nq_value_type_of(const nq_value *value)
{
    /* NULL reads as None so that a missing item is not mistaken for data. */
    return value ? value->type : NQ_VALUE_NONE;
}

static nq_status want(const nq_value *v, nq_value_type type, const void *out, const char *what)
{
    if (!v || !out)
        return nq_fail(NQ_EINVAL, "value: NULL argument to get_%s", what);
    if (v->type != type)
        return nq_fail(NQ_EINVAL, "value: not a %s (type %d)", what, (int)v->type);
    return NQ_OK;
}

nq_status nq_value_get_bool(const nq_value *value, int *out)
{
    nq_status st = want(value, NQ_VALUE_BOOL, out, "bool");
    if (st == NQ_OK)
        *out = value->u.boolean;
    return st;
}

nq_status nq_value_get_int(const nq_value *value, int64_t *out)
{
    nq_status st = want(value, NQ_VALUE_INT, out, "int");
    if (st != NQ_OK)
        return st;
    if (value->u.integer.size > 8)
        return nq_fail(NQ_ECODEC, "value: int needs %zu bytes, beyond int64", value->u.integer.size);
    *out = value->u.integer.small;
    return NQ_OK;
}

nq_status nq_value_get_bigint(const nq_value *value, const uint8_t **data, size_t *size)
{
    nq_status st = want(value, NQ_VALUE_INT, data, "int");
    if (st != NQ_OK)
        return st;
    if (!size)
        return nq_fail(NQ_EINVAL, "value: NULL argument to get_bigint");
    *data = nq_int_bytes(value);
    *size = value->u.integer.size;
    return NQ_OK;
}

nq_status nq_value_get_float(const nq_value *value, double *out)
{
    nq_status st = want(value, NQ_VALUE_FLOAT, out, "float");
    if (st == NQ_OK)
        *out = value->u.real;
    return st;
}

nq_status nq_value_get_bytes(const nq_value *value, const void **data, size_t *size)
{
    if (!value || !data || !size)
        return nq_fail(NQ_EINVAL, "value: NULL argument to get_bytes");
    if (!nq_value_is_blob(value))
        return nq_fail(NQ_EINVAL, "value: not a str, bytes or bytearray (type %d)", (int)value->type);
    *data = value->u.blob.data;
    *size = value->u.blob.size;
    return NQ_OK;
}

size_t nq_value_len(const nq_value *value)
{
    if (!value || !nq_value_is_container(value))
        return 0;
    return value->type == NQ_VALUE_DICT ? value->u.seq.len / 2 : value->u.seq.len;
}

const nq_value *nq_value_item(const nq_value *value, size_t i)
{
    if (!value || !nq_value_is_container(value) || i >= nq_value_len(value))
        return NULL;
    return value->type == NQ_VALUE_DICT ? value->u.seq.slots[2 * i + 1] : value->u.seq.slots[i];
}

const nq_value *nq_value_dict_key(const nq_value *value, size_t i)
{
    if (!value || value->type != NQ_VALUE_DICT || i >= nq_value_len(value))
        return NULL;
    return value->u.seq.slots[2 * i];
}
