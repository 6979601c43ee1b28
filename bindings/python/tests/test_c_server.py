"""A Python client of the binding against the C server `nq server --echo`."""
import os
import struct

import netqueue as nq
from conftest import at

RAW = nq.SerializationOptions(load=nq.BufferSerializer().load, dump=nq.BufferSerializer().dump)


def test_round_trip(c_server):
    port = c_server("--echo")
    with nq.new(options=at(port, serialization=RAW)) as c:
        assert c.put(b"Hello, Server!").result(10) is None
        m = c.get(timeout=10)
        assert m.data == b"Hello, Server!"
        assert m.peer == c.peers()[0]


def test_pickle_round_trip_is_the_default(c_server):
    port = c_server("--echo", "--codec", "pickle")
    with nq.new(options=at(port)) as c:
        c.put({"k": [1, 2.5, "x", b"y", None]}).result(10)
        assert c.get(timeout=10).data == {"k": [1, 2.5, "x", b"y", None]}


def test_16_mib_message(c_server):
    port = c_server("--echo")
    big = os.urandom(16 << 20)
    with nq.new(options=at(port, serialization=RAW)) as c:
        c.put(memoryview(big)).result(30)  # any buffer, not copied by the binding
        assert c.get(timeout=30).data == big


def test_10000_messages_in_order(c_server):
    port = c_server("--echo")
    n = 10_000
    with nq.new(options=at(port, serialization=RAW)) as c:
        futures = [c.put(struct.pack(">I", i)) for i in range(n)]
        for i in range(n):
            assert struct.unpack(">I", c.get(timeout=30).data)[0] == i
        for f in futures:
            assert f.result(30) is None
