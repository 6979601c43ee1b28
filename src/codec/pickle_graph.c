/* Unsharing the decoded pickle graph into an nq_value tree. */
#include <stdlib.h>

#include "codec/pickle_graph.h"
#include "core/status.h"

void nq_graph_init(nq_graph *g, size_t input_size)
{
    g->nodes = NULL;
    g->len = g->cap = 0;
    if (input_size > (SIZE_MAX - NQ_GRAPH_COPY_SLACK) / NQ_GRAPH_COPY_FACTOR)
        g->copy_budget = SIZE_MAX;
    else
        g->copy_budget = input_size * NQ_GRAPH_COPY_FACTOR + NQ_GRAPH_COPY_SLACK;
}

nq_value *nq_graph_node(nq_graph *g, nq_value_type type)
{
    if (g->len == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        nq_value **nodes = realloc(g->nodes, cap * sizeof *nodes);
        if (!nodes)
            return NULL;
        g->nodes = nodes;
        g->cap = cap;
    }
    nq_value *v = nq_value_alloc(type);
    if (v)
        g->nodes[g->len++] = v;
    return v;
}

void nq_graph_free(nq_graph *g)
{
    for (size_t i = 0; i < g->len; i++)
        nq_value_free_shallow(g->nodes[i]);
    free(g->nodes);
    g->nodes = NULL;
    g->len = g->cap = 0;
}

static size_t copy_cost(const nq_value *n)
{
    size_t cost = sizeof(nq_value);
    if (nq_value_is_blob(n))
        cost += n->u.blob.size;
    else if (n->type == NQ_VALUE_INT)
        cost += n->u.integer.size;
    else if (nq_value_is_container(n))
        cost += n->u.seq.len * sizeof(nq_value *);
    return cost;
}

/* A fresh registered node with n's scalar content, or n's slot count. */
static nq_status copy_node(nq_graph *g, const nq_value *n, nq_value **out)
{
    size_t cost = copy_cost(n);
    if (cost > g->copy_budget)
        return nq_fail(NQ_ECODEC, "pickle: shared values expand beyond the copy budget");
    g->copy_budget -= cost;
    nq_value *m = nq_graph_node(g, n->type);
    if (!m)
        return nq_fail(NQ_ENOMEM, "pickle: out of memory");
    bool ok = true;
    if (n->type == NQ_VALUE_BOOL)
        m->u.boolean = n->u.boolean;
    else if (n->type == NQ_VALUE_FLOAT)
        m->u.real = n->u.real;
    else if (n->type == NQ_VALUE_INT)
        ok = nq_int_set_le(m, nq_int_bytes(n), n->u.integer.size);
    else if (nq_value_is_blob(n))
        ok = nq_blob_set(m, n->u.blob.data, n->u.blob.size);
    else if (nq_value_is_container(n) && n->u.seq.len) {
        m->u.seq.slots = malloc(n->u.seq.len * sizeof(nq_value *));
        ok = m->u.seq.slots != NULL;
        if (ok)
            m->u.seq.cap = m->u.seq.len = n->u.seq.len;
    }
    if (!ok)
        return nq_fail(NQ_ENOMEM, "pickle: out of memory");
    *out = m;
    return NQ_OK;
}

/*
 * A node reached only through single references ("unique") is moved into
 * the tree as is; any other is copied, so a node shared by BINGET appears
 * once per reference, as Python's value would print. Recursion is bounded
 * by the depth limit.
 */
static nq_status export(nq_graph *g, nq_value *n, bool unique, int depth,
                        nq_value *parent, nq_value **out)
{
    if (n->visiting)
        return nq_fail(NQ_ECODEC, "pickle: recursive value (a container holds itself)");
    bool container = nq_value_is_container(n);
    if (container && depth >= NQ_VALUE_MAX_DEPTH)
        return nq_fail(NQ_ECODEC, "pickle: value nested deeper than %d levels", NQ_VALUE_MAX_DEPTH);
    nq_value *m = n;
    if (!unique) {
        nq_status st = copy_node(g, n, &m);
        if (st != NQ_OK)
            return st;
    }
    m->in_result = 1;
    m->parent = parent;
    if (container) {
        n->visiting = 1;
        for (size_t i = 0; i < n->u.seq.len; i++) {
            nq_value *c = n->u.seq.slots[i];
            nq_status st = export(g, c, unique && c->refs == 1, depth + 1, m, &m->u.seq.slots[i]);
            if (st != NQ_OK) {
                n->visiting = 0;
                return st;
            }
        }
        n->visiting = 0;
    }
    *out = m;
    return NQ_OK;
}

nq_status nq_graph_tree(nq_graph *g, nq_value *root, nq_value **out)
{
    /* Count references from containers only: the stack and memo are gone. */
    for (size_t i = 0; i < g->len; i++)
        g->nodes[i]->refs = 0;
    for (size_t i = 0; i < g->len; i++) {
        nq_value *v = g->nodes[i];
        if (nq_value_is_container(v))
            for (size_t k = 0; k < v->u.seq.len; k++)
                v->u.seq.slots[k]->refs++;
    }
    nq_value *tree;
    nq_status st = export(g, root, true, 0, NULL, &tree);
    if (st != NQ_OK)
        return st;
    for (size_t i = 0; i < g->len; i++) {
        nq_value *v = g->nodes[i];
        if (v->in_result)
            v->in_result = 0;
        else
            nq_value_free_shallow(v);
    }
    free(g->nodes);
    g->nodes = NULL;
    g->len = g->cap = 0;
    *out = tree;
    return NQ_OK;
}
