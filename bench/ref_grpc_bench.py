#!/usr/bin/env python3
"""The Python reference's gRPC communicators (net_queue.gprc) running the
benchmark workload of ref_bench.py.

Its client never polls (docs/reference-deviations.md): data its server
puts would only come on rounds its own puts start, and its close would
raise queue.Empty. So, as in tests/interop/ref_peer.py, the client runs
the reference's own round function in a background loop with the backoff
the reference meant (2^-10 s doubling to 0.5 s, back to the start when a
round brought data), and its close runs rounds. Server unchanged.
"""
import importlib
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_bench as rb  # noqa: E402
import net_queue as nq  # noqa: E402
from net_queue.utils.stream import BufferSerializer  # noqa: E402


def pump(comm, stop):
    delay = 2 ** -10
    while not stop.wait(delay):
        before = comm._get_events.qsize()
        try:
            comm._pool.submit(comm._handle_connection, comm._comm).result()
        except Exception:
            return
        delay = 2 ** -10 if comm._get_events.qsize() != before else min(delay * 2, 0.5)


def open_comm(args):
    ser = BufferSerializer()
    options = nq.CommunicatorOptions(
        netloc=nq.NetworkLocation(host=args.host, port=args.port),
        serialization=nq.SerializationOptions(load=ser.load, dump=ser.dump),
    )
    sys.path.append(os.devnull)  # net_queue/gprc/__init__ pops the last entry
    role = "server" if args.role == "server" else "client"
    comm = importlib.import_module("net_queue.gprc." + role).Communicator(options)
    if role == "client":
        comm._s2c = comm._handle_connection
        stop = threading.Event()
        threading.Thread(target=pump, args=(comm, stop), daemon=True).start()
        close = comm.close

        def close_and_stop():
            stop.set()
            time.sleep(0.01)
            close()
        comm.close = close_and_stop
    return comm


if __name__ == "__main__":
    rb.open_comm = open_comm
    rb.main()
