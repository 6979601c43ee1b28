#!/usr/bin/env python3
"""gRPC: netqueue (nq_bench --grpc) against the Python reference's gRPC
communicators (ref_grpc_bench.py) in one invocation: msgs/s, Gbit/s,
round-trip latency, peak RSS, and a 2 MiB x 200 memory run.

Uses bench/run.py's process handling (one server and one client process
on free loopback ports per case); writes bench/results/grpc-latest.json.
    python3 bench/grpc_bench.py [--quick] [--sizes 64,64KiB,2MiB] [--bin-dir build/bench]
"""
import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as rb  # noqa: E402

IMPLS = ["netqueue-grpc", "reference-grpc"]
MEMORY = ("2 MiB x 200", 2 * rb.MIB, 200)


def command(impl, args, role):
    if impl == "reference-grpc":
        return [args.python, str(HERE / "ref_grpc_bench.py"), "--role", role]
    return [str(args.bin_dir / "nq_bench"), "--role", role, "--grpc"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default="64,64KiB,2MiB")
    ap.add_argument("--modes", default="sync,async,pingpong")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--python", default=rb.default_python())
    ap.add_argument("--bin-dir", type=Path, default=rb.find_bin_dir())
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--pin", default=None)
    ap.add_argument("--output", type=Path, default=HERE / "results" / "grpc-latest.json")
    args = ap.parse_args()
    rb.command = command  # run_pair builds its command lines with it
    budget = ({"msgs": 2000, "bytes": 32 * rb.MIB, "pp_msgs": 100, "pp_bytes": 8 * rb.MIB, "pp_min": 20}
              if args.quick else
              {"msgs": 20000, "bytes": 256 * rb.MIB, "pp_msgs": 500, "pp_bytes": 64 * rb.MIB, "pp_min": 50})
    sizes = [rb.parse_size(s) for s in args.sizes.split(",")]
    modes = args.modes.split(",")
    taken, records = set(), []
    for size in sizes:
        for mode in modes:
            count = rb.count_for(size, mode, budget)
            # reps interleave the implementations: load from elsewhere on
            # the shared machine then weighs on both sides of the ratio
            for _ in range(args.reps):
                for impl in IMPLS:
                    rec = rb.run_pair(impl, size, mode, count, args, taken)
                    print(f"{impl:15} {rb.size_label(size):>6} {mode:8} n={count:<6} "
                          + (rec.get("error", "")[:200] if "client" not in rec else
                             f"{rb.timed_side(rec).get('msgs_per_s', 0):>10,.0f} msg/s "
                             f"{rb.timed_side(rec).get('gbit_per_s', 0):7.3f} Gbit/s "
                             f"p50 {rec['client'].get('lat_p50_us') or 0:9.1f} us "
                             f"RSS c/s {rec['client'].get('rss_peak_kb', 0) / 1024:6.1f}/"
                             f"{rec['server'].get('rss_peak_kb', 0) / 1024:6.1f} MiB"), flush=True)
                    records.append(rec)
    label, msize, mcount = MEMORY
    for impl in IMPLS:
        rec = rb.run_pair(impl, msize, "sync", mcount, args, taken)
        rec["memory_run"] = label
        print(f"{impl:15} memory {label}: " + (rec.get("error", "")[:200] if "client" not in rec else
              f"RSS client {rec['client'].get('rss_peak_kb', 0) / 1024:.1f} MiB, "
              f"server {rec['server'].get('rss_peak_kb', 0) / 1024:.1f} MiB, "
              f"{rec['client'].get('gbit_per_s', 0):.3f} Gbit/s"), flush=True)
        records.append(rec)
    rows = rb.summarize([r for r in records if "memory_run" not in r])
    print("\nratio netqueue-grpc / reference-grpc (msgs/s; pingpong: reference p50 / ours)")
    idx = {(r["impl"], r["mode"], str(r["size"])): r for r in rows}
    for size in sizes:
        for mode in modes:
            a, b = idx.get(("netqueue-grpc", mode, str(size))), idx.get(("reference-grpc", mode, str(size)))
            if not a or not b:
                continue
            if mode == "pingpong" and a.get("lat_p50_us") and b.get("lat_p50_us"):
                print(f"  {rb.size_label(size):>6} {mode:8} x{b['lat_p50_us'] / a['lat_p50_us']:.2f}")
            elif a.get("msgs_per_s") and b.get("msgs_per_s"):
                print(f"  {rb.size_label(size):>6} {mode:8} x{a['msgs_per_s'] / b['msgs_per_s']:.2f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"records": records, "rows": rows}, indent=1))
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
