/* Internal: what a received frame means for the session (ini, fin, data).
 * Pure logic, so that both dialects can be unit-tested without sockets. */
#ifndef NQ_CORE_HANDSHAKE_H
#define NQ_CORE_HANDSHAKE_H

#include <netqueue/options.h>

enum nq_frame_kind {
    NQ_FRAME_INI,     /* the peer's id: session start */
    NQ_FRAME_FIN,     /* session stop */
    NQ_FRAME_DATA,    /* a message */
    NQ_FRAME_BAD_INI  /* a first frame that is not a 16-byte id */
};

/* identified: an ini was already received on this connection; peer: its
 * id then. size/data: the frame's payload. */
enum nq_frame_kind nq_handshake_classify(nq_dialect dialect, int identified,
                                         const uint8_t *peer, const uint8_t *data,
                                         size_t size);

#endif
