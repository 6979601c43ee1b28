#!/usr/bin/env python3
"""The Python reference (net-queue, TCP) running the benchmark workload.

Same options, workload and JSON line as the C programs (bench_common.c,
bench_run.c). Payloads go through the reference's BufferSerializer (raw
bytes, zero-copy dump) so that pickle is not what gets measured. Needs
Python 3.13 with net-queue installed (see bench/README.md).
"""

import argparse
import ctypes
import json
import math
import os
import resource
import struct
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

    def size_at(self, i):
        return self.sizes[i] if i < self.count else self.size or 1 << (MIXED_MIN_LOG2 + mix(i) % MIXED_LOGS)

    def check(self, i, data):
        n, want = len(data), self.size_at(i)
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


class Counters:
    """Resource use of the whole process over a window, as bench_common.c:
    getrusage(RUSAGE_SELF) and a perf counter of raw_syscalls:sys_enter
    opened (inherit set) before the communicator starts its threads."""

    SYS_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241}.get(os.uname().machine)

    def __init__(self):
        self.fd = -1
        if os.environ.get("NQ_BENCH_SYSCALLS") == "0" or self.SYS_PERF_EVENT_OPEN is None:
            return
        tid = None
        for root in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
            try:
                with open(f"{root}/events/raw_syscalls/sys_enter/id") as f:
                    tid = int(f.read())
                break
            except (OSError, ValueError):
                pass
        if tid is None:
            return
        # struct perf_event_attr, PERF_ATTR_SIZE_VER0 (64 bytes): type 2
        # (tracepoint), size, config; flags word: inherit (bit 1),
        # exclude_hv (bit 6).
        attr = struct.pack("=IIQQQQQIIQ", 2, 64, tid, 0, 0, 0, (1 << 1) | (1 << 6), 0, 0, 0)
        buf = ctypes.create_string_buffer(attr, 64)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        fd = libc.syscall(ctypes.c_long(self.SYS_PERF_EVENT_OPEN), buf, ctypes.c_int(0), ctypes.c_int(-1),
                          ctypes.c_int(-1), ctypes.c_ulong(8))  # PERF_FLAG_FD_CLOEXEC
        self.fd = fd if fd >= 0 else -1

    def now(self):
        ru = resource.getrusage(resource.RUSAGE_SELF)
        sc = None
        if self.fd >= 0:
            sc = struct.unpack("=Q", os.read(self.fd, 8))[0]
        return {"wall": time.perf_counter(), "user": ru.ru_utime * 1e6, "sys": ru.ru_stime * 1e6,
                "vcsw": ru.ru_nvcsw, "ivcsw": ru.ru_nivcsw, "syscalls": sc}

    @staticmethod
    def json(a, b):
        out = {"window_s": round(b["wall"] - a["wall"], 6),
               "cpu_user_us": round(b["user"] - a["user"]), "cpu_sys_us": round(b["sys"] - a["sys"]),
               "cpu_us": round(b["user"] + b["sys"] - a["user"] - a["sys"]),
               "ctx_vol": b["vcsw"] - a["vcsw"], "ctx_invol": b["ivcsw"] - a["ivcsw"],
               "ctx_switches": b["vcsw"] + b["ivcsw"] - a["vcsw"] - a["ivcsw"],
               "syscalls": None if a["syscalls"] is None else b["syscalls"] - a["syscalls"]}
        return out


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


def default_warmup(w):
    """1000, at most count/10 and 64 MiB of messages, at least 1 (as bench_common.c)"""
    top = w.size or 1 << (MIXED_MIN_LOG2 + MIXED_LOGS - 1)
    return max(1, min(1000, w.count // 10, (64 << 20) // top))


def pingpong(comm, w, client, first, count, lat=None):
    view = w.payload
    for i in range(first, first + count):
        n = w.size_at(i)
        if client:
            s = time.perf_counter()
            comm.put(view[:n])
            data = comm.get().data
            if lat is not None:
                lat.append(time.perf_counter() - s)
        else:
            data = comm.get().data
            comm.put(data)
        w.check(i, data)


def get_ack(comm):
    data = comm.get().data
    if bytes(data) != b"A":
        sys.exit(f"expected the 1-byte acknowledgement, got {len(data)} bytes")


def run(args):
    w = Workload(0 if args.size == "mixed" else int(args.size), args.count)
    client = args.role == "client"
    if args.mode == "oneway" and w.count < 2:
        sys.exit("oneway needs --count >= 2")
    warmup = default_warmup(w) if args.warmup < 0 else args.warmup
    lat = []
    counters = Counters()  # before the communicator's threads exist
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

    if args.mode == "pingpong":  # warm-up on other indices, untimed
        pingpong(comm, w, client, w.count, warmup)

    seconds = 0.0
    c0 = counters.now()
    t0 = c0["wall"]
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
        # the client's clock stops once the server has all its messages
        if client:
            get_ack(comm)
        else:
            comm.put(b"A")
    elif args.mode == "oneway":
        if client:
            put_all(comm, w)
            comm.put(w.payload[:0])  # the end marker
            get_ack(comm)
        else:
            w.check(0, comm.get().data)
            r0 = time.perf_counter()
            for i in range(1, w.count):
                w.check(i, comm.get().data)
            marker = comm.get().data
            seconds = time.perf_counter() - r0
            if len(marker):
                sys.exit(f"expected the zero-length end marker, got {len(marker)} bytes")
            comm.put(b"A")
    else:
        pingpong(comm, w, client, 0, w.count, lat)
    c1 = counters.now()
    if client and args.mode != "oneway":
        seconds = c1["wall"] - t0
    comm.close()

    out = {
        "impl": "reference", "role": args.role, "mode": args.mode,
        "size": "mixed" if not w.size else w.size, "count": w.count,
        "bytes": sum(w.sizes), "seconds": round(seconds, 6),
    }
    if args.mode == "pingpong":
        out["warmup"] = warmup
    if seconds > 0:
        timed_msgs, timed_bytes = 2 * w.count, 2 * out["bytes"]
        if args.mode == "oneway":
            timed_msgs, timed_bytes = w.count - 1, out["bytes"] - w.sizes[0]
        out["timed_msgs"], out["timed_bytes"] = timed_msgs, timed_bytes
        out["msgs_per_s"] = round(timed_msgs / seconds, 1)
        out["gbit_per_s"] = round(timed_bytes * 8 / seconds / 1e9, 4)
    if lat:
        lat.sort()
        out["lat_p50_us"] = round(percentile(lat, 50) * 1e6, 2)
        out["lat_p99_us"] = round(percentile(lat, 99) * 1e6, 2)
    out.update(Counters.json(c0, c1))
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
    ap.add_argument("--mode", choices=["sync", "async", "pingpong", "oneway"], default="sync")
    ap.add_argument("--warmup", type=int, default=-1,
                    help="pingpong: untimed round trips first (default 1000, at most count/10 and 64 MiB of them)")
    run(ap.parse_args())


if __name__ == "__main__":
    main()
