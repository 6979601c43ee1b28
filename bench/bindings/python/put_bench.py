#!/usr/bin/env python3
"""Python binding sender of bench/bindings_bench.py (see bench/put_bench.c,
the C baseline, for the session): hello, wait for "ready", put COUNT
messages of SIZE bytes with at most WINDOW futures outstanding, wait for
every future, get "done", print one JSON line."""

import argparse
import json
import time

import netqueue as nq


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--window", type=int, default=0)
    a = ap.parse_args()
    window = a.window or a.count
    raw = nq.BufferSerializer()
    opts = nq.CommunicatorOptions(netloc=nq.NetworkLocation(a.host, a.port),
                                  serialization=nq.SerializationOptions(load=raw.load, dump=raw.dump))
    payload = b"x" * a.size
    with nq.new(nq.Protocol.TCP, nq.Purpose.CLIENT, opts) as q:
        q.put(f"hello {a.count} {a.size}".encode())
        q.get(timeout=30)  # ready
        put = q.put
        futures = [None] * a.count
        t0 = time.perf_counter()
        for i in range(a.count):
            if i >= window:
                futures[i - window].result()
            futures[i] = put(payload)
        failed = sum(1 for f in futures if f.exception() is not None)  # waits for each
        t_put = time.perf_counter() - t0
        q.get(timeout=120)  # done: all arrived
        t_all = time.perf_counter() - t0
        q.close(timeout=10)
    print(json.dumps({"lang": "python", "count": a.count, "size": a.size, "window": window, "failed": failed,
                      "put_s": round(t_put, 6), "seconds": round(t_all, 6),
                      "msgs_per_s": round(a.count / t_all, 1)}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
