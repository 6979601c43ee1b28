"""Frames: an 8-byte big-endian length, then the payload (protocol §2)."""
import struct

from . import mutants as M

HEADER = struct.Struct(">Q")
LITTLE = struct.Struct("<Q")
MESSAGE_LIMIT = 1 << 30  # 1 GiB, the default message limit (§8.1)


class FrameError(Exception):
    """The peer's stream cannot be read on (a header over the limit)."""


def encode(payload):
    payload = bytes(payload)
    n = len(payload)
    if M.on("len-little-endian"):
        return LITTLE.pack(n) + payload
    return HEADER.pack(n) + payload


class Reader:
    """Reassembles frames from pieces cut anywhere (§2.2)."""

    def __init__(self, limit=MESSAGE_LIMIT):
        self.buf = bytearray()
        self.limit = limit

    def feed(self, data):
        """The whole frames completed by data, in order."""
        self.buf += data
        out = []
        while True:
            if len(self.buf) < 8:
                if self.buf and M.on("split-header"):
                    # assumes a read never ends inside a header
                    del self.buf[:]
                return out
            (n,) = HEADER.unpack_from(self.buf)
            if n > self.limit:
                if M.on("over-limit-skipped"):
                    # skips the bad header and reads on: its payload becomes frames
                    del self.buf[:8]
                    continue
                raise FrameError(f"a header declares {n} bytes, over the {self.limit}-byte limit")
            if len(self.buf) < 8 + n or (M.on("len-off-by-one") and len(self.buf) == 8 + n):
                # (the mutant waits for a byte past the frame's end)
                return out
            out.append(bytes(self.buf[8:8 + n]))
            del self.buf[:8 + n]

    def pending(self):
        return len(self.buf)
