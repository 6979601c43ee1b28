package org.netqueue;

import java.nio.charset.StandardCharsets;
import java.util.UUID;

/** A received message: the sender's id and the payload bytes. */
public record Message(UUID peer, byte[] data) {
    /** The payload decoded as a pickled Python str (what a default Python peer sends). */
    public String pickledString() { return Pickle.loadsString(data); }

    /** The payload as UTF-8 text (raw codec). */
    public String text() { return new String(data, StandardCharsets.UTF_8); }
}
