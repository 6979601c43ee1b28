#!/usr/bin/env python3
"""Go binding's asynchronous receive at 64 B against its blocking Get and
against C's recv_bench (issue 13). Not a test: numbers only (bench/README.md).

Each repetition runs C's recv_bench (blocking, cq, callback) and the Go
program bench/bindings/go-recv (blocking, async, stream) once each, one
after the other, so that drift of a shared machine hits both alike; all
under `flock /tmp/nq-bench.lock`. Prints per mode the median rate and the
Go async modes' rate over C's cq and callback rates (median of the ratios
within each repetition).

The Go program's sender is a Go client's Put loop (a future and a
completion per put). With --csend the Go program runs a second time per
repetition with recv_bench's sender instead (a C client, nq_comm_put
without completion on a C thread): the "go-csend" lines are the Go receive
against the same load as C's receive.

    bench/go_recv_bench.py [--build build] [--reps 5] [--count 200000] [--csend]
"""
import argparse
import fcntl
import os
import pathlib
import re
import statistics
import subprocess

HERE = pathlib.Path(__file__).resolve().parent


def rates(out, prefix, size=64):
    # "... <mode> median 0.1234 s ... 123456 msg/s"
    got = {}
    for line in out.splitlines():
        m = re.match(prefix + rf"size {size} B x \d+: (\w+)\s+median .*?(\d+) msg/s", line)
        if m:
            got[m.group(1)] = float(m.group(2))
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(HERE.parent / "build"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--count", type=int, default=200000, help="messages at 64 B or less")
    ap.add_argument("--size", type=int, default=64,
                    help="message size; above 64 B the count is 1 GiB / size, as recv_bench's")
    ap.add_argument("--csend", action="store_true",
                    help="also run the Go receive against recv_bench's C sender")
    a = ap.parse_args()
    build = pathlib.Path(a.build).resolve()
    prefix = build / "bindings-go-rust-prefix"
    subprocess.run(["cmake", "--install", str(build), "--prefix", str(prefix)],
                   check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib/pkgconfig"),
               LD_LIBRARY_PATH=str(prefix / "lib"))
    exe = build / "bench/recv_bench_go"
    subprocess.run(["go", "build", "-o", str(exe), "."], cwd=HERE / "bindings/go-recv",
                   env=env, check=True)
    count = a.count if a.size <= 64 else (1 << 30) // a.size
    c_cmd = [str(build / "bench/recv_bench"), "--reps", "1", "--sizes", str(a.size),
             "--count64", str(a.count)]
    go_cmd = [str(exe), "--reps", "1", "--size", str(a.size), "--count", str(count)]
    order = [("c", c_cmd, ""), ("go", go_cmd, "go ")]
    if a.csend:
        order.append(("go-csend", go_cmd + ["--sender", "c"], "go-csend "))
    runs = []
    with open("/tmp/nq-bench.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as flock(1) on the same file
        for r in range(a.reps):
            pair = {}
            for name, cmd, prefix in order[r % len(order):] + order[:r % len(order)]:
                out = subprocess.run(cmd, env=env, check=True, capture_output=True,
                                     text=True, timeout=300).stdout
                for mode, v in rates(out, prefix, a.size).items():
                    pair[f"{name} {mode}"] = v
            runs.append(pair)
    for key in runs[0]:
        print(f"{key:18s} median {statistics.median(p[key] for p in runs):10.0f} msg/s")
    for name in [n for n, _, _ in order if n != "c"]:
        for g in ("async", "stream", "blocking"):
            for c in ("c cq", "c callback"):
                ratio = statistics.median(p[f"{name} {g}"] / p[c] for p in runs)
                print(f"{name} {g} / {c}: {ratio:.2f}")


if __name__ == "__main__":
    main()
