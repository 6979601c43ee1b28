"""What the MQTT and gRPC scripted peers share: a link whose incoming
pieces arrive on another thread (a broker callback, a gRPC round).

Neither transport has an end of stream a peer can see (an MQTT client
disconnecting from the broker, or a gRPC client that stops calling, shows
nothing on the other side), so these links set `quiet_eof`: the runner's
`expect_eof` then means "no further frame for QUIET_EOF seconds" (a frame
arriving then fails it, unless the step drains), and the end of stream it
can see is a link the implementation dropped (a gRPC round ended with an
error status).
"""
import threading
import time

QUIET_EOF = 0.5


def show(p):
    return f"{len(p)} B {p[:48].hex()}{'…' if len(p) > 48 else ''}"


class StreamLink:
    quiet_eof = QUIET_EOF

    def __init__(self, log, name):
        self.log, self.name = log, name
        self.cond = threading.Condition()
        self.inbox = []          # pieces received, in order
        self.ended = None        # why the implementation dropped the link
        self.closed = False

    # -- incoming (transport threads) ---------------------------------------

    def feed(self, data):
        self.log(f"peer {self.name} < {show(data)}")
        with self.cond:
            self.inbox.append(bytes(data))
            self.cond.notify_all()

    def end(self, why):
        with self.cond:
            if self.ended is None:
                self.log(f"peer {self.name} < end of stream ({why})")
                self.ended = why
            self.cond.notify_all()

    # -- the runner's side ----------------------------------------------------

    def recv(self, timeout):
        """Bytes (all pieces waiting, joined), b"" once the link was dropped
        and nothing is left, None on timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if self.inbox:
                    data = b"".join(self.inbox)
                    self.inbox.clear()
                    return data
                if self.ended is not None:
                    return b""
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
