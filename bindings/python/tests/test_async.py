"""asyncio: aget / async for / awaited puts / events / stats (issue 13,
parts 4 and 5). Every test runs its coroutine under asyncio.run with a
deadline (asyncio.wait_for), so a missed wake-up fails instead of hanging."""
import asyncio
import random
import struct
import time
import uuid

import pytest

import netqueue as nq
from conftest import at

RAW = nq.SerializationOptions(load=nq.BufferSerializer().load, dump=nq.BufferSerializer().dump)
DEADLINE = 30


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, DEADLINE))


def test_aget_round_trip_against_c_server(c_server):
    port = c_server("--echo")

    async def main():
        with nq.new(options=at(port, serialization=RAW)) as c:
            assert await c.put(b"Hello, Server!") is None  # a put's future is awaitable
            m = await c.aget(timeout=10)
            assert m.data == b"Hello, Server!"
            assert m.peer == c.peers()[0]
            await c.aput(b"again")
            assert (await c.aget(timeout=10)).data == b"again"
    run(main())


def test_async_for_in_order(c_server):
    port = c_server("--echo")
    n = 2000

    async def main():
        with nq.new(options=at(port, serialization=RAW)) as c:
            puts = [c.put(struct.pack(">I", i)) for i in range(n)]
            got = []
            async for m in c:
                got.append(struct.unpack(">I", m.data)[0])
                if len(got) == n:
                    break
            assert got == list(range(n))
            await asyncio.gather(*puts)
    run(main())


def test_no_thread_waits_in_get(c_server):
    """The loop waits on the descriptor: while an aget is pending, no
    thread but the main one and the put drain thread exists."""
    import threading
    port = c_server("--echo")

    async def main():
        with nq.new(options=at(port, serialization=RAW)) as c:
            task = asyncio.create_task(c.aget(timeout=10))
            await asyncio.sleep(0.05)
            names = sorted(t.name for t in threading.enumerate())
            assert len(names) == 2 and any(n.startswith("netqueue-cq-") for n in names), names
            await c.put(b"x")
            assert (await task).data == b"x"
    run(main())


def test_timeouts():
    async def main():
        with nq.new(purpose=nq.Purpose.SERVER, options=at(0)) as s:
            t0 = time.monotonic()
            with pytest.raises(TimeoutError):
                await s.aget(timeout=0)
            with pytest.raises(nq.errors.TimeoutError_):
                await s.aget(timeout=0.2)
            took = time.monotonic() - t0
            assert 0.2 <= took < 5, took
    run(main())


def test_close_ends_pending_aget_and_async_for():
    async def main():
        s = nq.new(purpose=nq.Purpose.SERVER, options=at(0))
        waiting = asyncio.create_task(s.aget())
        collected = []

        async def consume():
            async for m in s:
                collected.append(m)
        loop_task = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        s.close(timeout=5)
        with pytest.raises(nq.errors.ClosedError):
            await waiting
        await loop_task  # the async for ended
        assert collected == []
    run(main())


def test_cancelled_after_handover_keeps_the_message(c_server):
    """The hard case: the message was handed to the waiting task's future,
    then the task is cancelled before it resumed: it goes back to the front."""
    port = c_server("--echo")

    async def main():
        with nq.new(options=at(port, serialization=RAW)) as c:
            t = asyncio.create_task(c.aget())
            await asyncio.sleep(0)  # t waits now
            c.put(b"first").result(10)
            c.put(b"second").result(10)
            # let both echoes reach the receive queue without the loop running
            end = time.monotonic() + 10
            while c.stats()["recv_queue_msgs"] < 2:
                assert time.monotonic() < end, "echoes did not arrive"
                time.sleep(0.005)
            c._aio._ready()  # what the loop's reader does: hands "first" to t
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
            assert (await c.aget(timeout=5)).data == b"first"
            assert c.get(timeout=5).data == b"second"  # blocking get after async: same queue
    run(main())


def test_cancel_with_messages_in_flight_loses_and_duplicates_nothing(c_server):
    port = c_server("--echo")
    n = 3000
    rng = random.Random(13)

    async def main():
        with nq.new(options=at(port, serialization=RAW)) as c:
            puts = [c.put(struct.pack(">I", i)) for i in range(n)]
            got = []
            cancelled = 0
            while len(got) < n:
                t = asyncio.create_task(c.aget(timeout=10))
                for _ in range(rng.randrange(3)):
                    await asyncio.sleep(0)
                if rng.random() < 0.5 and not t.done():
                    t.cancel()
                try:
                    got.append(struct.unpack(">I", (await t).data)[0])
                except asyncio.CancelledError:
                    cancelled += 1
            assert cancelled > 100
            assert got == list(range(n))  # none lost, none twice, in order
            with pytest.raises(TimeoutError):
                await c.aget(timeout=0.1)
            await asyncio.gather(*puts)
    run(main())


def test_several_waiters_first_come_first_served(c_server):
    port = c_server("--echo")

    async def main():
        with nq.new(options=at(port, serialization=RAW)) as c:
            tasks = [asyncio.create_task(c.aget(timeout=10)) for _ in range(5)]
            await asyncio.sleep(0)
            for i in range(5):
                c.put(bytes([i]))
            assert [(await t).data for t in tasks] == [bytes([i]) for i in range(5)]
    run(main())


def test_peer_filter():
    async def main():
        with nq.new(purpose=nq.Purpose.SERVER, options=at(0, serialization=RAW)) as s, \
                nq.new(options=at(s.port, serialization=RAW)) as a, \
                nq.new(options=at(s.port, serialization=RAW)) as b:
            from_b = asyncio.create_task(s.aget(b.id, timeout=10))
            await a.put(b"from a")
            await asyncio.sleep(0.1)  # a's message is queued: the filtered waiter must not take it
            assert not from_b.done()
            await b.put(b"from b")
            m = await from_b
            assert (m.peer, m.data) == (b.id, b"from b")
            m = await s.aget(timeout=10)
            assert (m.peer, m.data) == (a.id, b"from a")
    run(main())


def test_events_in_order_with_data():
    async def main():
        ev = nq.EventOptions(deliver=True)
        with nq.new(purpose=nq.Purpose.SERVER, options=at(0, serialization=RAW, events=ev)) as s:
            with nq.new(options=at(s.port, serialization=RAW)) as c:
                for i in range(3):
                    await c.put(bytes([i]))
                cid = c.id
            seen = []
            async for m in s:
                seen.append(m)
                if isinstance(m, nq.Event) and m.kind == nq.EventKind.FINISHED:
                    break
            assert isinstance(seen[0], nq.Event) and seen[0].kind == nq.EventKind.CONNECTED
            assert seen[0].peer == cid and seen[0].detail  # the connection, as detail
            assert [m.data for m in seen[1:4]] == [b"\0", b"\1", b"\2"]
            assert all(isinstance(m, nq.Message) and m.peer == cid for m in seen[1:4])
            assert seen[4] == nq.Event(nq.EventKind.FINISHED, cid, seen[4].detail)
            assert len(seen) == 5
    run(main())


def test_events_iterator_sets_data_aside():
    async def main():
        ev = nq.EventOptions(deliver=[nq.EventKind.CONNECTED, nq.EventKind.FINISHED])
        with nq.new(purpose=nq.Purpose.SERVER, options=at(0, serialization=RAW, events=ev)) as s:
            with nq.new(options=at(s.port, serialization=RAW)) as c:
                await c.put(b"a")
                await c.put(b"b")
            kinds = []
            async for e in s.events():
                kinds.append(e.kind)
                if e.kind == nq.EventKind.FINISHED:
                    break
            assert kinds == [nq.EventKind.CONNECTED, nq.EventKind.FINISHED]
            assert (await s.aget(timeout=5)).data == b"a"  # set aside, in order
            assert s.get(timeout=5).data == b"b"
    run(main())


def test_reference_ini_fin_handlers():
    """The reference's EventOptions(ini, fin): called with the peer's id,
    here when get reaches the event; get itself returns only data."""
    calls = []
    ev = nq.EventOptions(ini=lambda p: calls.append(("ini", p)), fin=lambda p: calls.append(("fin", p)))
    with nq.new(purpose=nq.Purpose.SERVER, options=at(0, events=ev)) as s:
        with nq.new(options=at(s.port)) as c:
            c.put("Hello").result(10)
            cid = c.id
        assert s.get(timeout=10).data == "Hello"
        assert calls == [("ini", cid)]
        with pytest.raises(TimeoutError):
            s.get(timeout=0.5)  # takes the fin event for the handler, then times out
        assert calls == [("ini", cid), ("fin", cid)]


def test_events_off_by_default():
    async def main():
        with nq.new(purpose=nq.Purpose.SERVER, options=at(0, serialization=RAW)) as s:
            with nq.new(options=at(s.port, serialization=RAW)) as c:
                await c.put(b"x")
            assert (await s.aget(timeout=10)).data == b"x"
            with pytest.raises(TimeoutError):
                await s.aget(timeout=0.3)
            with pytest.raises(nq.errors.InvalidArgumentError):
                async for _ in s.events():
                    pass
    run(main())


def test_stats_match_what_was_sent():
    n, size = 10, 64
    with nq.new(purpose=nq.Purpose.SERVER, options=at(0, serialization=RAW)) as s:
        with nq.new(options=at(s.port, serialization=RAW)) as c:
            for f in [c.put(bytes(size)) for _ in range(n)]:
                f.result(10)
            end = time.monotonic() + 10
            while s.stats()["recv_queue_msgs"] < n:
                assert time.monotonic() < end
                time.sleep(0.01)
            st = s.stats()
            assert (st["msgs_in"], st["bytes_in"], st["recv_queue_bytes"]) == (n, n * size, n * size)
            ps = s.peer_stats(c.id)
            assert (ps["msgs_in"], ps["bytes_in"]) == (n, n * size)
            cs = c.stats()
            assert (cs["msgs_out"], cs["bytes_out"], cs["puts_ok"]) == (n, n * size, n)
            for _ in range(n):
                s.get(timeout=5)
            assert s.stats()["recv_queue_msgs"] == 0
            with pytest.raises(nq.errors.NoPeerError):
                s.peer_stats(uuid.uuid4())


def test_fileno_is_readable_while_queued():
    import select
    with nq.new(purpose=nq.Purpose.SERVER, options=at(0, serialization=RAW)) as s:
        fd = s.fileno()
        assert select.select([fd], [], [], 0)[0] == []
        with nq.new(options=at(s.port, serialization=RAW)) as c:
            c.put(b"x").result(10)
            assert select.select([fd], [], [], 10)[0] == [fd]
            assert s.get(timeout=0).data == b"x"
            assert select.select([fd], [], [], 0)[0] == []


def test_async_for_broken_off_leaves_the_rest_queued(c_server):
    """async for takes queued messages a batch at a time: those not yet
    yielded when the loop breaks stay first in line for the next get."""
    port = c_server("--echo")

    async def main():
        with nq.new(options=at(port, serialization=RAW)) as c:
            for i in range(10):
                c.put(bytes([i]))
            end = time.monotonic() + 10
            while c.stats()["recv_queue_msgs"] < 10:
                assert time.monotonic() < end, "echoes did not arrive"
                await asyncio.sleep(0.01)
            got = []
            async for m in c:
                got.append(m.data[0])
                if len(got) == 3:
                    break
            got.append((await c.aget(timeout=5)).data[0])
            got.append(c.get(timeout=5).data[0])
            async for m in c:
                got.append(m.data[0])
                if len(got) == 10:
                    break
            assert got == list(range(10))
            with pytest.raises(TimeoutError):
                await c.aget(timeout=0.1)
    run(main())
