#!/usr/bin/env python3
"""Run the netqueue benchmarks and compare implementations.

Runs each implementation x size x mode (a server and a client process on
free loopback ports), repeats, takes medians, prints tables and ratios and
writes bench/results/latest.json; --plot also writes PNG charts
(matplotlib, see bench/requirements.txt). Python 3 standard library
otherwise. See bench/README.md.
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
MODES = ["sync", "async", "pingpong", "oneway"]
DEFAULT_SIZES = "64,1KiB,64KiB,2MiB,mixed"
# oneway sweeps wider: the issue-14 targets are at 64 B, 16-256 KiB and 64 MiB
ONEWAY_SIZES = "64,1KiB,16KiB,256KiB,2MiB,64MiB"
MIXED_MEAN = ((1 << 22) - (1 << 6)) / 16  # log-uniform 64 B .. 2 MiB
MIB = 1 << 20

# Message counts are bounded by bytes, so each run takes about the same
# time whatever the size. pingpong takes 20,000 samples up to 1 KiB (a p99
# from 200 values above it) and a warm-up (up to 1,000 round trips, a
# tenth of the count, 64 MiB); oneway is timed by the receiver from the
# first message on, so it needs more messages than the two-way modes for
# a span that start-up jitter does not dominate.
# The reference moves ~10-30k small messages/s here: its oneway runs are
# capped lower (the receiver's clock makes rates comparable across counts).
REFERENCE_CAPS = {"ow_msgs": 50_000}
FULL = {"msgs": 50_000, "bytes": 1 << 30, "pp_msgs": 20_000, "pp_bytes": 1 << 30, "pp_min": 50,
        "ow_msgs": 1_000_000, "ow_bytes": 1 << 30, "warmup": 1_000}
QUICK = {"msgs": 5_000, "bytes": 64 * MIB, "pp_msgs": 2_000, "pp_bytes": 32 * MIB, "pp_min": 20,
         "ow_msgs": 100_000, "ow_bytes": 256 * MIB, "warmup": 200}
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
    if mode == "oneway" and "ow_msgs" in budget:
        return max(2, min(budget["ow_msgs"], int(budget["ow_bytes"] // mean)))
    return max(2 if mode == "oneway" else 1, min(budget["msgs"], int(budget["bytes"] // mean)))


def warmup_for(size, count, budget):
    """pingpong warm-up round trips: the programs' own default rule (at most
    1,000, a tenth of count, 64 MiB of messages) under the budget's cap"""
    top = (2 * MIB) if size == "mixed" else max(size, 1)
    return max(1, min(budget.get("warmup", 1000), count // 10, (64 * MIB) // top))


def delivered(mode, count):
    """messages delivered in the timed part of a run, for per-message costs"""
    return count if mode == "oneway" else 2 * count


def timed_side(rec):
    """the process that ran the clock: the receiver (server) in oneway"""
    return rec.get("server") if rec.get("mode") == "oneway" else rec.get("client")


def per_message_costs(rec):
    """CPU us, syscalls and context switches per delivered message, both
    processes together (each counted over its workload window)"""
    c, s = rec["client"], rec["server"]
    n = delivered(rec["mode"], rec["count"])
    out = {}
    for key, name in (("cpu_us", "cpu_us_per_msg"), ("syscalls", "syscalls_per_msg"),
                      ("ctx_switches", "ctxsw_per_msg")):
        a, b = c.get(key), s.get(key)
        out[name] = None if a is None or b is None else (a + b) / n
    return out


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
    if impl.startswith("netqueue"):
        extra += ["--send-limit", str(parse_size(args.send_limit))]
    return pin + [str(args.bin_dir / BINARIES[impl]), "--role", role] + extra


def run_pair(impl, size, mode, count, args, taken, warmup=None):
    """One server + one client run; returns a record (with 'error' on failure)."""
    opts = ["--host", "127.0.0.1", "--port", str(free_port(taken)), "--port2", str(free_port(taken)),
            "--size", str(size), "--count", str(count), "--mode", mode]
    rec = {"impl": impl, "size": size, "mode": mode, "count": count}
    if warmup is not None and mode == "pingpong":
        opts += ["--warmup", str(warmup)]
        rec["warmup"] = warmup
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
            if "cpu_us" in c and "cpu_us" in s:
                rec.update(per_message_costs(rec))
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
            row[key] = median(timed_side(r).get(key) for r in good)
        for key in ("cpu_us_per_msg", "syscalls_per_msg", "ctxsw_per_msg"):
            row[key] = median(r.get(key) for r in good)
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


def print_table(title, header, lines, left=1):
    """A plain-text table; the first `left` columns flush left, the rest right."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print("  ".join(str(x).rjust(w) if i >= left else str(x).ljust(w)
                        for i, (x, w) in enumerate(zip(line, widths))))


def report(rows, impls, mode_sizes, memory_rows):
    """Print one table per mode (every measure of every implementation),
    netqueue's ratios and the memory run. mode_sizes: {mode: [sizes]}."""
    idx = {(r["impl"], r["mode"], str(r["size"])): r for r in rows}
    modes = list(mode_sizes)

    def cell(impl, mode, size, key):
        r = idx.get((impl, mode, str(size)))
        if not r:
            return None
        return r.get(key)

    titles = {
        "sync": "sync: client puts count, server gets them and puts count back; client-timed, both directions",
        "async": "async: both put and get count at once; client-timed until the server acknowledged, both directions",
        "pingpong": "pingpong: round trips of one message after a warm-up; client-timed, latency per round trip",
        "oneway": "oneway: client puts count + end marker; receiver-timed from the first message to the marker",
    }
    for mode in modes:
        pp = mode == "pingpong"
        header = ["size", "impl", "n", "msg/s", "Gbit/s"] + (["p50 us", "p99 us"] if pp else []) + \
                 ["CPU us/msg", "syscalls/msg", "ctxsw/msg", "RSS cli MiB", "RSS srv MiB"]
        lines = []
        for s in mode_sizes[mode]:
            for i in impls:
                r = idx.get((i, mode, str(s)))
                if not r:
                    continue
                if r.get("msgs_per_s") is None:
                    lines.append([size_label(s), i, str(r["count"]), "FAILED"] + [""] * (len(header) - 4))
                    continue
                line = [size_label(s), i, f"{r['count']:,}", fmt(r["msgs_per_s"], 0), fmt(r["gbit_per_s"], 3)]
                if pp:
                    line += [fmt(r["lat_p50_us"], 1), fmt(r["lat_p99_us"], 1)]
                line += [fmt(r.get("cpu_us_per_msg"), 3), fmt(r.get("syscalls_per_msg"), 3),
                         fmt(r.get("ctxsw_per_msg"), 3), fmt(_mib(r.get("rss_client_kb")), 1),
                         fmt(_mib(r.get("rss_server_kb")), 1)]
                lines.append(line)
        if lines:
            print_table(titles.get(mode, mode) + " (medians)", header, lines, left=2)

    bases = [b for b in ("reference", "zmq", "raw") if b in impls]
    for subject in [i for i in ("netqueue", "netqueue-zc") if i in impls]:
        header = ["mode", "size"] + [f"vs {b}" for b in bases]
        lines = []
        for mode in modes:
            key = "lat_p50_us" if mode == "pingpong" else "gbit_per_s"
            for s in mode_sizes[mode]:
                mine = cell(subject, mode, s, key)
                out = []
                for b in bases:
                    theirs = cell(b, mode, s, key)
                    out.append(f"{mine / theirs:.2f}x" if mine and theirs else "-")
                lines.append([mode, size_label(s)] + out)
        if bases:
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
    ap.add_argument("--sizes", help=f"comma list of bytes (64, 1KiB, 2MiB) or 'mixed', for every mode "
                                    f"[{DEFAULT_SIZES}; oneway: {ONEWAY_SIZES}]")
    ap.add_argument("--oneway-sizes", help="sizes of the oneway mode (overrides --sizes for it)")
    ap.add_argument("--impl", default=",".join(IMPLS), help=f"comma list of {','.join(IMPLS)}")
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma list of {','.join(MODES)}")
    ap.add_argument("--reps", type=int, help="repeats per case, medians reported (default 3, quick 1)")
    ap.add_argument("--python", default=default_python(), help="Python 3.13 with net-queue for the reference")
    ap.add_argument("--bin-dir", type=Path, default=find_bin_dir(), help="where nq_bench, zmq_bench, raw_bench are")
    ap.add_argument("--timeout", type=float, default=120, help="seconds per run before it is killed")
    ap.add_argument("--pin", metavar="CPU,CPU", help="run the server on the first CPU and the client on the second (taskset)")
    ap.add_argument("--no-memory", action="store_true", help=f"skip the '{MEMORY_RUN[0]}' memory run")
    ap.add_argument("--send-limit", default="1MiB",
                    help="netqueue's send limit (nq_options_set_send_limit) [1MiB]: like the raw "
                         "sender's 256 KiB buffer and ZeroMQ's high-water mark, it bounds what the "
                         "sender queues; a deeper queue than the caches hold makes every copy "
                         "cold (bench/README.md, 'the send limit')")
    ap.add_argument("--no-syscalls", action="store_true",
                    help="do not count system calls (the perf tracepoint counter costs a little per call)")
    ap.add_argument("--plot", nargs="?", const=HERE / "results", type=Path, metavar="DIR",
                    help="write PNG charts into DIR (default bench/results; needs matplotlib)")
    ap.add_argument("--plot-from", type=Path, metavar="JSON",
                    help="only draw the charts of an earlier run's JSON (with --plot DIR or into bench/results)")
    ap.add_argument("--output", type=Path, default=HERE / "results" / "latest.json")
    args = ap.parse_args()

    if args.plot or args.plot_from:
        import bench_plot as plot  # exits with instructions when matplotlib is missing
        plot.require_matplotlib()
    if args.plot_from:
        written = plot.plot_results(json.loads(args.plot_from.read_text()), args.plot or HERE / "results")
        print("\n".join(f"wrote {p}" for p in written))
        return 0
    if args.no_syscalls:
        os.environ["NQ_BENCH_SYSCALLS"] = "0"  # read by the benchmark programs

    budget = QUICK if args.quick else FULL
    reps = args.reps or (1 if args.quick else 3)
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            sys.exit(f"unknown mode {m}")
    mode_sizes = {}
    for m in modes:
        text = args.oneway_sizes if m == "oneway" and args.oneway_sizes else \
            args.sizes or (ONEWAY_SIZES if m == "oneway" else DEFAULT_SIZES)
        mode_sizes[m] = [parse_size(x) for x in text.split(",") if x.strip()]
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
    load_start = os.getloadavg()
    cases = [(m, s) for m in modes for s in mode_sizes[m]]
    for rep in range(reps):
        # Interleave implementations within a repeat so drift hits all alike.
        for mode, size in cases:
            for impl in impls:
                b = budget if impl != "reference" else \
                    dict(budget, **{k: min(v, budget[k]) for k, v in REFERENCE_CAPS.items()})
                count = count_for(size, mode, b)
                warmup = warmup_for(size, count, b) if mode == "pingpong" else None
                rec = run_pair(impl, size, mode, count, args, taken, warmup)
                rec["rep"] = rep
                records.append(rec)
                if "error" in rec:
                    status = rec["error"]
                else:
                    t = timed_side(rec)
                    status = (f"{t.get('lat_p50_us', 0):.1f} us p50, {t.get('lat_p99_us', 0):.1f} us p99"
                              if mode == "pingpong" else
                              f"{t['gbit_per_s']:.3f} Gbit/s, {t['msgs_per_s']:,.0f} msg/s")
                    if rec.get("cpu_us_per_msg") is not None:
                        status += f", {rec['cpu_us_per_msg']:.2f} CPU us/msg"
                    if rec.get("syscalls_per_msg") is not None:
                        status += f", {rec['syscalls_per_msg']:.3f} syscalls/msg"
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
    report(rows, impls, mode_sizes, memory)
    ok = [r for r in records if "client" in r]
    if ok and all(r["client"].get("syscalls") is None for r in ok):
        print("\nsyscalls/msg: not counted (--no-syscalls, or perf_event_open of raw_syscalls:sys_enter "
              "refused: see /proc/sys/kernel/perf_event_paranoid and tracefs)")
    failures = [r for r in records if "error" in r] + [r for r in memory if "error" in r]
    for r in failures:
        print(f"FAILED {r['impl']} {r['mode']} {size_label(r.get('size', MEMORY_RUN[1]))}: {r['error']}")
    print(f"\ntotal {time.monotonic() - began:.0f}s")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "argv": sys.argv, "host": platform.node(), "cpus": os.cpu_count(), "kernel": platform.release(),
            "loadavg_start": load_start, "loadavg_end": os.getloadavg(), "reps": reps, "budget": budget, "python": args.python,
            "bin_dir": str(args.bin_dir), "git": _git_head(), "seconds": round(time.monotonic() - began, 1),
            "mode_sizes": {m: v for m, v in mode_sizes.items()}}
    results = {"meta": meta, "summary": rows, "memory": memory, "runs": records}
    args.output.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.output}")
    if args.plot:
        for p in plot.plot_results(results, args.plot):
            print(f"wrote {p}")
    return 1 if failures else 0


def _git_head():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
