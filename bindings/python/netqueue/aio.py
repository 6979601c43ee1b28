"""asyncio receive through the library's readiness descriptor.

No thread waits in a get: the loop watches nq_comm_fd (level-triggered,
readable while a message or event is queued and not claimed, and once the
communicator is closed) with loop.add_reader, and the callback takes
messages with gets that never wait (Comm.try_get, timeout 0), handing each
to the oldest waiting aget whose peer filter accepts it (first come, first
served, as the library serves its receivers). The reader is installed only
while an aget waits, so queued messages nobody awaits cost the loop nothing.

Cancellation never loses a message: a waiter holds no message until the
callback hands it one, and a task cancelled after that (the message set on
its future, the task not yet resumed) puts it back at the front of `held`,
which every get, async or not, serves before the library's queue.

A waiter with a peer filter may find nothing while other peers' messages
keep the descriptor readable: the reader is then paused and the waiters are
retried after RETRY_S, instead of spinning the loop.

Messages are taken a batch at a time by the communicator's Inbox (C,
_fastrecv.c) onto `held`; `async for` takes from there in C too
(_fastput.AsyncIter) and comes here only to wait.
"""
from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from . import _fastput, errors, nqswig

if TYPE_CHECKING:
    from .comm import Message

#: A message taken from the library: its proxy (from a get), a Message
#: already made (data with raw bytes, from an Inbox batch), or
#: (kind, peer id, data, detail) (Inbox: events, and data still to load).
Raw: TypeAlias = "nqswig.Message | Message | tuple[int, bytes, bytes, str]"

#: Most messages and payload bytes one Inbox batch takes onto `held`.
BATCH_MSGS = 256
BATCH_BYTES = 256 * 1024

#: Seconds before waiters with peer filters are tried again when the queue
#: holds only messages of other peers (see the module's note).
RETRY_S = 0.005


class _Waiter:
    __slots__ = ("peers", "fut", "use_held")

    def __init__(self, peers: bytes | None, fut: "asyncio.Future[Raw]", use_held: bool) -> None:
        self.peers = peers
        self.fut = fut
        self.use_held = use_held


def _accepts(peers: bytes | None, raw: Raw) -> bool:
    if peers is None:
        return True
    if isinstance(raw, tuple):
        pid = raw[1]
    elif isinstance(raw, nqswig.Message):
        pid = raw.peer()
    else:
        pid = raw.peer.bytes
    return any(peers[i:i + 16] == pid for i in range(0, len(peers), 16))


class Receiver:
    """The asyncio side of one Communicator, bound to the first loop that
    awaits on it (one loop at a time; another loop may take over once no
    aget waits)."""

    def __init__(self, comm: nqswig.Comm, enter: Callable[[], None], leave: Callable[[], None],
                 make_inbox: Callable[[deque[Raw], deque[Any]], _fastput.Inbox]) -> None:
        self._comm = comm
        self._enter = enter   # the Communicator's call counting (no use after free)
        self._leave = leave
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd = -1
        self._reading = False
        self._retry: asyncio.TimerHandle | None = None
        #: the agets waiting, oldest first (AsyncIter takes nothing while
        #: one waits)
        self.waiters: deque[_Waiter] = deque()
        #: messages taken from the library but not yet given to a caller
        #: (the rest of a batch, a cancelled handover, or data set aside by
        #: events()); served first
        self.held: deque[Raw] = deque()
        #: takes batches onto held (made by the communicator, which also
        #: gives it to its `async for`)
        self.inbox = make_inbox(self.held, self.waiters)

    def take_held(self, peers: bytes | None) -> Raw | None:
        """The first held message for peers (never the library's), or None.
        deque operations are atomic: another thread's get may take from
        held meanwhile, so a scan (peer filter) walks a copy and removes
        what it found only if it is still there."""
        if peers is None:
            try:
                return self.held.popleft()
            except IndexError:
                return None
        for raw in list(self.held):
            if _accepts(peers, raw):
                try:
                    self.held.remove(raw)  # the first equal one: the same message or its twin
                except ValueError:
                    continue
                return raw
        return None

    def take(self, peers: bytes | None, use_held: bool = True) -> Raw | None:
        """A held message (unless use_held is False: events(), which puts
        data there) or the library's next one for peers, without waiting;
        None if there is none. ClosedError once closed and drained."""
        if use_held:
            if peers is None:
                return cast("Raw | None", self.inbox.take())  # held, else a batch onto held
            raw = self.take_held(peers)
            if raw is not None:
                return raw
        self._enter()
        try:
            return self._comm.try_get(peers)
        finally:
            self._leave()

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is loop:
            return
        if self.waiters:
            raise RuntimeError("netqueue: aget is already awaited on another event loop")
        self._stop_reading()
        self._loop = loop
        if self._fd < 0:
            self._enter()
            try:
                self._fd = self._comm.fd()
            finally:
                self._leave()

    async def get(self, peers: bytes | None, timeout: float | None,
                  use_held: bool = True) -> Raw:
        loop = asyncio.get_running_loop()
        self._bind(loop)
        if not self.waiters:  # nobody older waits: take one now if queued
            raw = self.take(peers, use_held)
            if raw is not None:
                return raw
            if timeout is not None and timeout <= 0:
                raise errors.TimeoutError_("get: no message within the timeout", "timed out")
        fut: asyncio.Future[Raw] = loop.create_future()
        w = _Waiter(peers, fut, use_held)
        self.waiters.append(w)
        self._watch()
        timer = None
        if timeout is not None:
            timer = loop.call_later(max(0.0, timeout), _expire, fut)
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                # handed over, but the task was cancelled before it resumed
                self.held.appendleft(fut.result())
                self.kick()
            raise
        finally:
            if timer is not None:
                timer.cancel()
            try:
                self.waiters.remove(w)
            except ValueError:
                pass
            if not self.waiters:
                self._stop_reading()

    def _watch(self) -> None:
        if not self._reading and self._retry is None and self._loop is not None and self._fd >= 0:
            self._loop.add_reader(self._fd, self._ready)
            self._reading = True

    def kick(self) -> None:
        """Serve waiters soon (a message was put back in held)."""
        if self._loop is not None and self.waiters:
            self._loop.call_soon(self._ready)

    def kick_threadsafe(self) -> None:
        """kick() from any thread (a blocking get took a batch onto held
        while an aget came to wait)."""
        loop = self._loop
        if loop is not None and self.waiters and not loop.is_closed():
            loop.call_soon_threadsafe(self._ready)

    def _stop_reading(self) -> None:
        if self._reading and self._loop is not None:
            self._loop.remove_reader(self._fd)
        self._reading = False
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    def _ready(self) -> None:
        """The descriptor is readable: hand queued messages to waiters."""
        while True:
            delivered = False
            for w in list(self.waiters):
                if w.fut.done():
                    continue
                try:
                    raw = self.take(w.peers, w.use_held)
                except errors.Error as e:  # closed (and drained), or freed
                    w.fut.set_exception(e)
                    continue
                if raw is not None:
                    w.fut.set_result(raw)
                    delivered = True
                elif w.peers is None and (w.use_held or not self.held):
                    # the queue was empty for it: a message arriving now
                    # belongs to it (first come, first served), not to a
                    # younger waiter further on in this pass
                    break
            if not delivered:
                break
        pending = [w for w in self.waiters if not w.fut.done()]
        if not pending:
            self._stop_reading()
        elif any(w.peers is not None for w in pending) and self._loop is not None:
            # maybe other peers' messages keep the descriptor readable
            self._stop_reading()
            self._retry = self._loop.call_later(RETRY_S, self._retried)

    def _retried(self) -> None:
        self._retry = None
        if self.waiters:
            self._watch()

    def shutdown(self) -> None:
        """Before the communicator is freed (its descriptor with it): stop
        watching and fail the waiters with ClosedError."""
        self._stop_reading()
        self._fd = -1
        for w in self.waiters:
            if not w.fut.done():
                w.fut.set_exception(errors.ClosedError("communicator is closed", "closed"))


def _expire(fut: "asyncio.Future[Any]") -> None:
    if not fut.done():
        fut.set_exception(errors.TimeoutError_("get: no message within the timeout", "timed out"))
