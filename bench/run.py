#!/usr/bin/env python3
"""Run the netqueue benchmarks and compare implementations.

Runs each implementation x size x mode (a server and a client process on
free loopback ports), repeats, takes medians, prints tables and ratios and
writes bench/results/latest.json. Python 3 standard library only.
See bench/README.md.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
IMPLS = ["netqueue", "netqueue-zc", "reference", "zmq", "raw"]
BINARIES = {"netqueue": "nq_bench", "netqueue-zc": "nq_bench", "zmq": "zmq_bench", "raw": "raw_bench"}
MODES = ["sync", "async", "pingpong"]
DEFAULT_SIZES = "64,1KiB,64KiB,2MiB,mixed"
MIXED_MEAN = ((1 << 22) - (1 << 6)) / 16  # log-uniform 64 B .. 2 MiB
MIB = 1 << 20

# Message counts are bounded by bytes, so each run takes about the same
# time whatever the size, and a full default run stays near 10 minutes.
FULL = {"msgs": 50_000, "bytes": 1 << 30, "pp_msgs": 2_000, "pp_bytes": 256 * MIB, "pp_min": 50}
QUICK = {"msgs": 5_000, "bytes": 64 * MIB, "pp_msgs": 200, "pp_bytes": 32 * MIB, "pp_min": 20}
MEMORY_RUN = ("2 MiB x 400", 2 * MIB, 400)


def parse_size(text):
    text = text.strip()
    if text == "mixed":
        return "mixed"
    for suffix, mult in (("KiB", 1 << 10), ("MiB", 1 << 20), ("K", 1 << 10), ("M", 1 << 20), ("k", 1 << 10)):
        if text.endswith(suffix):
            return int(text[: -len(suffix)]) * mult
    return int(text)


def size_label(size):
    if size == "mixed":
        return "mixed"
    for unit, mult in (("MiB", MIB), ("KiB", 1 << 10)):
        if size >= mult and size % mult == 0:
            return f"{size // mult} {unit}"
    return f"{size} B"


def count_for(size, mode, budget):
    mean = MIXED_MEAN if size == "mixed" else max(size, 1)
    if mode == "pingpong":
        return max(budget["pp_min"], min(budget["pp_msgs"], int(budget["pp_bytes"] // mean)))
    return max(1, min(budget["msgs"], int(budget["bytes"] // mean)))


def free_port(taken):
    """An unused loopback port (not handed out before in this run)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            taken.add(port)
            return port


class Proc:
    """A benchmark process whose stdout and stderr are drained by threads."""

    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out, self.err = [], []
        self.ready = threading.Event()
        self.threads = [threading.Thread(target=self._drain, args=(self.p.stdout, self.out), daemon=True),
                        threading.Thread(target=self._drain, args=(self.p.stderr, self.err), daemon=True)]
        for t in self.threads:
            t.start()

    def _drain(self, pipe, lines):
        for line in pipe:
            if line.strip() == "READY":
                self.ready.set()
            else:
                lines.append(line.rstrip("\n"))
        self.ready.set()  # EOF: do not wait for a READY that will not come

    def wait(self, timeout):
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return False
        for t in self.threads:
            t.join(timeout=5)
        return True

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def result(self):
        for line in reversed(self.out):
            if line.startswith("{"):
                return json.loads(line)
        return None

    def tail(self):
        return " | ".join((self.err + self.out)[-4:])


def command(impl, args, role):
    pin = []
    if args.pin:
        # server on the first CPU, client on the second (see README: latency
        # on small VMs depends on whether the two share a core)
        pin = ["taskset", "-c", args.pin.split(",")[0 if role == "server" else 1]]
    if impl == "reference":
        return pin + [args.python, str(HERE / "ref_bench.py"), "--role", role]
    extra = ["--zerocopy"] if impl == "netqueue-zc" else []
    return pin + [str(args.bin_dir / BINARIES[impl]), "--role", role] + extra


def run_pair(impl, size, mode, count, args, taken):
    """One server + one client run; returns a record (with 'error' on failure)."""
    opts = ["--host", "127.0.0.1", "--port", str(free_port(taken)), "--port2", str(free_port(taken)),
            "--size", str(size), "--count", str(count), "--mode", mode]
    rec = {"impl": impl, "size": size, "mode": mode, "count": count}
    start = time.monotonic()
    server = Proc(command(impl, args, "server") + opts)
    client = None
    try:
        if not server.ready.wait(30) or server.p.poll() not in (None, 0):
            rec["error"] = f"server did not start: {server.tail()}"
            return rec
        client = Proc(command(impl, args, "client") + opts)
        ok_c = client.wait(args.timeout)
        ok_s = server.wait(max(5.0, args.timeout - (time.monotonic() - start)))
        c, s = client.result(), server.result()
        if not ok_c or not ok_s:
            rec["error"] = f"timed out after {args.timeout}s ({'client' if not ok_c else 'server'}): " \
                           f"client: {client.tail()} server: {server.tail()}"
        elif client.p.returncode or server.p.returncode or not c or not s:
            rec["error"] = f"exit {client.p.returncode}/{server.p.returncode}: " \
                           f"client: {client.tail()} server: {server.tail()}"
        else:
            rec.update(client=c, server=s)
        return rec
    finally:
        server.kill()
        if client:
            client.kill()
        rec["wall_s"] = round(time.monotonic() - start, 3)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(records):
    """Median over the repeats of each (impl, mode, size)."""
    groups = {}
    for r in records:
        groups.setdefault((r["impl"], r["mode"], str(r["size"])), []).append(r)
    rows = []
    for (impl, mode, size), rs in groups.items():
        good = [r for r in rs if "client" in r]
        row = {"impl": impl, "mode": mode, "size": rs[0]["size"], "count": rs[0]["count"],
               "reps": len(good), "failed": len(rs) - len(good)}
        if not good:
            row["error"] = rs[-1].get("error")
        for key in ("msgs_per_s", "gbit_per_s", "lat_p50_us", "lat_p99_us", "seconds"):
            row[key] = median(r["client"].get(key) for r in good)
        row["rss_client_kb"] = median(r["client"].get("rss_peak_kb") for r in good)
        row["rss_server_kb"] = median(r["server"].get("rss_peak_kb") for r in good)
        rows.append(row)
    return rows


def fmt(v, digits=2):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def print_table(title, header, lines):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print("  ".join(str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in enumerate(zip(line, widths))))


def report(rows, impls, sizes, modes, memory_rows):
    idx = {(r["impl"], r["mode"], str(r["size"])): r for r in rows}

    def cell(impl, mode, size, key):
        r = idx.get((impl, mode, str(size)))
        if not r:
            return None
        return r.get(key)

    for mode in modes:
        if mode == "pingpong":
            header = ["size"] + [f"{i} p50/p99 us" for i in impls]
            lines = [[size_label(s)] + [f"{fmt(cell(i, mode, s, 'lat_p50_us'), 1)} / {fmt(cell(i, mode, s, 'lat_p99_us'), 1)}"
                                        if cell(i, mode, s, "lat_p50_us") is not None else "FAILED" if idx.get((i, mode, str(s))) else "-"
                                        for i in impls] for s in sizes]
            print_table("pingpong: round-trip latency, median / p99 (us)", header, lines)
        else:
            header = ["size"]
            for i in impls:
                header += [f"{i} Gbit/s", "msg/s"]
            lines = []
            for s in sizes:
                line = [size_label(s)]
                for i in impls:
                    failed = idx.get((i, mode, str(s))) and cell(i, mode, s, "gbit_per_s") is None
                    line += ["FAILED", ""] if failed else [fmt(cell(i, mode, s, "gbit_per_s")),
                                                           fmt(cell(i, mode, s, "msgs_per_s"), 0)]
                lines.append(line)
            print_table(f"{mode}: throughput, both directions (median)", header, lines)

    header = ["mode", "size"] + [f"{i} client/server MiB" for i in impls]
    lines = []
    for mode in modes:
        for s in sizes:
            lines.append([mode, size_label(s)] + [
                f"{fmt(_mib(cell(i, mode, s, 'rss_client_kb')), 0)} / {fmt(_mib(cell(i, mode, s, 'rss_server_kb')), 0)}"
                for i in impls])
    print_table("peak RSS (VmHWM), client / server, MiB", header, lines)

    bases = [b for b in ("reference", "zmq", "raw") if b in impls]
    for subject in [i for i in ("netqueue", "netqueue-zc") if i in impls]:
        header = ["mode", "size"] + [f"vs {b}" for b in bases]
        lines = []
        for mode in modes:
            key = "lat_p50_us" if mode == "pingpong" else "gbit_per_s"
            for s in sizes:
                mine = cell(subject, mode, s, key)
                out = []
                for b in bases:
                    theirs = cell(b, mode, s, key)
                    out.append(f"{mine / theirs:.2f}x" if mine and theirs else "-")
                lines.append([mode, size_label(s)] + out)
        print_table(f"{subject} ratios (throughput: {subject}/other, >1 better; "
                    f"pingpong p50 latency: {subject}/other, <1 better)", header, lines)

    if memory_rows:
        header = ["impl", "run", "Gbit/s", "client MiB", "server MiB"]
        lines = [[r["impl"], MEMORY_RUN[0] + " sync", fmt(r.get("gbit_per_s")),
                  fmt(_mib(r.get("rss_client_kb")), 0), fmt(_mib(r.get("rss_server_kb")), 0)]
                 if "error" not in r else [r["impl"], MEMORY_RUN[0] + " sync", "FAILED", "-", "-"]
                 for r in memory_rows]
        print_table("memory target: peak RSS", header, lines)


def _mib(kb):
    return None if kb is None else kb / 1024


def find_bin_dir():
    for d in ("build", "build-bench"):  # the README's build first
        if (ROOT / d / "bench").is_dir():
            return ROOT / d / "bench"
    return ROOT / "build" / "bench"


def default_python():
    env = os.environ.get("NQ_REF_PYTHON")
    if env:
        return env
    if (ROOT / ".venv-ref" / "bin" / "python").exists():  # made by scripts/setup.sh
        return str(ROOT / ".venv-ref" / "bin" / "python")
    return shutil.which("python3.13") or "python3.13"


def available(impl, args):
    if impl == "reference":
        probe = subprocess.run([args.python, "-c", "import net_queue"], capture_output=True)
        return probe.returncode == 0, f"{args.python} cannot import net_queue"
    path = args.bin_dir / BINARIES[impl]
    return path.exists(), f"{path} not built"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small counts, 1 repeat (a smoke test)")
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma list of bytes (64, 1KiB, 2MiB) or 'mixed' [{DEFAULT_SIZES}]")
    ap.add_argument("--impl", default=",".join(IMPLS), help=f"comma list of {','.join(IMPLS)}")
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma list of {','.join(MODES)}")
    ap.add_argument("--reps", type=int, help="repeats per case, medians reported (default 3, quick 1)")
    ap.add_argument("--python", default=default_python(), help="Python 3.13 with net-queue for the reference")
    ap.add_argument("--bin-dir", type=Path, default=find_bin_dir(), help="where nq_bench, zmq_bench, raw_bench are")
    ap.add_argument("--timeout", type=float, default=120, help="seconds per run before it is killed")
    ap.add_argument("--pin", metavar="CPU,CPU", help="run the server on the first CPU and the client on the second (taskset)")
    ap.add_argument("--no-memory", action="store_true", help=f"skip the '{MEMORY_RUN[0]}' memory run")
    ap.add_argument("--output", type=Path, default=HERE / "results" / "latest.json")
    args = ap.parse_args()

    budget = QUICK if args.quick else FULL
    reps = args.reps or (1 if args.quick else 3)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    modes = [m for m in args.modes.split(",") if m]
    impls = []
    for impl in [i for i in args.impl.split(",") if i]:
        if impl not in IMPLS:
            sys.exit(f"unknown implementation {impl}")
        ok, why = available(impl, args)
        if ok:
            impls.append(impl)
        else:
            print(f"skipping {impl}: {why}", file=sys.stderr)

    taken = set()
    records, memory = [], []
    began = time.monotonic()
    cases = [(m, s) for m in modes for s in sizes]
    for rep in range(reps):
        # Interleave implementations within a repeat so drift hits all alike.
        for mode, size in cases:
            for impl in impls:
                count = count_for(size, mode, budget)
                rec = run_pair(impl, size, mode, count, args, taken)
                rec["rep"] = rep
                records.append(rec)
                status = rec.get("error") or (
                    f"{rec['client'].get('lat_p50_us', 0):.1f} us p50" if mode == "pingpong"
                    else f"{rec['client']['gbit_per_s']:.3f} Gbit/s")
                print(f"[{time.monotonic() - began:6.1f}s] rep {rep + 1}/{reps} {impl:11} {mode:8} "
                      f"{size_label(size):7} x{count}: {status}", file=sys.stderr, flush=True)
    if not args.no_memory:
        for impl in impls:
            rec = run_pair(impl, MEMORY_RUN[1], "sync", MEMORY_RUN[2], args, taken)
            row = {"impl": impl, "run": MEMORY_RUN[0], "mode": "sync", "wall_s": rec["wall_s"]}
            if "error" in rec:
                row["error"] = rec["error"]
            else:
                row.update(gbit_per_s=rec["client"].get("gbit_per_s"),
                           rss_client_kb=rec["client"].get("rss_peak_kb"),
                           rss_server_kb=rec["server"].get("rss_peak_kb"))
            memory.append(row)
            print(f"[{time.monotonic() - began:6.1f}s] memory {impl:11}: {row.get('error') or row}",
                  file=sys.stderr, flush=True)

    rows = summarize(records)
    report(rows, impls, sizes, modes, memory)
    failures = [r for r in records if "error" in r] + [r for r in memory if "error" in r]
    for r in failures:
        print(f"FAILED {r['impl']} {r['mode']} {size_label(r.get('size', MEMORY_RUN[1]))}: {r['error']}")
    print(f"\ntotal {time.monotonic() - began:.0f}s")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "argv": sys.argv, "host": platform.node(), "cpus": os.cpu_count(), "kernel": platform.release(),
            "reps": reps, "budget": budget, "python": args.python, "bin_dir": str(args.bin_dir),
            "git": _git_head(), "seconds": round(time.monotonic() - began, 1)}
    args.output.write_text(json.dumps({"meta": meta, "summary": rows, "memory": memory, "runs": records}, indent=1))
    print(f"wrote {args.output}")
    return 1 if failures else 0


def _git_head():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
