"""Communicator: the reference's put/get/close API over libnetqueue.

Threads: puts complete into an nq_cq that a thread of this binding drains
("netqueue-cq-<id>"); no library thread ever runs Python code. A put's tag
is its future's address, carrying a reference the binding drops once the
completion is taken (the library never touches it). Futures are
completed, and their done-callbacks run, on that drain thread.

The put path and the drain loop are C (_fastput.c, see why there); the
futures are PutFuture, a concurrent.futures.Future made cheap to create
and complete; `await` on one goes through asyncio.wrap_future (the drain
thread completes it, asyncio's call_soon_threadsafe wakes the loop).

Receiving in asyncio (aget, `async for`, events()) is aio.Receiver: the
loop watches the library's readiness descriptor, no thread waits in a get.
Messages are taken in batches by _fastput.Inbox (C, _fastrecv.c), and
`async for` is _fastput.AsyncIter: per message no Python code runs while
messages are queued (see _fastrecv.c for why).
"""
import asyncio
import functools
import threading
import uuid
import warnings
import weakref
from collections.abc import AsyncIterator, Callable, Generator
from concurrent.futures import Future
from concurrent.futures._base import CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NoReturn, Self, TypeVar, cast

from . import _fastput, aio, errors, nqswig
from .events import Event, EventKind
from .options import CommunicatorOptions, Protocol, Purpose, to_native
from .serializers import BORROWING_LOADS, BufferSerializer

_PROTOCOLS = {Protocol.TCP: nqswig.TCP, Protocol.MQTT: nqswig.MQTT, Protocol.GRPC: nqswig.GRPC}
_PURPOSES = {Purpose.CLIENT: nqswig.CLIENT, Purpose.SERVER: nqswig.SERVER}
# A blocking get waits in slices so that Ctrl-C (KeyboardInterrupt) gets through.
_SLICE_MS = 200

_T = TypeVar("_T")

#: Seconds that close() (and so leaving a `with` block) waits for the peers
#: by default; then connections are cut and close raises TimeoutError.
#: close(timeout=None) waits without a bound. The same in every binding.
DEFAULT_CLOSE_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Message:
    peer: uuid.UUID
    data: Any


_DONE = (CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED)


class PutFuture(_fastput.FutureCore, Future[None]):
    """The Future of a put: a concurrent.futures.Future (wait(), as_completed(),
    asyncio.wrap_future(), done-callbacks all work), running from the start
    (a put cannot be taken back, so cancel() is False).

    Made for a cost per put near that of the C library's: its C base
    (_fastput.FutureCore) keeps _state, _result and _exception in C and
    answers done(), result(), exception()... in C when the state suffices;
    the put path creates it without __init__; its Condition and lists are
    made on first use (C descriptors, so that no __getattr__ makes every
    method call allocate a bound method). Until then nobody can be waiting on
    it, and the drain thread completes it without the GIL by one atomic
    compare-and-swap of its state; _nq_slow, set before any of them is
    made, makes that swap fail and sends the completion through _nq_finish
    (with the GIL) instead. The put path also leaves it out of the cycle
    collector's sight until it gets a lock, a list or an exception (the
    only ways back to it).
    """

    def __init__(self) -> None:  # the put path does not call it; nothing to set
        pass

    def __await__(self) -> Generator[Any, None, None]:
        """`await comm.put(...)` in a coroutine: None once written, or the
        put's netqueue.Error (through asyncio.wrap_future)."""
        return asyncio.wrap_future(self).__await__()

    def _nq_finish(self, status: int) -> None:
        """Complete as set_result / set_exception do (drain thread, GIL held)."""
        exc = None
        if status != 0:
            exc = errors.put_failure(status, nqswig.strerror_(status))
        with self._condition:
            if self._state in _DONE:
                return
            self._exception = exc
            self._state = FINISHED
            for waiter in self._waiters:
                if exc is None:
                    waiter.add_result(self)
                else:
                    waiter.add_exception(self)
            self._condition.notify_all()
        self._invoke_callbacks()  # type: ignore[attr-defined]  # Future's, not in its stubs


def _raise_status(status: int, detail: str) -> NoReturn:
    """Raise the netqueue error of an nq_status (for _fastput)."""
    raise errors.from_status(status, nqswig.strerror_(status), detail)


class _Calls:
    """Counts calls in flight into the C communicator so that it is freed
    only when none is (nq_comm_free must not race other calls)."""

    def __init__(self) -> None:
        # enter/exit take the bare lock (a C context manager: they run once
        # per get); only retire waits on the condition
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._n = 0
        self.freed = False

    def enter(self) -> None:
        with self._lock:
            if self.freed:
                raise errors.ClosedError("communicator is closed", "closed")
            self._n += 1

    def exit(self) -> None:
        with self._lock:
            self._n -= 1
            if self._n == 0 and self.freed:
                self._cond.notify_all()

    def retire(self) -> bool:
        """Refuse new calls, wait for the ones in flight; False if already retired."""
        with self._cond:
            if self.freed:
                return False
            self.freed = True
            self._cond.wait_for(lambda: self._n == 0)
            return True


def _release(calls: _Calls, putter: _fastput.Putter, inbox: _fastput.Inbox, comm: nqswig.Comm,
             cq: nqswig.CompletionQueue, drain: threading.Thread) -> None:
    """Free in the order the ABI needs: communicator (its pending puts then
    complete into cq), then cq shut down and drained, then cq freed."""
    putter.close()  # under the GIL: no put of the fast path is in C now
    inbox.close()   # nor a take of `async for`
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


def _peer_bytes(peers: tuple[uuid.UUID | bytes, ...]) -> bytes | None:
    if not peers:
        return None
    return b"".join(p.bytes if isinstance(p, uuid.UUID) else bytes(p) for p in peers)


def _peer_uuid(ids: dict[bytes, uuid.UUID], pid: bytes) -> uuid.UUID:
    """The UUID of a peer id, made once per peer and kept in ids (a UUID
    costs more than a small message's whole get)."""
    if len(ids) >= 4096:
        ids.clear()
    peer = ids[pid] = uuid.UUID(bytes=pid)
    return peer


def _ms(timeout: float | None) -> int:
    return -1 if timeout is None else max(0, int(timeout * 1000))


class Communicator:
    """A client or server. Operations are thread-safe; `with` closes it."""

    def __init__(self, protocol: Protocol | str = Protocol.TCP, purpose: Purpose | str = Purpose.CLIENT,
                 options: CommunicatorOptions | None = None) -> None:
        self.options = options if options is not None else CommunicatorOptions()
        self.protocol = Protocol(protocol)
        self.purpose = Purpose(purpose)
        native = to_native(self.options, self.purpose)
        self._comm = nqswig.Comm(_PROTOCOLS[self.protocol], _PURPOSES[self.purpose], native)
        self._cq = nqswig.CompletionQueue()
        self._calls = _Calls()
        dump = self.options.serialization.dump
        self._dump = dump
        load = self.options.serialization.load
        self._load = load
        self._borrows = getattr(load, "__func__", load) in BORROWING_LOADS
        # raw bytes: the SWIG call's copy is the result, no view to make
        self._bytes_load = getattr(load, "__func__", None) is BufferSerializer.load
        # with a send limit a put may wait in C: it then releases the GIL
        # and is counted like get and close
        self._blocking_puts = self.options.connection.send_limit != 0
        raw = getattr(dump, "__func__", None) is BufferSerializer.dump
        self._putter = _fastput.Putter(int(self._comm.this), int(self._cq.this), PutFuture,
                                       None if raw else dump, _peer_bytes, _raise_status,
                                       release_gil=self._blocking_puts)
        self._drain = threading.Thread(target=self._putter.drain,
                                       name=f"netqueue-cq-{self.options.id.hex[:8]}", daemon=True)
        self._drain.start()
        ev = self.options.events
        self._delivered = ev.delivered()
        self._ini = ev.ini
        self._fin = ev.fin
        self._events_on = ev.mask() != 0
        self._peer_ids: dict[bytes, uuid.UUID] = {}
        # the Inbox refers to nothing that refers to this communicator (no
        # cycle: an unclosed one is freed as soon as it is dropped)
        ids = self._peer_ids
        comm_ptr = int(self._comm.this)
        inbox_load = None if self._bytes_load else load
        self._aio = aio.Receiver(self._comm, self._calls.enter, self._calls.exit,
                                 lambda held, waiters: _fastput.Inbox(
                                     comm_ptr, held, waiters, Message, inbox_load, ids,
                                     functools.partial(_peer_uuid, ids), _raise_status,
                                     aio.BATCH_MSGS, aio.BATCH_BYTES))
        self._inbox = self._aio.inbox
        # Message(peer, data) without the dataclass's __init__
        self._message = cast(Callable[[uuid.UUID, Any], Message], self._inbox.message)
        self._finalize = weakref.finalize(self, _release, self._calls, self._putter, self._inbox, self._comm,
                                          self._cq, self._drain)
        if not self._blocking_puts and type(self).put is Communicator.put:
            # the put below, minus a Python frame (not for a subclass that
            # overrides put)
            self.put = self._putter.put  # type: ignore[method-assign,assignment]  # makes PutFutures

    def __repr__(self) -> str:
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

    def _call(self, fn: Callable[[nqswig.Comm], _T]) -> _T:
        self._calls.enter()
        try:
            return fn(self._comm)
        finally:
            self._calls.exit()

    def put(self, data: Any, *peers: uuid.UUID | bytes) -> PutFuture:
        """Send data (serialized once) to peers (none: the server, or every
        client). The Future (a PutFuture) resolves when the data was written,
        or fails with a netqueue.Error (CanceledError if closed first,
        ResetError...)."""
        if not self._blocking_puts:
            return self._putter.put(data, *peers)  # type: ignore[return-value]  # makes a PutFuture (the class given to Putter)
        self._calls.enter()
        try:
            return self._putter.put(data, *peers)  # type: ignore[return-value]
        finally:
            self._calls.exit()

    def get(self, *peers: uuid.UUID | bytes, timeout: float | None = None) -> Message:
        """Next message (from any peer, or one of peers), waiting up to timeout
        seconds (None: forever). TimeoutError when none came; ClosedError
        (a ConnectionAbortedError) once closed and drained."""
        rcv = self._aio
        if not peers and not rcv.waiters:
            # queued: from held, or a batch taken onto held (C, no wait)
            item = self._inbox.next(self._convert)
            if rcv.waiters and rcv.held:
                rcv.kick_threadsafe()  # an aget came to wait meanwhile
            if item is not None:
                return cast(Message, item)
        sel = _peer_bytes(peers)
        left = _ms(timeout)
        while True:
            item = self._convert(self._get_raw(sel, left))
            if item is not None:
                return item
            # an event a handler took (ini/fin): go on for the next message

    def _get_raw(self, sel: bytes | None, left: int) -> aio.Raw:
        """A held message, else one from the library, waiting up to left ms
        (-1: forever) in slices, with the GIL released."""
        rcv = self._aio
        inbox = self._inbox
        self._calls.enter()
        try:
            while True:
                gen = inbox.gen  # before looking at held: see Inbox.wait_get
                raw = rcv.take_held(sel)
                if raw is not None:
                    return raw
                wait = _SLICE_MS if left < 0 else min(left, _SLICE_MS)
                got = inbox.wait_get(sel, wait, gen)
                if got is None:
                    if left >= 0:
                        left -= wait
                        if left <= 0:
                            raise errors.TimeoutError_("get: no message within the timeout", "timed out")
                elif got is not Ellipsis:  # Ellipsis: held gained a batch, look again
                    return cast(aio.Raw, got)
        finally:
            self._calls.exit()

    def _convert(self, msg: aio.Raw) -> Message | None:
        # typed Message: an Event comes only to a program that asked for it
        # (EventOptions(deliver=...)), and code written for the reference
        # keeps type-checking `get().data`
        """A received message as a Message, or as an Event (when its kind is
        delivered); None for an event only an ini/fin handler wanted."""
        if type(msg) is Message:  # made by the Inbox (raw bytes)
            return msg
        make = self._message
        if isinstance(msg, tuple):
            kind, pid, data, detail = msg
            if kind != nqswig.MSG_DATA and self._events_on:
                return cast(Message | None, self._event(kind, pid, detail))
            peer = self._peer_ids.get(pid)
            if peer is None:
                peer = _peer_uuid(self._peer_ids, pid)
            if self._bytes_load:
                return make(peer, data)
            return make(peer, self._load(data))  # its own bytes: any load may keep them
        assert isinstance(msg, nqswig.Message)
        if self._events_on and (kind := msg.kind()) != nqswig.MSG_DATA:
            return cast(Message | None, self._event(kind, msg.peer(), msg.event_detail()))
        pid = msg.peer()
        peer = self._peer_ids.get(pid)
        if peer is None:
            peer = _peer_uuid(self._peer_ids, pid)
        if self._bytes_load:
            return make(peer, msg.data())
        if not self._borrows:
            return make(peer, self._load(msg.data()))
        view = msg.view()
        try:
            return make(peer, self._load(view))
        finally:
            view.release()

    def _event(self, kind: int, pid: bytes, detail: str) -> Event | None:
        peer = uuid.UUID(bytes=pid)
        if kind == EventKind.CONNECTED:
            self._ini(peer)
        elif kind == EventKind.FINISHED:
            self._fin(peer)
        if kind not in self._delivered:
            return None
        try:
            k: EventKind | int = EventKind(kind)
        except ValueError:
            k = kind
        return Event(k, peer, detail)

    async def aget(self, *peers: uuid.UUID | bytes, timeout: float | None = None) -> Message:
        """get for asyncio: `await comm.aget()` gives the next Message (or
        Event, see EventOptions) without a thread waiting. Cancelling the
        awaiting task loses nothing: a message not yet returned stays queued
        for the next get. TimeoutError after timeout seconds (None: no
        bound); ClosedError once closed and drained."""
        if not peers and not self._aio.waiters:
            # queued, and no older aget waits: taken at once (C)
            item = self._inbox.next(self._convert)
            if item is not None:
                return cast(Message, item)
        sel = _peer_bytes(peers)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            left = None if deadline is None else deadline - loop.time()
            item = self._convert(await self._aio.get(sel, left))
            if item is not None:
                return item

    def __aiter__(self) -> AsyncIterator[Message]:
        """`async for msg in comm`: aget until the communicator is closed.

        While messages are queued and no aget waits, each step is taken in C
        (_fastput.AsyncIter: a batch at a time onto aio.held, where what is
        left when the loop is broken off stays first in line for the next
        get); otherwise it waits as aget does (_anext_slow)."""
        return _fastput.AsyncIter(self._inbox, self._convert, self._anext_slow)

    async def _anext_slow(self) -> Message:
        """The next item of `async for` when it must wait."""
        while True:
            try:
                raw = await self._aio.get(None, None)
            except errors.ClosedError:
                raise StopAsyncIteration from None
            item = self._convert(raw)
            if item is not None:
                return item

    async def events(self) -> AsyncIterator[Event]:
        """The peer events of the kinds delivered (EventOptions(deliver=...)),
        as an async iterator, until closed. Data messages received meanwhile
        are set aside, in order, for the next get / aget."""
        if not self._delivered:
            raise errors.InvalidArgumentError(
                "events: no event kind is delivered (CommunicatorOptions(events=EventOptions(deliver=True)))",
                "invalid argument")
        while True:
            try:
                raw = await self._aio.get(None, None, use_held=False)
            except errors.ClosedError:
                return
            if isinstance(raw, tuple):
                kind = raw[0]
            elif isinstance(raw, nqswig.Message):
                kind = raw.kind()
            else:  # a Message (only data is made one)
                kind = nqswig.MSG_DATA
            if kind == nqswig.MSG_DATA:
                self._aio.held.append(raw)
                self._aio.kick()  # an aget may be waiting for it
                continue
            if isinstance(raw, tuple):
                ev = self._event(kind, raw[1], raw[3])
            else:
                assert isinstance(raw, nqswig.Message)
                ev = self._event(kind, raw.peer(), raw.event_detail())
            if ev is not None:
                yield ev

    async def aput(self, data: Any, *peers: uuid.UUID | bytes) -> None:
        """await put(data, *peers): returns once written, or raises its error."""
        await self.put(data, *peers)

    def fileno(self) -> int:
        """The library's readiness descriptor (nq_comm_fd): readable while a
        message or event is queued, and once closed. For event loops other
        than asyncio; owned by the library (do not read or close it)."""
        return self._call(lambda c: c.fd())

    def stats(self) -> dict[str, int]:
        """A snapshot of this communicator's statistics (docs/abi.md,
        "Statistics": msgs_in, bytes_out, recv_queue_msgs, ...)."""
        return dict(self._call(lambda c: c.stats_of(None)))

    def peer_stats(self, peer: uuid.UUID | bytes) -> dict[str, int]:
        """A snapshot of one peer's statistics (the keys marked "peer" in
        docs/abi.md); errors.NoPeerError for a peer with no session."""
        pid = peer.bytes if isinstance(peer, uuid.UUID) else bytes(peer)
        return dict(self._call(lambda c: c.stats_of(pid)))

    def close(self, timeout: float | None = DEFAULT_CLOSE_TIMEOUT) -> None:
        """Close (a client flushes its puts and says fin; a server waits for its
        clients), waiting up to timeout seconds (default DEFAULT_CLOSE_TIMEOUT,
        10; None: forever). Then connections are cut and errors.TimeoutError_
        (a TimeoutError) is raised; either way the communicator is closed and
        puts still pending fail with CanceledError. Closing twice is fine."""
        if self._calls.freed:
            return
        # whether a client has its server now, to say why a close timed out
        try:
            unreached = self.purpose == Purpose.CLIENT and not self._call(lambda c: c.peers())
        except errors.Error:
            unreached = False
        try:
            self._call(lambda c: c.close(_ms(timeout)))
        except errors.ClosedError:
            pass
        except errors.TimeoutError_ as e:
            if unreached:
                e.add_note(f"netqueue: the server at {self.options.netloc} was not reached "
                           "(the library logs why)")
            if timeout == DEFAULT_CLOSE_TIMEOUT:
                e.add_note(f"netqueue: close waits {DEFAULT_CLOSE_TIMEOUT:g} s by default; "
                           "close(timeout=None) waits without a bound")
            raise
        finally:
            self._stop_aio()
            self._finalize()

    def _stop_aio(self) -> None:
        """Fail pending agets and unwatch the descriptor before it is freed."""
        loop = self._aio._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop or loop.is_closed():
            self._aio.shutdown()
        else:
            loop.call_soon_threadsafe(self._aio.shutdown)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, cls: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Close with the default bound. If the block raised, its exception
        goes on and a failed close is only a RuntimeWarning; after Ctrl-C
        (KeyboardInterrupt) the close does not wait: connections are cut and
        pending puts cancelled."""
        if cls is None:
            self.close()
            return
        if issubclass(cls, KeyboardInterrupt):
            try:
                self.close(0)
            except errors.Error:
                pass
            return
        try:
            self.close()
        except errors.Error as e:
            warnings.warn(f"netqueue: closing after {cls.__name__}: {e}", RuntimeWarning, stacklevel=2)
