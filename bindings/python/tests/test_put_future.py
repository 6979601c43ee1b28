"""The futures of puts (PutFuture, made cheap by the C put path) behave as
concurrent.futures.Future: wait(), as_completed(), done-callbacks before
and after completion, asyncio.wrap_future, errors, and a send limit (the
path that releases the GIL)."""
import asyncio
import concurrent.futures as cf
import socket
import threading

import pytest

import netqueue as nq
from conftest import at


def test_is_a_concurrent_future_and_works_with_wait_and_as_completed(server):
    with nq.new(options=at(server.port)) as c:
        futures = [c.put(i) for i in range(200)]
        assert all(isinstance(f, cf.Future) for f in futures)
        assert not any(f.cancel() for f in futures)  # a put cannot be taken back
        done, not_done = cf.wait(futures, timeout=10)
        assert len(done) == 200 and not not_done
        assert all(f.done() and not f.cancelled() and f.result() is None for f in futures)
        more = [c.put(i) for i in range(200, 300)]
        assert len(list(cf.as_completed(more, timeout=10))) == 100
        assert [server.get(timeout=10).data for _ in range(300)] == list(range(300))


def test_done_callbacks_before_and_after_completion(server):
    with nq.new(options=at(server.port)) as c:
        seen = []
        ev = threading.Event()
        f = c.put("x")
        f.add_done_callback(lambda g: (seen.append(("early", g is f)), ev.set()))
        assert ev.wait(10)
        f.result(10)
        f.add_done_callback(lambda g: seen.append(("late", g is f)))
        assert ("early", True) in seen and ("late", True) in seen
        assert repr(f).startswith("<PutFuture") and "finished" in repr(f)


def test_asyncio_wrap_future(server):
    with nq.new(options=at(server.port)) as c:
        async def go():
            return await asyncio.wrap_future(c.put("async"))
        assert asyncio.run(go()) is None
        assert server.get(timeout=10).data == "async"


def test_waiting_on_a_pending_put_and_its_error():
    # a listener that never answers: the put stays pending until close
    with socket.create_server(("127.0.0.1", 0)) as silent:
        c = nq.new(options=at(silent.getsockname()[1]))
        f = c.put("never sent")
        assert f.running() and not f.done()
        with pytest.raises(cf.TimeoutError):
            f.result(timeout=0.05)
        waiter = threading.Thread(target=lambda: pytest.raises(nq.errors.CanceledError, f.result, 10))
        waiter.start()
        with pytest.raises(nq.errors.TimeoutError_):
            c.close(timeout=0.1)
        waiter.join(10)
        assert not waiter.is_alive()
        assert isinstance(f.exception(), nq.errors.CanceledError)
        with pytest.raises(nq.errors.CanceledError):
            f.result()


def test_puts_with_a_send_limit_and_from_threads(server):
    opts = at(server.port, connection=nq.ConnectionOptions(send_limit=1 << 16))
    with nq.new(options=opts) as c:
        def work(t):
            return [c.put(bytes([t]) * 1000) for _ in range(500)]
        with cf.ThreadPoolExecutor(4) as ex:
            futures = [f for fs in ex.map(work, range(4)) for f in fs]
        assert all(f.result(10) is None for f in futures)
        got = [server.get(timeout=10).data for _ in range(2000)]
        assert sorted(set(got)) == [bytes([t]) * 1000 for t in range(4)]
        assert sum(1 for g in got if g[0] == 2) == 500
    with pytest.raises(nq.errors.ClosedError):
        c.put(b"late")


def test_waiting_threads_are_woken_without_a_lock(server):
    # result()/exception() on a pending put wait on the future's state word
    # (no Condition made); several threads may wait on the same future, and
    # each is woken when the drain thread completes it
    with nq.new(options=at(server.port)) as c:
        futures = [c.put(b"x" * 100) for _ in range(3000)]
        last = futures[-1]
        got = []
        threads = [threading.Thread(target=lambda: got.append((last.result(10), last.exception(10))))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert got == [(None, None)] * 4
        assert all(f.exception(10) is None for f in futures)
        assert not last._nq_slow  # never went the slow way (no Condition made)
        assert [len(server.get(timeout=10).data) for _ in range(3000)] == [100] * 3000
