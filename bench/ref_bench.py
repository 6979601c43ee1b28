#!/usr/bin/env python3
"""The Python reference (net-queue, TCP) running the benchmark workload.

Same options, workload and JSON line as the C programs (bench_common.c,
bench_run.c). Payloads go through the reference's BufferSerializer (raw
bytes, zero-copy dump) so that pickle is not what gets measured. Needs
Python 3.13 with net-queue installed (see bench/README.md).
"""

import argparse
import json
import math
import sys
import threading
import time

import net_queue as nq
from net_queue.utils.stream import BufferSerializer

MASK = (1 << 64) - 1
MIXED_MIN_LOG2, MIXED_LOGS = 6, 16


def mix(x):
    """splitmix64, as bench_common.c, so mixed sizes match the C programs"""
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


class Workload:
    def __init__(self, size, count):
        self.size, self.count = size, count
        if size:
            self.sizes = [size] * count
        else:
            self.sizes = [1 << (MIXED_MIN_LOG2 + mix(i) % MIXED_LOGS) for i in range(count)]
        top = size or 1 << (MIXED_MIN_LOG2 + MIXED_LOGS - 1)
        block = bytes((j * 131 + 7) & 0xFF for j in range(256))
        self.payload = memoryview((block * (top // 256 + 1))[:top])

    def check(self, i, data):
        n, want = len(data), self.sizes[i]
        if n != want:
            sys.exit(f"message {i}: size {n}, expected {want}")
        p = self.payload
        if n and (data[0] != p[0] or data[n // 2] != p[n // 2] or data[n - 1] != p[n - 1]):
            sys.exit(f"message {i}: payload corrupted")


def put_all(comm, w):
    view = w.payload
    for n in w.sizes:
        comm.put(view[:n])


def get_all(comm, w):
    for i in range(w.count):
        w.check(i, comm.get().data)


def open_comm(args):
    ser = BufferSerializer()
    options = nq.CommunicatorOptions(
        netloc=nq.NetworkLocation(host=args.host, port=args.port),
        serialization=nq.SerializationOptions(load=ser.load, dump=ser.dump),
    )
    purpose = nq.Purpose.SERVER if args.role == "server" else nq.Purpose.CLIENT
    deadline = time.monotonic() + 10
    while True:
        try:
            return nq.new(protocol=nq.Protocol.TCP, purpose=purpose, options=options)
        except ConnectionRefusedError:
            # The reference client connects in its constructor, once.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def peak_rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def percentile(v, p):
    """nearest rank, as bench_common.c"""
    return v[max(math.ceil(p / 100 * len(v)), 1) - 1]


def run(args):
    w = Workload(0 if args.size == "mixed" else int(args.size), args.count)
    client = args.role == "client"
    lat = []
    comm = open_comm(args)
    if not client:
        print("READY", file=sys.stderr, flush=True)

    # Handshake: each side knows the other before the clock starts.
    if client:
        comm.put(b"h")
        comm.get()
    else:
        comm.get()
        comm.put(b"h")

    t0 = time.perf_counter()
    if args.mode == "sync":
        if client:
            put_all(comm, w)
            get_all(comm, w)
        else:
            get_all(comm, w)
            put_all(comm, w)
    elif args.mode == "async":
        t = threading.Thread(target=put_all, args=(comm, w))
        t.start()
        get_all(comm, w)
        t.join()
    else:
        view = w.payload
        for i, n in enumerate(w.sizes):
            if client:
                s = time.perf_counter()
                comm.put(view[:n])
                data = comm.get().data
                lat.append(time.perf_counter() - s)
                w.check(i, data)
            else:
                data = comm.get().data
                w.check(i, data)
                comm.put(data)
    seconds = time.perf_counter() - t0 if client else 0.0
    comm.close()

    out = {
        "impl": "reference", "role": args.role, "mode": args.mode,
        "size": "mixed" if not w.size else w.size, "count": w.count,
        "bytes": sum(w.sizes), "seconds": round(seconds, 6),
    }
    if seconds > 0:
        out["msgs_per_s"] = round(2 * w.count / seconds, 1)
        out["gbit_per_s"] = round(2 * out["bytes"] * 8 / seconds / 1e9, 4)
    if lat:
        lat.sort()
        out["lat_p50_us"] = round(percentile(lat, 50) * 1e6, 2)
        out["lat_p99_us"] = round(percentile(lat, 99) * 1e6, 2)
    out["rss_peak_kb"] = peak_rss_kb()
    print(json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--role", choices=["server", "client"], required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--port2", type=int, default=0, help="unused (zmq only)")
    ap.add_argument("--size", default="64", help="bytes, or 'mixed'")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--mode", choices=["sync", "async", "pingpong"], default="sync")
    run(ap.parse_args())


if __name__ == "__main__":
    main()
