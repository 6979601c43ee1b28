#!/usr/bin/env python3
"""Python binding, receive side (issue 13): asyncio receive (`async for`,
and one `await aget()` per message; the readiness descriptor on asyncio's
loop) against the binding's blocking get, and against C's asynchronous
receive (build/bench/recv_bench, callback and cq forms), in one run.

Python runs: a server of the binding (raw bytes, no pickle) on a free
loopback port; the C sender build/bench/put_bench --role put puts COUNT
messages of SIZE bytes (its hello / ready / done handshake, see
put_bench.c). The clock runs from our "ready" to the COUNT-th message
received. Modes are interleaved per repetition; medians are reported,
with python-async (`async for`) / C-async, each form (target >= 0.5 at
64 B), and python-async / python-blocking. C's figures come from recv_bench in the same run (its
own in-process sender thread, the same size; the same count at 64 B).

    flock /tmp/nq-bench.lock .venv-bindings/bin/python \
        bench/bindings/python/recv_async_bench.py --reps 5 --count 200000
"""
import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import netqueue as nq

ROOT = Path(__file__).resolve().parents[3]
RAW = nq.SerializationOptions(load=nq.BufferSerializer().load, dump=nq.BufferSerializer().dump)


def start_sender(build: Path, port: int, size: int, count: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(build / "bench" / "put_bench"), "--role", "put", "--host", "127.0.0.1",
                             "--port", str(port), "--size", str(size), "--count", str(count)],
                            stdout=subprocess.DEVNULL)


def handshake(s: nq.Communicator, count: int) -> nq.Message:
    hello = s.get(timeout=30)
    assert bytes(hello.data).startswith(b"hello"), hello
    s.put(b"ready", hello.peer)
    return hello


def run_blocking(build: Path, size: int, count: int) -> float:
    with nq.new(purpose=nq.Purpose.SERVER,
                options=nq.CommunicatorOptions(netloc=nq.NetworkLocation("127.0.0.1", 0),
                                               serialization=RAW)) as s:
        p = start_sender(build, s.port, size, count)
        hello = handshake(s, count)
        t0 = time.perf_counter()
        get = s.get
        for _ in range(count):
            get(timeout=60)
        took = time.perf_counter() - t0
        s.put(b"done", hello.peer).result(30)
        p.wait(60)
    return took


def run_async(build: Path, size: int, count: int, per_call: bool = False) -> float:
    """`async for` (per_call: one `await aget()` per message instead)."""
    async def main() -> float:
        with nq.new(purpose=nq.Purpose.SERVER,
                    options=nq.CommunicatorOptions(netloc=nq.NetworkLocation("127.0.0.1", 0),
                                                   serialization=RAW)) as s:
            p = start_sender(build, s.port, size, count)
            hello = await s.aget(timeout=30)
            assert bytes(hello.data).startswith(b"hello"), hello
            await s.put(b"ready", hello.peer)
            t0 = time.perf_counter()
            if per_call:
                aget = s.aget
                for _ in range(count):
                    await aget()
            else:
                n = 0
                async for _ in s:
                    n += 1
                    if n == count:
                        break
            took = time.perf_counter() - t0
            await s.put(b"done", hello.peer)
            p.wait(60)
            return took
    return asyncio.run(asyncio.wait_for(main(), 120))


def c_async(build: Path, size: int, count: int, reps: int) -> dict[str, float]:
    out = subprocess.run([str(build / "bench" / "recv_bench"), "--reps", str(reps), "--sizes", str(size),
                          *(["--count64", str(count)] if size == 64 else [])], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        sys.exit(f"recv_bench failed: {out.stderr}")
    rates = {}
    for line in out.stdout.splitlines():
        m = re.search(r"(blocking|cq|callback)\s+median [\d.]+ s .*?\s(\d+) msg/s", line)
        if m:
            rates[m.group(1)] = float(m.group(2))
    return rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", type=Path, default=ROOT / "build")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--size", type=int, default=64)
    a = ap.parse_args()
    times: dict[str, list[float]] = {"blocking": [], "async": [], "aget": []}
    for rep in range(a.reps):
        order = list(times) if rep % 2 == 0 else list(reversed(times))
        for mode in order:
            if mode == "blocking":
                took = run_blocking(a.build, a.size, a.count)
            else:
                took = run_async(a.build, a.size, a.count, per_call=mode == "aget")
            times[mode].append(took)
    c = c_async(a.build, a.size, a.count, a.reps)
    py = {m: a.count / statistics.median(t) for m, t in times.items()}
    print(f"size {a.size} B x {a.count}, {a.reps} reps, medians (msg/s):")
    for m, r in py.items():
        print(f"  python {m:8s} {r:12.0f}")
    for m, r in c.items():
        print(f"  C      {m:8s} {r:12.0f}")
    for form in ("cq", "callback"):
        if c.get(form):
            print(f"python async / C {form}: {py['async'] / c[form]:.2f}"
                  f"   (aget: {py['aget'] / c[form]:.2f})")
    c_best_async = max(c.get("cq", 0.0), c.get("callback", 0.0))
    if c_best_async:
        print(f"python async / C async (the faster of cq, callback): {py['async'] / c_best_async:.2f}"
              f"  (target >= 0.5)")
    print(f"python async / python blocking: {py['async'] / py['blocking']:.2f}")


if __name__ == "__main__":
    main()
