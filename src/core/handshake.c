/* ini/fin recognition, as the reference does it on the wire. */
#include <string.h>

#include "core/handshake.h"

enum nq_frame_kind nq_handshake_classify(nq_dialect dialect, int identified,
                                         const uint8_t *peer, const uint8_t *data,
                                         size_t size)
{
    if (!identified)
        return size == NQ_ID_SIZE ? NQ_FRAME_INI : NQ_FRAME_BAD_INI;
    if (dialect == NQ_DIALECT_LEGACY)
        return size == 0 ? NQ_FRAME_FIN : NQ_FRAME_DATA;
    /* current: only the peer's own id again is fin; other 16-byte frames are data */
    if (size == NQ_ID_SIZE && memcmp(data, peer, NQ_ID_SIZE) == 0)
        return NQ_FRAME_FIN;
    return NQ_FRAME_DATA;
}
