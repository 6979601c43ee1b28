/*
 * Internal: the object graph a pickle builds before it becomes a tree.
 *
 * BINGET shares a node, as Python shares an object; a value may be mutated
 * after it was shared (that is how Python pickles recursive objects). So the
 * decoder builds a graph with sharing, and only at STOP turns it into a
 * tree: shared nodes are copied (within a budget), cycles are refused.
 */
#ifndef NQ_CODEC_PICKLE_GRAPH_H
#define NQ_CODEC_PICKLE_GRAPH_H

#include "codec/value_internal.h"

/* Copies made by unsharing may cost at most this many bytes per input byte
 * (plus NQ_GRAPH_COPY_SLACK): a memo bomb fails instead of eating memory. */
#define NQ_GRAPH_COPY_FACTOR 32
#define NQ_GRAPH_COPY_SLACK (1024 * 1024)

typedef struct nq_graph {
    nq_value **nodes; /* every node made while decoding, owned here */
    size_t len, cap;
    size_t copy_budget;
} nq_graph;

void nq_graph_init(nq_graph *g, size_t input_size);
/* A new registered node, or NULL when out of memory. */
nq_value *nq_graph_node(nq_graph *g, nq_value_type type);
/*
 * Turn the graph reachable from root into a tree in *out. On success every
 * node not in the tree is freed and the graph is empty; on failure nothing
 * is freed (call nq_graph_free). Errors: NQ_ECODEC (cycle, too deep, copy
 * budget), NQ_ENOMEM.
 */
nq_status nq_graph_tree(nq_graph *g, nq_value *root, nq_value **out);
/* Free every node, never following children (the graph may have cycles). */
void nq_graph_free(nq_graph *g);

#endif
