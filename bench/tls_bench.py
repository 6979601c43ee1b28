#!/usr/bin/env python3
"""TLS against plain TCP, one-way (issue 14's "TLS near plain TCP" target).
Not a test: numbers only (bench/README.md).

Each repetition runs `nq_bench --mode oneway` over plain TCP and then over
TLS (`--tls DIR`: DIR/server.pem, server.key, ca.pem; the test
certificates by default, made by the `make_certs` ctest), one after the
other, so that drift of a shared machine hits both alike. Like the other
scripts it does not take /tmp/nq-bench.lock itself: wrap it. Prints, per size, the receiver-timed Gbit/s of
each (medians) and TLS / plain (the median of the per-repetition ratios).

    flock /tmp/nq-bench.lock bench/tls_bench.py [--bin-dir build/bench] [--certs build/test-certs]
                       [--sizes 64KiB,2MiB] [--reps 5]
"""
import argparse
import json
import pathlib
import socket
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent


def size_of(text):
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
    for unit, mult in units.items():
        if text.endswith(unit):
            return int(text[: -len(unit)]) * mult
    return int(text)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(exe, size, count, tls_dir, timeout):
    port = str(free_port())
    common = ["--port", port, "--size", str(size), "--count", str(count), "--mode", "oneway"]
    if tls_dir:
        common += ["--tls", str(tls_dir)]
    server = subprocess.Popen([str(exe), "--role", "server"] + common,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        time.sleep(0.3)
        subprocess.run([str(exe), "--role", "client"] + common, check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out, _ = server.communicate(timeout=timeout)
    finally:
        if server.poll() is None:
            server.kill()
    return json.loads(out.strip().splitlines()[-1])["gbit_per_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", default=str(HERE.parent / "build/bench"))
    ap.add_argument("--certs", default=str(HERE.parent / "build/test-certs"))
    ap.add_argument("--sizes", default="64KiB,2MiB")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--bytes", type=int, default=2 << 30, help="bytes per run (count = bytes / size)")
    ap.add_argument("--timeout", type=float, default=300)
    a = ap.parse_args()
    exe = pathlib.Path(a.bin_dir) / "nq_bench"
    certs = pathlib.Path(a.certs)
    if not (certs / "server.pem").exists():
        sys.exit(f"tls_bench: no {certs}/server.pem (run `ctest -R make_certs` or pass --certs)")
    print(f"{'size':>8}  {'plain Gbit/s':>12}  {'TLS Gbit/s':>10}  {'TLS/plain':>9}  runs")
    for text in a.sizes.split(","):
        size = size_of(text)
        count = max(2, a.bytes // size)
        plain, tls, ratios = [], [], []
        for _ in range(a.reps):
            p = one_run(exe, size, count, None, a.timeout)
            t = one_run(exe, size, count, certs, a.timeout)
            plain.append(p)
            tls.append(t)
            ratios.append(t / p)
        print(f"{text:>8}  {statistics.median(plain):12.2f}  {statistics.median(tls):10.2f}  "
              f"{statistics.median(ratios):9.2f}  {a.reps}", flush=True)


if __name__ == "__main__":
    main()
