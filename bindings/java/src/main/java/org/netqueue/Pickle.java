package org.netqueue;

import java.nio.charset.StandardCharsets;
import org.netqueue.swig.nqswig;

/**
 * Strings in the pickle format a default Python net-queue peer uses, through
 * the library's safe pickle codec (no code is ever run on load).
 */
public final class Pickle {
    private Pickle() {}

    static { NativeLoader.load(); }

    /** Pickle (protocol 5) of the Python str s. */
    public static byte[] dumps(String s) {
        return nqswig.pickle_dumps_str(s.getBytes(StandardCharsets.UTF_8));
    }

    /** The str in a pickle; NetqueueException ECODEC if it holds anything else. */
    public static String loadsString(byte[] pickle) {
        return new String(nqswig.pickle_loads_str(pickle), StandardCharsets.UTF_8);
    }
}
