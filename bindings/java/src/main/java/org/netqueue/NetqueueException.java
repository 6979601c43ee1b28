package org.netqueue;

import org.netqueue.swig.nqswig;

/**
 * A libnetqueue call failed: {@link #status()} is the nq_status, the message
 * the library's detail (nq_last_error). Unchecked, so that it can travel
 * through CompletableFuture and lambdas; catch it by status.
 */
public class NetqueueException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final Status status;
    private final int code;
    private final String detail;

    /** Called from JNI (the SWIG layer) with the raw code and detail. */
    public NetqueueException(int code, String detail) {
        super(nqswig.strerror_(code) + (detail == null || detail.isEmpty() ? "" : ": " + detail));
        this.code = code;
        this.status = Status.of(code);
        this.detail = detail == null || detail.isEmpty() ? nqswig.strerror_(code) : detail;
    }

    /** The library's detail (nq_last_error), or the status's name if it gave none. */
    public String detail() { return detail; }

    public Status status() { return status; }

    public int code() { return code; }
}
