/* Internal: the in-process transport (inproc.c). */
#ifndef NQ_INPROC_H
#define NQ_INPROC_H

#include "core/transport.h"

/* Tests: cut every connection of c, as a network fault would (no fin).
 * Any thread; the cut happens on c's I/O thread soon after. */
void nq_inproc_cut(nq_comm *c);
/* Tests: cut every connection and never connect again (a peer that
 * vanished). Free c afterwards as usual. */
void nq_inproc_vanish(nq_comm *c);

#endif
