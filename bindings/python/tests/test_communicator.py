"""Server and clients of the binding in one process."""
import socket
import threading
import time
import uuid

import pytest

import netqueue as nq
from conftest import at


def wait_peers(s, n):
    while len(s.peers()) < n:
        time.sleep(0.01)


def test_broadcast_and_targeted_puts(server):
    with nq.new(options=at(server.port)) as a, nq.new(options=at(server.port)) as b:
        a.put("a").result(10)
        b.put("b").result(10)
        got = {server.get(timeout=10).data for _ in range(2)}
        assert got == {"a", "b"}
        wait_peers(server, 2)
        server.put("all").result(10)
        assert a.get(timeout=10).data == "all"
        assert b.get(timeout=10).data == "all"
        server.put("only a", a.id).result(10)
        assert a.get(timeout=10) == nq.Message(server.id, "only a")
        with pytest.raises(TimeoutError):
            b.get(timeout=0.2)


def test_get_from_one_peer(server):
    with nq.new(options=at(server.port)) as a, nq.new(options=at(server.port)) as b:
        a.put("from a").result(10)
        b.put("from b").result(10)
        assert server.get(b.id, timeout=10).data == "from b"
        assert server.get(timeout=10).data == "from a"


def test_completion_comes_from_the_binding_drain_thread():
    # A listener that never answers: the put stays pending (no ini), so the
    # callback is attached before close cancels it.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        c = nq.new(options=at(silent.getsockname()[1]))
        f = c.put("never sent")
        seen = []
        f.add_done_callback(lambda _: seen.append(threading.current_thread().name))
        assert not f.done()
        with pytest.raises(nq.errors.TimeoutError_):
            c.close(timeout=0.1)
        with pytest.raises(nq.errors.CanceledError) as e:
            f.result(10)
        assert isinstance(e.value, ConnectionAbortedError)
        # the done-callback ran on the drain thread, before result() returned
        assert seen and seen[0].startswith("netqueue-cq-"), seen


def test_close_while_data_in_flight():
    # The server never gets and its queue is small: 64 MiB cannot be flushed,
    # so close times out and cancels what is left; every put completes.
    opts = at(0, connection=nq.ConnectionOptions(queue_limit=1024))
    s = nq.new(purpose=nq.Purpose.SERVER, options=opts)
    c = nq.new(options=at(s.port, serialization=nq.SerializationOptions(
        load=nq.BufferSerializer().load, dump=nq.BufferSerializer().dump)))
    futures = [c.put(bytes(1 << 20)) for _ in range(64)]
    try:
        c.close(timeout=0.3)
    except TimeoutError:
        pass
    assert all(f.done() for f in futures)
    failed = [f.exception() for f in futures if f.exception() is not None]
    assert failed, "some of 64 MiB must still have been in flight"
    assert all(isinstance(e, (nq.errors.CanceledError, nq.errors.ResetError)) for e in failed)
    with pytest.raises(nq.errors.ClosedError):
        c.put(b"late")
    try:
        s.close(timeout=0)
    except TimeoutError:
        pass


def test_bad_options_raise_value_error_with_the_library_detail():
    with pytest.raises(ValueError, match="70000") as e:
        nq.new(options=at(70000))
    assert isinstance(e.value, nq.Error) and e.value.status == 1
    with pytest.raises(nq.errors.InvalidArgumentError):
        nq.new(purpose=nq.Purpose.SERVER,
               options=at(0, connection=nq.ConnectionOptions(queue_limit=10)))


def test_closed_and_unknown_peers(server):
    c = nq.new(options=at(server.port))
    c.put("hi").result(10)
    assert server.get(timeout=10).data == "hi"
    wait_peers(server, 1)
    gone = c.id
    c.close(timeout=10)
    c.close()  # twice is fine
    while server.peers():
        time.sleep(0.01)
    with pytest.raises(nq.errors.NoPeerError):
        server.put("x", gone)
    with pytest.raises(ConnectionAbortedError):  # as the reference raises
        c.get(timeout=0)
    with nq.new(options=at(server.port)) as other:
        with pytest.raises(ValueError):
            other.put("x", uuid.uuid4())  # only a server names peers


def test_restricted_pickle_refuses_globals(server):
    safe = nq.PickleSerializer(allow=())
    opts = at(server.port, serialization=nq.SerializationOptions(load=safe.load, dump=safe.dump))
    with nq.new(options=opts) as c:
        server_peer = None
        c.put("hello").result(10)
        server_peer = server.get(timeout=10).peer
        server.put(uuid.UUID(int=5), server_peer).result(10)
        import pickle
        with pytest.raises(pickle.UnpicklingError):
            c.get(timeout=10)
