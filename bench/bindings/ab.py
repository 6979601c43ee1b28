#!/usr/bin/env python3
"""A/B runs for binding work: interleave named sender commands against one
C receiver (bindings_bench.py's Receiver and session), medians per name.

    flock /tmp/nq-bench.lock python3 bench/bindings/ab.py --reps 9 \\
        c='build/bench/put_bench --role put' \\
        py_old='env PYTHONPATH=/tmp/old-py .venv-bindings/bin/python bench/bindings/python/put_bench.py' \\
        py_new='.venv-bindings/bin/python bench/bindings/python/put_bench.py'

Each command gets --host/--port/--size/--count/--window appended, as
bindings_bench.py does; prefix one with `env LD_LIBRARY_PATH=...` to load
another libnetqueue than --build's. The first name is the baseline of the
"x" column. "cpu ns/msg" is the sender process's user+sys time per
message (start-up included): steadier than msgs/s on a shared machine,
and what to compare variants of one language by.
"""
import argparse
import os
import resource
import shlex
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import bindings_bench as bb  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--window", type=int, default=0, help="0: count")
    ap.add_argument("--build", type=Path, default=HERE.parent.parent / "build")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("senders", nargs="+", metavar="name=command")
    a = ap.parse_args()
    env = dict(os.environ, LD_LIBRARY_PATH=str(a.build / "src"))
    senders = [(k, shlex.split(v)) for k, v in (s.split("=", 1) for s in a.senders)]
    window = a.window or a.count
    rate = {k: [] for k, _ in senders}
    cpu = {k: [] for k, _ in senders}
    rx = bb.Receiver(a.build / "bench/put_bench", env)
    try:
        for rep in range(a.reps):
            # rotate the order each rep, as bindings_bench.py does
            for k, argv in senders[rep % len(senders):] + senders[:rep % len(senders)]:
                ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                r = bb.run_one(k, argv, rx, a.size, a.count, window, a, env)
                ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                if "error" in r:
                    print(f"FAILED {k} rep {rep}: {r['error']}", file=sys.stderr)
                    rx.stop()
                    rx = bb.Receiver(a.build / "bench/put_bench", env)
                    continue
                rate[k].append(r["sender"]["msgs_per_s"])
                cpu[k].append((ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) * 1e9 / a.count)
                print(f"  rep {rep} {k:<10} {rate[k][-1]:>12,.0f} msgs/s", file=sys.stderr)
    finally:
        rx.stop()
    base = statistics.median(rate[senders[0][0]]) if rate[senders[0][0]] else None
    for k, _ in senders:
        if not rate[k]:
            print(f"{k:<10} no successful run")
            continue
        m = statistics.median(rate[k])
        ratio = f"{m / base:.3f}" if base else "-"
        print(f"{k:<10} median {m:>12,.0f}  x{senders[0][0]} {ratio}  cpu ns/msg {statistics.median(cpu[k]):6.0f}"
              f"  all {[round(x / 1e3) for x in rate[k]]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
