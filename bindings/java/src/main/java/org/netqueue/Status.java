package org.netqueue;

/** The library's nq_status codes (stable numbers). */
public enum Status {
    OK(0), EINVAL(1), ENOMEM(2), ECLOSED(3), ECANCELED(4), ETIMEDOUT(5), ENOPEER(6),
    ERESET(7), EPROTO(8), ETOOBIG(9), EIO(10), ETLS(11), EUNSUPPORTED(12), EAGAIN(13),
    ECODEC(14), EADDR(15), ESTATE(16), UNKNOWN(-1);

    private final int code;

    Status(int code) { this.code = code; }

    public int code() { return code; }

    public static Status of(int code) {
        for (Status s : values()) {
            if (s.code == code) return s;
        }
        return UNKNOWN;
    }
}
