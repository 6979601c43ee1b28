/* The nq_value tree: construction, ownership and freeing. */
#include <stdlib.h>
#include <string.h>

#include "codec/value_internal.h"
#include "core/status.h"

nq_value *nq_value_alloc(nq_value_type type)
{
    nq_value *v = calloc(1, sizeof *v);
    if (v)
        v->type = type;
    return v;
}

bool nq_int_set_le(nq_value *v, const uint8_t *le, size_t size)
{
    /* Keep the shortest two's complement form, as pickle's LONG1 writes it:
     * drop a top byte that only repeats the sign of the byte below. */
    while (size > 0) {
        uint8_t top = le[size - 1];
        uint8_t below_sign = size >= 2 ? (le[size - 2] & 0x80) : 0;
        if (top == 0x00 && (size == 1 || !below_sign))
            size--;
        else if (top == 0xff && size >= 2 && below_sign)
            size--;
        else
            break;
    }
    free(v->u.integer.big);
    v->u.integer.big = NULL;
    v->u.integer.size = size;
    if (size > sizeof v->u.integer.inl) {
        v->u.integer.big = malloc(size);
        if (!v->u.integer.big) {
            v->u.integer.size = 0;
            return false;
        }
        memcpy(v->u.integer.big, le, size);
        return true;
    }
    memcpy(v->u.integer.inl, le, size);
    uint64_t u = (size > 0 && (le[size - 1] & 0x80)) ? UINT64_MAX : 0;
    for (size_t i = 0; i < size; i++) {
        u &= ~((uint64_t)0xff << (8 * i));
        u |= (uint64_t)le[i] << (8 * i);
    }
    v->u.integer.small = (int64_t)u;
    return true;
}

bool nq_blob_set(nq_value *v, const void *data, size_t size)
{
    if (size == SIZE_MAX)
        return false;
    uint8_t *copy = malloc(size + 1);
    if (!copy)
        return false;
    if (size)
        memcpy(copy, data, size);
    copy[size] = '\0';
    free(v->u.blob.data);
    v->u.blob.data = copy;
    v->u.blob.size = size;
    return true;
}

bool nq_seq_push(nq_value *c, nq_value *item)
{
    if (c->u.seq.len == c->u.seq.cap) {
        size_t cap = c->u.seq.cap ? c->u.seq.cap * 2 : 4;
        if (cap > SIZE_MAX / sizeof(nq_value *))
            return false;
        nq_value **slots = realloc(c->u.seq.slots, cap * sizeof *slots);
        if (!slots)
            return false;
        c->u.seq.slots = slots;
        c->u.seq.cap = cap;
    }
    c->u.seq.slots[c->u.seq.len++] = item;
    return true;
}

void nq_value_free_shallow(nq_value *v)
{
    if (!v)
        return;
    if (v->type == NQ_VALUE_INT)
        free(v->u.integer.big);
    else if (nq_value_is_blob(v))
        free(v->u.blob.data);
    else if (nq_value_is_container(v))
        free(v->u.seq.slots);
    free(v);
}

void nq_value_free(nq_value *value)
{
    /* Iterative: a tree may be deeper than the C stack allows recursing. */
    if (!value)
        return;
    value->link = NULL;
    nq_value *work = value;
    while (work) {
        nq_value *v = work;
        work = v->link;
        if (nq_value_is_container(v)) {
            for (size_t i = 0; i < v->u.seq.len; i++) {
                nq_value *c = v->u.seq.slots[i];
                c->link = work;
                work = c;
            }
        }
        nq_value_free_shallow(v);
    }
}

static nq_status new_node(nq_value **out, nq_value_type type, nq_value **node)
{
    if (!out)
        return nq_fail(NQ_EINVAL, "value: out is NULL");
    *out = NULL;
    *node = nq_value_alloc(type);
    if (!*node)
        return nq_fail(NQ_ENOMEM, "value: out of memory");
    return NQ_OK;
}

nq_status nq_value_new_none(nq_value **out)
{
    nq_value *v;
    nq_status st = new_node(out, NQ_VALUE_NONE, &v);
    if (st == NQ_OK)
        *out = v;
    return st;
}

nq_status nq_value_new_bool(nq_value **out, int value)
{
    nq_value *v;
    nq_status st = new_node(out, NQ_VALUE_BOOL, &v);
    if (st != NQ_OK)
        return st;
    v->u.boolean = value != 0;
    *out = v;
    return NQ_OK;
}

nq_status nq_value_new_int(nq_value **out, int64_t value)
{
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)((uint64_t)value >> (8 * i));
    return nq_value_new_bigint(out, le, sizeof le);
}

nq_status nq_value_new_bigint(nq_value **out, const uint8_t *le_bytes, size_t size)
{
    if (!le_bytes && size)
        return nq_fail(NQ_EINVAL, "value: bigint bytes are NULL");
    nq_value *v;
    nq_status st = new_node(out, NQ_VALUE_INT, &v);
    if (st != NQ_OK)
        return st;
    if (!nq_int_set_le(v, le_bytes, size)) {
        nq_value_free_shallow(v);
        return nq_fail(NQ_ENOMEM, "value: out of memory");
    }
    *out = v;
    return NQ_OK;
}

nq_status nq_value_new_float(nq_value **out, double value)
{
    nq_value *v;
    nq_status st = new_node(out, NQ_VALUE_FLOAT, &v);
    if (st != NQ_OK)
        return st;
    v->u.real = value;
    *out = v;
    return NQ_OK;
}

static nq_status new_blob(nq_value **out, nq_value_type type, const void *data, size_t size)
{
    if (!data && size)
        return nq_fail(NQ_EINVAL, "value: data is NULL");
    if (type == NQ_VALUE_STR && !nq_utf8_valid(data, size))
        return nq_fail(NQ_EINVAL, "value: str is not valid UTF-8");
    nq_value *v;
    nq_status st = new_node(out, type, &v);
    if (st != NQ_OK)
        return st;
    if (!nq_blob_set(v, data, size)) {
        nq_value_free_shallow(v);
        return nq_fail(NQ_ENOMEM, "value: out of memory (%zu bytes)", size);
    }
    *out = v;
    return NQ_OK;
}

nq_status nq_value_new_str(nq_value **out, const char *utf8, size_t size)
{
    return new_blob(out, NQ_VALUE_STR, utf8, size);
}

nq_status nq_value_new_bytes(nq_value **out, const void *data, size_t size)
{
    return new_blob(out, NQ_VALUE_BYTES, data, size);
}

nq_status nq_value_new_bytearray(nq_value **out, const void *data, size_t size)
{
    return new_blob(out, NQ_VALUE_BYTEARRAY, data, size);
}

static nq_status new_container(nq_value **out, nq_value_type type)
{
    nq_value *v;
    nq_status st = new_node(out, type, &v);
    if (st == NQ_OK)
        *out = v;
    return st;
}

nq_status nq_value_new_list(nq_value **out)
{
    return new_container(out, NQ_VALUE_LIST);
}

nq_status nq_value_new_tuple(nq_value **out)
{
    return new_container(out, NQ_VALUE_TUPLE);
}

nq_status nq_value_new_dict(nq_value **out)
{
    return new_container(out, NQ_VALUE_DICT);
}

/* An item may join a container only if it is a root and not an ancestor of
 * the container: that keeps every value a tree. */
static nq_status check_adoptable(const nq_value *container, const nq_value *item)
{
    if (!item)
        return nq_fail(NQ_EINVAL, "value: item is NULL");
    if (item->parent)
        return nq_fail(NQ_EINVAL, "value: item already belongs to a container");
    for (const nq_value *a = container; a; a = a->parent)
        if (a == item)
            return nq_fail(NQ_EINVAL, "value: item contains the container (cycle)");
    return NQ_OK;
}

nq_status nq_value_append(nq_value *container, nq_value *item)
{
    if (!container || (container->type != NQ_VALUE_LIST && container->type != NQ_VALUE_TUPLE))
        return nq_fail(NQ_EINVAL, "value: append needs a list or tuple");
    nq_status st = check_adoptable(container, item);
    if (st != NQ_OK)
        return st;
    if (!nq_seq_push(container, item))
        return nq_fail(NQ_ENOMEM, "value: out of memory");
    item->parent = container;
    return NQ_OK;
}

nq_status nq_value_dict_add(nq_value *dict, nq_value *key, nq_value *item)
{
    if (!dict || dict->type != NQ_VALUE_DICT)
        return nq_fail(NQ_EINVAL, "value: dict_add needs a dict");
    if (key == item)
        return nq_fail(NQ_EINVAL, "value: key and item are the same value");
    nq_status st = check_adoptable(dict, key);
    if (st == NQ_OK)
        st = check_adoptable(dict, item);
    if (st != NQ_OK)
        return st;
    if (!nq_seq_push(dict, key))
        return nq_fail(NQ_ENOMEM, "value: out of memory");
    if (!nq_seq_push(dict, item)) {
        dict->u.seq.len--;
        return nq_fail(NQ_ENOMEM, "value: out of memory");
    }
    key->parent = dict;
    item->parent = dict;
    return NQ_OK;
}
