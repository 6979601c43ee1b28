"""The C path of `async for` and aget (_fastrecv.c: Inbox, AsyncIter):
what it hands out is a real Message, raw bytes and loaded (pickle) data
alike; a load that fails fails for that message only, at its turn;
cancellation, FIFO among waiters and other threads' gets still lose or
duplicate nothing; an __anext__() nobody awaits takes nothing; a dropped
communicator is freed at once (no reference cycle)."""
import asyncio
import dataclasses
import gc
import pickle
import random
import struct
import threading
import time
import uuid
import weakref

import pytest

import netqueue as nq
from conftest import at

RAW = nq.SerializationOptions(load=nq.BufferSerializer().load, dump=nq.BufferSerializer().dump)
DEADLINE = 30


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, DEADLINE))


async def queued(comm, n):
    """Wait until n messages sit in comm's receive queue (so that one batch
    takes them all)."""
    end = time.monotonic() + 10
    while comm.stats()["recv_queue_msgs"] < n:
        assert time.monotonic() < end, "messages did not arrive"
        await asyncio.sleep(0.005)


def test_async_for_gives_real_messages():
    """Raw bytes: Messages made in C without __init__ behave as the
    dataclass's own (equality, hash, repr, frozen, fields, pickle)."""
    async def main():
        with nq.new(purpose=nq.Purpose.SERVER, options=at(0, serialization=RAW)) as s, \
                nq.new(options=at(s.port, serialization=RAW)) as c:
            await c.put(b"one")
            await c.put(b"two")
            await queued(s, 2)
            got = []
            async for m in s:
                got.append(m)
                if len(got) == 2:
                    break
            m = got[0]
            assert type(m) is nq.Message
            assert (m.peer, m.data) == (c.id, b"one") and type(m.peer) is uuid.UUID
            assert m == nq.Message(c.id, b"one") and hash(m) == hash(nq.Message(c.id, b"one"))
            assert repr(m) == f"Message(peer={c.id!r}, data=b'one')"
            with pytest.raises(dataclasses.FrozenInstanceError):
                m.data = b"x"  # type: ignore[misc]
            assert [f.name for f in dataclasses.fields(m)] == ["peer", "data"]
            assert dataclasses.replace(m, data=b"y") == nq.Message(c.id, b"y")
            assert pickle.loads(pickle.dumps(m)) == m
            assert got[1] == nq.Message(c.id, b"two")
            assert gc.is_tracked(nq.Message(c.id, [])) and not gc.is_tracked(m)  # bytes: nothing to walk
    run(main())


def test_loaded_messages_in_order_and_a_failed_load_fails_alone():
    """Pickle (restricted): each message is loaded when it is handed out,
    so the one whose load fails raises there, once, and the next ones
    still come, in order, to async for, aget and get alike."""
    safe = nq.SerializationOptions(load=nq.PickleSerializer(allow=()).load, dump=nq.PickleSerializer().dump)

    async def main():
        with nq.new(purpose=nq.Purpose.SERVER, options=at(0, serialization=safe)) as s, \
                nq.new(options=at(s.port)) as c:
            sent = [{"n": 0}, [1, 2], uuid.uuid4(), "three", (4,), 5.0]  # a UUID is a global
            for x in sent:
                await c.put(x)
            await queued(s, len(sent))
            got = []
            with pytest.raises(pickle.UnpicklingError):
                async for m in s:
                    assert type(m) is nq.Message and m.peer == c.id
                    got.append(m.data)
            assert got == sent[:2]
            async for m in s:
                got.append(m.data)
                break
            got.append((await s.aget(timeout=5)).data)
            got.append(s.get(timeout=5).data)
            assert got == sent[:2] + sent[3:]
            with pytest.raises(TimeoutError):
                await s.aget(timeout=0.1)
    run(main())


def test_async_for_with_handlers_and_events():
    """Events an ini/fin handler takes are skipped by the C loop; delivered
    ones come as Event, in order with the data."""
    calls = []

    async def main():
        ev = nq.EventOptions(ini=lambda p: calls.append(("ini", p)), fin=lambda p: calls.append(("fin", p)),
                             deliver=[nq.EventKind.FINISHED])
        with nq.new(purpose=nq.Purpose.SERVER, options=at(0, serialization=RAW, events=ev)) as s:
            with nq.new(options=at(s.port, serialization=RAW)) as c:
                for i in range(3):
                    await c.put(bytes([i]))
                cid = c.id
            await queued(s, 5)  # connected, three messages, finished
            seen = []
            async for m in s:
                seen.append(m)
                if isinstance(m, nq.Event):
                    break
            assert seen[:3] == [nq.Message(cid, bytes([i])) for i in range(3)]
            assert isinstance(seen[3], nq.Event) and (seen[3].kind, seen[3].peer) == (nq.EventKind.FINISHED, cid)
            assert len(seen) == 4
            assert calls == [("ini", cid), ("fin", cid)]
    run(main())


def test_async_for_queues_behind_a_waiting_aget(c_server):
    """First come, first served: an aget already waiting gets the first
    message even though async for could take it at once from C."""
    port = c_server("--echo")

    async def main():
        with nq.new(options=at(port, serialization=RAW)) as c:
            first = asyncio.create_task(c.aget(timeout=10))
            await asyncio.sleep(0.05)  # it waits
            second = []

            async def loop():
                async for m in c:
                    second.append(m.data)
                    break
            t = asyncio.create_task(loop())
            await asyncio.sleep(0)
            c.put(b"a")
            c.put(b"b")
            assert (await first).data == b"a"
            await t
            assert second == [b"b"]
    run(main())


def test_async_for_cancelled_loses_and_duplicates_nothing(c_server):
    """async for loops, each taking a few messages, cancelled at random
    while they wait or between messages: every message exactly once, in
    order."""
    port = c_server("--echo")
    n = 3000
    rng = random.Random(17)

    async def main():
        with nq.new(options=at(port, serialization=RAW)) as c:
            puts = [c.put(struct.pack(">I", i)) for i in range(n)]
            got = []
            cancelled = 0

            async def some(k):
                async for m in c:
                    got.append(struct.unpack(">I", m.data)[0])
                    if len(got) == n or rng.random() < 1 / k:
                        break
                    if rng.random() < 0.3:
                        await asyncio.sleep(0)  # a point where a cancel can land

            while len(got) < n:
                t = asyncio.create_task(some(rng.choice((1, 5, 50))))
                for _ in range(rng.randrange(3)):
                    await asyncio.sleep(0)
                if rng.random() < 0.5 and not t.done():
                    t.cancel()
                try:
                    await t
                except asyncio.CancelledError:
                    cancelled += 1
            # how many cancels land depends on timing (99 on a loaded CI
            # machine, ~150 idle): enough that the path was exercised
            assert cancelled >= 20
            assert got == list(range(n))
            with pytest.raises(TimeoutError):
                await c.aget(timeout=0.1)
            await asyncio.gather(*puts)
    run(main())


def test_async_for_and_a_blocking_get_on_another_thread(c_server):
    """held is shared: each message goes to exactly one of them, and each
    sees its messages in order."""
    port = c_server("--echo")
    n = 20000

    async def main():
        with nq.new(options=at(port, serialization=RAW)) as c:
            by_thread = []
            by_loop = []
            done = threading.Event()

            def getter():
                while not done.is_set():
                    try:
                        by_thread.append(struct.unpack(">I", c.get(timeout=0.05).data)[0])
                    except TimeoutError:
                        pass

            async def loop():
                async for m in c:
                    by_loop.append(struct.unpack(">I", m.data)[0])
                    if len(by_loop) % 64 == 0:
                        await asyncio.sleep(0.0005)  # let the thread in

            th = threading.Thread(target=getter)
            th.start()
            task = asyncio.create_task(loop())
            try:
                for i in range(n):
                    c.put(struct.pack(">I", i))
                while len(by_loop) + len(by_thread) < n:
                    await asyncio.sleep(0.01)
            finally:
                task.cancel()  # it waits, or is about to
                done.set()
                await asyncio.to_thread(th.join, 10)
            with pytest.raises(asyncio.CancelledError):
                await task
            assert by_loop == sorted(by_loop) and by_thread == sorted(by_thread)
            assert sorted(by_loop + by_thread) == list(range(n))
            assert by_thread and by_loop
            with pytest.raises(TimeoutError):
                await c.aget(timeout=0.1)
    run(main())


def test_anext_not_awaited_takes_nothing():
    async def main():
        with nq.new(purpose=nq.Purpose.SERVER, options=at(0, serialization=RAW)) as s, \
                nq.new(options=at(s.port, serialization=RAW)) as c:
            await c.put(b"x")
            await c.put(b"y")
            await queued(s, 2)
            it = aiter(s)
            step = anext(it)
            del step  # never awaited
            assert (await anext(it)).data == b"x"
            assert (await asyncio.wait_for(anext(it), 5)).data == b"y"  # as a task of its own
    run(main())


def test_async_for_and_aget_after_close():
    async def main():
        s = nq.new(purpose=nq.Purpose.SERVER, options=at(0, serialization=RAW))
        with nq.new(options=at(s.port, serialization=RAW)) as c:
            await c.put(b"kept")
            await queued(s, 1)
            async for m in s:  # takes the batch (one message) onto held, gives it
                assert m.data == b"kept"
                break
        s.close(timeout=5)
        with pytest.raises(nq.errors.ClosedError):
            await s.aget()
        async for _ in s:
            pytest.fail("a closed communicator gave a message")
    run(main())


def test_dropped_communicator_is_freed_at_once():
    """Nothing of the C receive path refers back to the communicator: an
    unclosed one that was iterated is freed when the last reference goes
    (its weakref.finalize closes it), without the cycle collector."""
    async def main():
        s = nq.new(purpose=nq.Purpose.SERVER, options=at(0, serialization=RAW))
        with nq.new(options=at(s.port, serialization=RAW)) as c:
            await c.put(b"a")
            await c.put(b"b")
            await queued(s, 2)
        async for m in s:
            break
        assert (await s.aget(timeout=5)).data == b"b"
        ref = weakref.ref(s)
        gc.disable()
        try:
            del s, m
            assert ref() is None
        finally:
            gc.enable()
    run(main())
