package org.netqueue;

import java.util.UUID;

/**
 * A peer event: what happened, to which peer (16 zero bytes, so
 * {@code new UUID(0, 0)}, for REFUSED), and the library's detail text ("" when
 * it has none).
 */
public record Event(EventKind kind, UUID peer, String detail) {}
