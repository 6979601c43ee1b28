#!/usr/bin/env python3
"""The Python reference's MQTT communicators (net_queue.mqtt, paho-mqtt)
running the benchmark workload of ref_bench.py; --port is the broker's.

Its client's put can race the server's ini and never complete
(docs/reference-deviations.md mqtt-client-commit-race): as in
tests/interop/ref_peer.py, its _put_commit retries under the session's
current id. Otherwise unchanged (QoS 0, its defaults).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_bench as rb  # noqa: E402
import net_queue as nq  # noqa: E402
from net_queue.utils.stream import BufferSerializer  # noqa: E402


def open_comm(args):
    ser = BufferSerializer()
    options = nq.CommunicatorOptions(
        netloc=nq.NetworkLocation(host=args.host, port=args.port),
        serialization=nq.SerializationOptions(load=ser.load, dump=ser.dump),
    )
    purpose = nq.Purpose.SERVER if args.role == "server" else nq.Purpose.CLIENT
    comm = nq.new(nq.Protocol.MQTT, purpose, options)
    if args.role == "client":
        commit = comm._put_commit

        def put_commit(peer, size):
            try:
                return commit(peer, size)
            except KeyError:
                return commit(comm._comms.inverse[comm._comm], size)
        comm._put_commit = put_commit
    return comm


if __name__ == "__main__":
    rb.open_comm = open_comm
    rb.main()
