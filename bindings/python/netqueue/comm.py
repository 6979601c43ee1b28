"""Communicator: the reference's put/get/close API over libnetqueue.

Threads: puts complete into an nq_cq that a thread of this binding drains
("netqueue-cq-<id>"); no library thread ever runs Python code, and C only
ever holds integer tags, never Python objects. Futures are completed, and
their done-callbacks run, on that drain thread.
"""
import itertools
import threading
import uuid
import weakref
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from . import errors, nqswig
from .options import CommunicatorOptions, Protocol, Purpose, to_native
from .serializers import BORROWING_LOADS

_PROTOCOLS = {Protocol.TCP: nqswig.TCP, Protocol.MQTT: nqswig.MQTT, Protocol.GRPC: nqswig.GRPC}
_PURPOSES = {Purpose.CLIENT: nqswig.CLIENT, Purpose.SERVER: nqswig.SERVER}
# A blocking get waits in slices so that Ctrl-C (KeyboardInterrupt) gets through.
_SLICE_MS = 250


@dataclass(frozen=True, slots=True)
class Message:
    peer: uuid.UUID
    data: Any


def _drain(cq, pending):
    """Drain thread: complete each put's Future from its (tag, status)."""
    while True:
        c = cq.next(-1)
        if c.status < 0:  # shut down and drained
            return
        fut = pending.pop(c.tag, None)
        if fut is None:
            continue
        if c.status == 0:
            fut.set_result(None)
        else:
            name = nqswig.strerror_(c.status)
            fut.set_exception(errors.from_status(c.status, name, f"put completed with {name}"))


class _Calls:
    """Counts calls in flight into the C communicator so that it is freed
    only when none is (nq_comm_free must not race other calls)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._n = 0
        self.freed = False

    def enter(self):
        with self._cond:
            if self.freed:
                raise errors.ClosedError("communicator is closed", "closed")
            self._n += 1

    def exit(self):
        with self._cond:
            self._n -= 1
            if self._n == 0:
                self._cond.notify_all()

    def retire(self):
        """Refuse new calls, wait for the ones in flight; False if already retired."""
        with self._cond:
            if self.freed:
                return False
            self.freed = True
            self._cond.wait_for(lambda: self._n == 0)
            return True


def _release(calls, comm, cq, drain):
    """Free in the order the ABI needs: communicator (its pending puts then
    complete into cq), then cq shut down and drained, then cq freed."""
    if not calls.retire():
        return
    comm.__swig_destroy__(comm)  # nq_comm_free
    comm.this.disown()
    cq.shutdown()
    if threading.current_thread() is not drain:
        drain.join()
        cq.__swig_destroy__(cq)  # nq_cq_free
        cq.this.disown()
    # else: a future's done-callback closed us; the drain thread ends after
    # this callback and the cq is freed when the last reference goes.


def _peer_bytes(peers):
    if not peers:
        return None
    return b"".join(p.bytes if isinstance(p, uuid.UUID) else bytes(p) for p in peers)


def _ms(timeout):
    return -1 if timeout is None else max(0, int(timeout * 1000))


class Communicator:
    """A client or server. Operations are thread-safe; `with` closes it."""

    def __init__(self, protocol=Protocol.TCP, purpose=Purpose.CLIENT, options=None):
        self.options = options if options is not None else CommunicatorOptions()
        self.protocol = Protocol(protocol)
        self.purpose = Purpose(purpose)
        native = to_native(self.options, self.purpose, nqswig)
        self._comm = nqswig.Comm(_PROTOCOLS[self.protocol], _PURPOSES[self.purpose], native)
        self._cq = nqswig.CompletionQueue()
        self._pending = {}
        self._tags = itertools.count(1)
        self._calls = _Calls()
        self._dump = self.options.serialization.dump
        load = self.options.serialization.load
        self._load = load
        self._borrows = getattr(load, "__func__", load) in BORROWING_LOADS
        self._drain = threading.Thread(target=_drain, args=(self._cq, self._pending),
                                       name=f"netqueue-cq-{self.options.id.hex[:8]}", daemon=True)
        self._drain.start()
        self._finalize = weakref.finalize(self, _release, self._calls, self._comm, self._cq, self._drain)

    def __repr__(self):
        return f"<netqueue.Communicator {self.purpose} {self.protocol} {self.id}>"

    @property
    def id(self) -> uuid.UUID:
        return self.options.id

    @property
    def port(self) -> int:
        """The port a server listens on (useful with port 0)."""
        return self._call(lambda c: c.port())

    def peers(self) -> list[uuid.UUID]:
        """Peers with a live connection."""
        raw = self._call(lambda c: c.peers())
        return [uuid.UUID(bytes=raw[i:i + 16]) for i in range(0, len(raw), 16)]

    def _call(self, fn):
        self._calls.enter()
        try:
            return fn(self._comm)
        finally:
            self._calls.exit()

    def put(self, data, *peers) -> Future:
        """Send data (serialized once) to peers (none: the server, or every
        client). The Future resolves when the data was written, or fails with
        a netqueue.Error (CanceledError if closed first, ResetError...)."""
        buf = self._dump(data)
        fut = Future()
        fut.set_running_or_notify_cancel()  # the library cannot take a put back
        tag = next(self._tags)
        self._pending[tag] = fut  # before the put: the completion may come at once
        self._calls.enter()
        try:
            self._comm.put(buf, _peer_bytes(peers), self._cq, tag)
        except BaseException:
            self._pending.pop(tag, None)
            raise
        finally:
            self._calls.exit()
        return fut

    def get(self, *peers, timeout=None) -> Message:
        """Next message (from any peer, or one of peers), waiting up to timeout
        seconds (None: forever). TimeoutError when none came; ClosedError
        (a ConnectionAbortedError) once closed and drained."""
        sel = _peer_bytes(peers)
        left = _ms(timeout)
        self._calls.enter()
        try:
            while True:
                wait = _SLICE_MS if left < 0 else min(left, _SLICE_MS)
                try:
                    msg = self._comm.get(sel, wait)
                    break
                except errors.TimeoutError_:
                    if left >= 0:
                        left -= wait
                        if left <= 0:
                            raise
        finally:
            self._calls.exit()
        peer = uuid.UUID(bytes=msg.peer())
        if not self._borrows:
            return Message(peer, self._load(msg.data()))
        view = msg.view()
        try:
            return Message(peer, self._load(view))
        finally:
            view.release()

    def close(self, timeout=None):
        """Close (a client flushes its puts and says fin; a server waits for its
        clients), waiting up to timeout seconds (None: forever). Puts still
        pending then fail with CanceledError. Closing twice is fine."""
        if self._calls.freed:
            return
        try:
            self._call(lambda c: c.close(_ms(timeout)))
        except errors.ClosedError:
            pass
        finally:
            self._finalize()

    def __enter__(self):
        return self

    def __exit__(self, cls, exc, tb):
        self.close()
