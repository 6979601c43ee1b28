package org.netqueue;

/**
 * Kinds of peer events (nq_msg_kind numbers 1..5). Opt-in with
 * {@link CommunicatorOptions#events}.
 */
public enum EventKind {
    /** The peer's ini arrived: its session (re)starts on a new connection. */
    CONNECTED(1),
    /** The peer's fin arrived: the session ended cleanly. */
    FINISHED(2),
    /** The connection went away without fin (detail: the cause). */
    LOST(3),
    /** Server: a lost peer did not come back within the linger, or its session was dropped. */
    EXPIRED(4),
    /** A connection failed its handshake before any id was known (peer: all zero). */
    REFUSED(5);

    private final int code;

    EventKind(int code) { this.code = code; }

    /** The library's number (nq_msg_kind). */
    public int code() { return code; }

    /** The kind of a library number; null for data (0) or a kind of a later release. */
    static EventKind of(int code) {
        for (EventKind k : values()) {
            if (k.code == code) return k;
        }
        return null;
    }
}
