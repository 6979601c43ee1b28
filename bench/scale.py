#!/usr/bin/env python3
"""Scale runs: many clients to one netqueue server, and one server
broadcasting to many clients (scale_bench, TCP on loopback).

Each run starts a server process (its `workers` option from --workers)
and --procs client processes holding the clients between them (one
communicator each, receiving through callbacks: no thread per client).
fanin: every client puts N messages and an end marker, the server times
from the first message to the last marker. broadcast: the server puts N
messages and a marker to all clients; the span runs from the first
message any client got to the last marker any client got. Reports
deliveries/s (messages received, summed over receivers), Gbit/s, CPU us,
syscalls and context switches per delivery (all processes), server and
client peak RSS. Writes bench/results/scale.json; --plot draws
deliveries/s and server RSS against the number of clients. See
bench/README.md.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as rb  # noqa: E402

FULL = {"msgs": 1_000_000, "bytes": 1 << 30}
QUICK = {"msgs": 100_000, "bytes": 128 * rb.MIB}


def count_for(kind, clients, size, budget):
    """messages per client (fanin: each client's puts; broadcast: the
    server's puts), bounded by total deliveries and delivered bytes"""
    return max(2, min(budget["msgs"] // clients, budget["bytes"] // (clients * size)))


def run_case(kind, clients, workers, size, count, args, taken):
    port = rb.free_port(taken)
    common = ["--host", "127.0.0.1", "--port", str(port), "--kind", kind, "--size", str(size),
              "--count", str(count)]
    exe = str(args.bin_dir / "scale_bench")
    rec = {"kind": kind, "clients": clients, "workers": workers, "size": size, "count": count}
    start = time.monotonic()
    server = rb.Proc([exe, "--role", "server", "--clients", str(clients), "--workers", str(workers)]
                     + (["--send-limit", str(args.send_limit)] if args.send_limit else []) + common)
    procs = []
    try:
        if not server.ready.wait(30) or server.p.poll() not in (None, 0):
            rec["error"] = f"server did not start: {server.tail()}"
            return rec
        nproc = max(1, min(args.procs, clients))
        for i in range(nproc):
            k = clients // nproc + (1 if i < clients % nproc else 0)
            procs.append(rb.Proc([exe, "--role", "clients", "--clients", str(k), "--threads", str(args.threads)]
                                 + common))
        ok = all(p.wait(max(5.0, args.timeout - (time.monotonic() - start))) for p in procs)
        ok = server.wait(max(5.0, args.timeout - (time.monotonic() - start))) and ok
        s = server.result()
        cs = [p.result() for p in procs]
        if not ok:
            rec["error"] = f"timed out after {args.timeout}s: server: {server.tail()} " + \
                " ".join(f"clients: {p.tail()}" for p in procs)
        elif server.p.returncode or any(p.p.returncode for p in procs) or not s or not all(cs):
            rec["error"] = f"exit {server.p.returncode}/{[p.p.returncode for p in procs]}: " \
                           f"server: {server.tail()} " + " ".join(f"clients: {p.tail()}" for p in procs)
        else:
            rec.update(server=s, client_procs=cs)
            rec.update(combine(kind, clients, size, count, s, cs))
        return rec
    finally:
        server.kill()
        for p in procs:
            p.kill()
        rec["wall_s"] = round(time.monotonic() - start, 3)


def combine(kind, clients, size, count, s, cs):
    deliveries = clients * count
    out = {"deliveries": deliveries}
    if kind == "fanin":
        secs = s["seconds"]
    else:
        secs = max(c["t_marker"] for c in cs) - min(c["t_first"] for c in cs)
        got = sum(c["received"] for c in cs)
        if got != deliveries:
            out["error"] = f"clients received {got}, expected {deliveries}"
        out["server_seconds"] = s["seconds"]
        out["server_deliveries_per_s"] = s["deliveries_per_s"]
    out["seconds"] = secs
    if secs > 0:
        out["deliveries_per_s"] = (deliveries - 1) / secs
        out["gbit_per_s"] = (deliveries - 1) * size * 8 / secs / 1e9
    for key, name in (("cpu_us", "cpu_us_per_delivery"), ("syscalls", "syscalls_per_delivery"),
                      ("ctx_switches", "ctxsw_per_delivery")):
        vals = [s.get(key)] + [c.get(key) for c in cs]
        out[name] = None if any(v is None for v in vals) else sum(vals) / deliveries
    out["rss_server_kb"] = s["rss_peak_kb"]
    out["rss_clients_kb"] = max(c["rss_peak_kb"] for c in cs)  # per client process
    return out


def summarize(records):
    groups = {}
    for r in records:
        groups.setdefault((r["kind"], r["clients"], r["workers"], r["size"]), []).append(r)
    rows = []
    for (kind, clients, workers, size), rs in groups.items():
        good = [r for r in rs if "server" in r and "error" not in r]
        row = {"kind": kind, "clients": clients, "workers": workers, "size": size, "count": rs[0]["count"],
               "reps": len(good), "failed": len(rs) - len(good)}
        if not good:
            row["error"] = rs[-1].get("error")
        for key in ("deliveries_per_s", "gbit_per_s", "server_deliveries_per_s", "cpu_us_per_delivery",
                    "syscalls_per_delivery", "ctxsw_per_delivery", "rss_server_kb", "rss_clients_kb",
                    "wall_s"):
            row[key] = rb.median(r.get(key) for r in good)
        rows.append(row)
    return rows


def report(rows, kinds):
    f = rb.fmt
    for kind in kinds:
        rs = sorted((r for r in rows if r["kind"] == kind), key=lambda r: (r["size"], r["clients"], r["workers"]))
        if not rs:
            continue
        bc = kind == "broadcast"
        header = ["size", "clients", "workers", "N/client" if not bc else "N", "deliveries/s", "Gbit/s"] + \
                 (["srv-timed/s"] if bc else []) + \
                 ["CPU us/dlv", "syscalls/dlv", "ctxsw/dlv", "srv RSS MiB", "cli RSS MiB", "wall s"]
        lines = []
        for r in rs:
            if r.get("deliveries_per_s") is None:
                lines.append([rb.size_label(r["size"]), r["clients"], r["workers"], f"{r['count']:,}", "FAILED"]
                             + [""] * (len(header) - 5))
                continue
            lines.append([rb.size_label(r["size"]), r["clients"], r["workers"], f"{r['count']:,}",
                          f(r["deliveries_per_s"], 0), f(r["gbit_per_s"], 3)]
                         + ([f(r["server_deliveries_per_s"], 0)] if bc else [])
                         + [f(r["cpu_us_per_delivery"], 3), f(r["syscalls_per_delivery"], 3),
                            f(r["ctxsw_per_delivery"], 3), f(rb._mib(r["rss_server_kb"]), 1),
                            f(rb._mib(r["rss_clients_kb"]), 1), f(r["wall_s"], 1)])
        what = ("fanin: clients put N each + marker, server-timed from first message to last marker"
                if not bc else "broadcast: server puts N to all, timed from the first receipt to the last marker")
        rb.print_table(what + " (medians)", header, lines)
        idx = {(r["clients"], r["size"], r["workers"]): r for r in rs}
        ratio = []
        for (clients, size, workers), r in sorted(idx.items()):
            if workers == 2 and (clients, size, 1) in idx:
                a, b = r.get("deliveries_per_s"), idx[(clients, size, 1)].get("deliveries_per_s")
                if a and b:
                    ratio.append([rb.size_label(size), clients, f"{a / b:.2f}x"])
        if ratio:
            rb.print_table(f"{kind}: deliveries/s with workers 2 / workers 1", ["size", "clients", "ratio"], ratio)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller budget (100,000 deliveries, 128 MiB) and sizes 64,64KiB: a smoke test")
    ap.add_argument("--kinds", default="fanin,broadcast")
    ap.add_argument("--clients", help="fanin client counts [1,10,100,1000]")
    ap.add_argument("--bcast-clients", help="broadcast client counts [10,100,1000]")
    ap.add_argument("--workers", default="1,2", help="server workers values [1,2]")
    ap.add_argument("--sizes", help="message sizes [64,64KiB,1MiB,64MiB; quick 64,64KiB]")
    ap.add_argument("--max-fanout-bytes", type=rb.parse_size, default=rb.parse_size("1024MiB"),
                    help="skip cases where clients x size exceeds this (every client may hold a message "
                         "at once) [1024MiB]")
    ap.add_argument("--procs", type=int, default=1, help="client processes sharing the clients [1]")
    ap.add_argument("--threads", type=int, default=2, help="fanin putter threads per client process [2]")
    ap.add_argument("--send-limit", type=int, help="server send limit in bytes [16 MiB]")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--bin-dir", type=Path, default=rb.find_bin_dir())
    ap.add_argument("--timeout", type=float, default=300, help="seconds per run before it is killed")
    ap.add_argument("--no-syscalls", action="store_true", help="do not count system calls")
    ap.add_argument("--plot", nargs="?", const=HERE / "results", type=Path, metavar="DIR",
                    help="write PNG charts into DIR (default bench/results; needs matplotlib)")
    ap.add_argument("--plot-from", type=Path, metavar="JSON", help="only chart an earlier scale.json")
    ap.add_argument("--output", type=Path, default=HERE / "results" / "scale.json")
    args = ap.parse_args()

    if args.plot or args.plot_from:
        import bench_plot as plot
        plot.require_matplotlib()
    if args.plot_from:
        for p in plot.plot_scale(json.loads(args.plot_from.read_text()), args.plot or HERE / "results"):
            print(f"wrote {p}")
        return 0
    if not (args.bin_dir / "scale_bench").exists():
        sys.exit(f"{args.bin_dir / 'scale_bench'} not built (ninja -C build scale_bench)")
    if args.no_syscalls:
        os.environ["NQ_BENCH_SYSCALLS"] = "0"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # ~3 descriptors per client

    budget = QUICK if args.quick else FULL
    ints = lambda text: [int(x) for x in text.split(",") if x.strip()]  # noqa: E731
    fan = ints(args.clients or "1,10,100,1000")
    bcast = ints(args.bcast_clients or "10,100,1000")
    workers = ints(args.workers)
    sizes = [rb.parse_size(x) for x in (args.sizes or ("64,64KiB" if args.quick else "64,64KiB,1MiB,64MiB")).split(",")]
    kinds = [k for k in args.kinds.split(",") if k]
    cases, skipped = [], []
    for kind in kinds:
        for size in sizes:
            for clients in (fan if kind == "fanin" else bcast):
                if clients * size > args.max_fanout_bytes:
                    skipped.append(f"{kind} {rb.size_label(size)} x {clients} clients")
                    continue
                for w in workers:
                    cases.append((kind, clients, w, size))
    if skipped:
        print(f"skipped (clients x size > {rb.size_label(args.max_fanout_bytes)}): " + ", ".join(skipped),
              file=sys.stderr)

    taken, records = set(), []
    began = time.monotonic()
    load_start = os.getloadavg()
    for rep in range(args.reps):
        for kind, clients, w, size in cases:
            count = count_for(kind, clients, size, budget)
            rec = run_case(kind, clients, w, size, count, args, taken)
            rec["rep"] = rep
            records.append(rec)
            status = rec.get("error") or (
                f"{rec['deliveries_per_s']:,.0f} deliveries/s, server RSS {rec['rss_server_kb'] / 1024:.1f} MiB")
            print(f"[{time.monotonic() - began:6.1f}s] rep {rep + 1}/{args.reps} {kind:9} {rb.size_label(size):7} "
                  f"{clients:5} clients workers {w} N={count}: {status}", file=sys.stderr, flush=True)

    rows = summarize(records)
    report(rows, kinds)
    failures = [r for r in records if "error" in r]
    for r in failures:
        print(f"FAILED {r['kind']} {rb.size_label(r['size'])} {r['clients']} clients workers {r['workers']}: "
              f"{r['error'][:2000]}")
    print(f"\ntotal {time.monotonic() - began:.0f}s")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "argv": sys.argv, "host": platform.node(), "cpus": os.cpu_count(), "kernel": platform.release(),
            "loadavg_start": load_start, "loadavg_end": os.getloadavg(), "reps": args.reps, "budget": budget,
            "procs": args.procs, "git": rb._git_head(), "seconds": round(time.monotonic() - began, 1),
            "skipped": skipped}
    results = {"meta": meta, "summary": rows, "runs": records}
    args.output.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.output}")
    if args.plot:
        for p in plot.plot_scale(results, args.plot):
            print(f"wrote {p}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
