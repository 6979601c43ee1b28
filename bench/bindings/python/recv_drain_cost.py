#!/usr/bin/env python3
"""Python binding, receive side: the binding's own cost per message, alone.

A client of the binding puts COUNT messages to a server of the binding in
the same process; once all of them sit in the server's receive queue, the
clock runs while the server takes them with `async for`, one `await
aget()` each, or one blocking `get()` each. Nothing waits and no I/O runs
meanwhile, so the time per message is what the binding (and the library's
get without waiting) costs, without the sender or the loopback in it.
Raw bytes (64 B) and the default pickle (small ints). One run per mode,
REPS times, medians; compare two trees by running each in turn (PYTHONPATH
to an installed copy). COUNT stays under the default receive queue limit
(32 MiB charged, about 160 B a small message).

    flock /tmp/nq-bench.lock .venv-bindings/bin/python \\
        bench/bindings/python/recv_drain_cost.py --reps 3 --count 100000
"""
import argparse
import asyncio
import statistics
import time

import netqueue as nq

RAW = nq.SerializationOptions(load=nq.BufferSerializer().load, dump=nq.BufferSerializer().dump)
MODES = ("async for", "aget", "get")


def at(port: int, **kw: object) -> nq.CommunicatorOptions:
    return nq.CommunicatorOptions(netloc=nq.NetworkLocation("127.0.0.1", port), **kw)  # type: ignore[arg-type]


async def one(mode: str, raw: bool, count: int) -> float:
    ser = RAW if raw else nq.SerializationOptions()
    with nq.new(purpose=nq.Purpose.SERVER, options=at(0, serialization=ser)) as s, \
            nq.new(options=at(s.port, serialization=ser)) as c:
        puts = [c.put(b"x" * 64 if raw else i) for i in range(count)]
        puts[-1].result(60)
        end = time.monotonic() + 60
        while s.stats()["recv_queue_msgs"] < count:
            if time.monotonic() > end:
                raise SystemExit(f"only {s.stats()['recv_queue_msgs']} of {count} queued (queue limit?)")
            await asyncio.sleep(0.01)
        t0 = time.perf_counter()
        if mode == "async for":
            n = 0
            async for _ in s:
                n += 1
                if n == count:
                    break
        elif mode == "aget":
            aget = s.aget
            for _ in range(count):
                await aget()
        else:
            get = s.get
            for _ in range(count):
                get()
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--count", type=int, default=100_000)
    a = ap.parse_args()
    print(f"netqueue {nq.__file__}: {a.count} messages queued, then taken; {a.reps} reps, medians")
    for raw in (True, False):
        for mode in MODES:
            took = [asyncio.run(one(mode, raw, a.count)) for _ in range(a.reps)]
            print(f"  {'raw 64 B' if raw else 'pickle':9s} {mode:10s} {statistics.median(took) / a.count * 1e9:6.0f} ns/msg")


if __name__ == "__main__":
    main()
