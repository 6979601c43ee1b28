#!/usr/bin/env python3
"""MQTT: netqueue (nq_bench --mqtt) against the Python reference's MQTT
communicators (ref_mqtt_bench.py) over the same private mosquitto, in one
invocation: msgs/s, Gbit/s, round-trip latency, peak RSS of both
processes, and the broker's CPU time per run (utime + stime from
/proc/<pid>/stat); plus a 1 MiB x 200 memory run.

The broker runs on a free loopback port with a generated config (no limit
on queued messages, so that QoS 0 does not drop under load). Each run
starts the server, waits until the broker logged its c2s/+ subscription
(MQTT keeps nothing for a subscriber not there yet), then the client.
Both are QoS 0, the reference's default. Every configuration runs --reps
times and the memory run --mem-reps times, the implementations interleaved
(so they share the machine's ups and downs); the tables are medians.
Writes bench/results/mqtt-latest.json.
    python3 bench/mqtt_bench.py [--quick] [--reps 1] [--mem-reps 3] [--sizes 64,64KiB,1MiB] [--bin-dir build/bench]
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as rb  # noqa: E402

# netqueue-mqtt: defaults (QoS 0, 16 MiB transport size), as the reference.
# netqueue-mqtt-q1: QoS 1 with 1 MiB transport size (at-least-once puts).
# paho.mqtt.c 1.3.12 finishes a partly written publish only when its
# receive thread wakes up (input, or a 1 s poll timeout + 100 ms); we send
# big QoS 0 publishes as QoS 1 so that PUBACKs wake it (docs/mqtt.md).
IMPLS = ["netqueue-mqtt", "netqueue-mqtt-q1", "reference-mqtt"]
MEMORY = ("1 MiB x 200", rb.MIB, 200)
TICK = os.sysconf("SC_CLK_TCK")


class Broker:
    def __init__(self, taken):
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.dir = tempfile.mkdtemp(prefix="nq-mqtt-bench-")
        self.port = rb.free_port(taken)
        self.log = os.path.join(self.dir, "mosquitto.log")
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            if os.geteuid() == 0:
                f.write("user root\n")
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                    f"max_queued_messages 0\nset_tcp_nodelay true\n"
                    f"log_dest file {self.log}\nlog_type subscribe\n")
        self.p = subprocess.Popen([exe, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("mosquitto did not start")

    def cpu_s(self):
        with open(f"/proc/{self.p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime

    def subscriptions(self):
        try:
            with open(self.log) as f:
                return sum(1 for line in f if line.rstrip().endswith(" c2s/+"))
        except FileNotFoundError:
            return 0

    def stop(self):
        self.p.terminate()
        self.p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def command(impl, args, role):
    if impl == "reference-mqtt":
        return [args.python, str(HERE / "ref_mqtt_bench.py"), "--role", role]
    extra = ["--qos", "1", "--transport-size", str(rb.MIB)] if impl == "netqueue-mqtt-q1" else []
    return [str(args.bin_dir / "nq_bench"), "--role", role, "--mqtt"] + extra


def run_pair(impl, size, mode, count, args, broker):
    opts = ["--host", "127.0.0.1", "--port", str(broker.port), "--port2", "0",
            "--size", str(size), "--count", str(count), "--mode", mode]
    rec = {"impl": impl, "size": size, "mode": mode, "count": count}
    start = time.monotonic()
    cpu0 = broker.cpu_s()
    subs = broker.subscriptions()
    server = rb.Proc(command(impl, args, "server") + opts)
    client = None
    try:
        if not server.ready.wait(30) or server.p.poll() not in (None, 0):
            rec["error"] = f"server did not start: {server.tail()}"
            return rec
        deadline = time.monotonic() + 30
        while broker.subscriptions() <= subs and time.monotonic() < deadline:
            time.sleep(0.01)
        client = rb.Proc(command(impl, args, "client") + opts)
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
        rec["broker_cpu_s"] = round(broker.cpu_s() - cpu0, 3)


def line(rec):
    if "client" not in rec:
        return rec.get("error", "")[:300]
    c, s, t = rec["client"], rec["server"], rb.timed_side(rec)  # oneway: the receiver timed
    return (f"{t.get('msgs_per_s', 0):>10,.0f} msg/s {t.get('gbit_per_s', 0):7.3f} Gbit/s "
            f"p50 {c.get('lat_p50_us') or 0:9.1f} us "
            f"RSS c/s {c.get('rss_peak_kb', 0) / 1024:6.1f}/{s.get('rss_peak_kb', 0) / 1024:6.1f} MiB "
            f"broker CPU {rec['broker_cpu_s']:.2f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default="64,64KiB,1MiB")
    ap.add_argument("--modes", default="sync,async,pingpong")
    ap.add_argument("--python", default=rb.default_python())
    ap.add_argument("--bin-dir", type=Path, default=rb.find_bin_dir())
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--reps", type=int, default=1, help="runs of each configuration (medians)")
    ap.add_argument("--mem-reps", type=int, default=3, help="runs of the 1 MiB x 200 memory run (medians)")
    ap.add_argument("--output", type=Path, default=HERE / "results" / "mqtt-latest.json")
    args = ap.parse_args()
    budget = ({"msgs": 2000, "bytes": 32 * rb.MIB, "pp_msgs": 100, "pp_bytes": 8 * rb.MIB, "pp_min": 20}
              if args.quick else
              {"msgs": 20000, "bytes": 256 * rb.MIB, "pp_msgs": 500, "pp_bytes": 64 * rb.MIB, "pp_min": 50})
    sizes = [rb.parse_size(s) for s in args.sizes.split(",")]
    modes = args.modes.split(",")
    broker = Broker(set())
    print(f"mosquitto pid {broker.p.pid} on 127.0.0.1:{broker.port}", flush=True)
    records = []
    try:
        for rep in range(args.reps):
            for size in sizes:
                for mode in modes:
                    count = rb.count_for(size, mode, budget)
                    for impl in IMPLS:
                        rec = run_pair(impl, size, mode, count, args, broker)
                        print(f"{impl:16} {rb.size_label(size):>6} {mode:8} n={count:<6} {line(rec)}", flush=True)
                        records.append(rec)
        label, msize, mcount = MEMORY
        for rep in range(args.mem_reps):
            for impl in IMPLS:
                rec = run_pair(impl, msize, "sync", mcount, args, broker)
                rec["memory_run"] = label
                print(f"{impl:16} memory {label}: {line(rec)}", flush=True)
                records.append(rec)
    finally:
        broker.stop()
    rows = rb.summarize([r for r in records if "memory_run" not in r])
    idx = {(r["impl"], r["mode"], str(r["size"])): r for r in rows}
    mem_rows = rb.summarize([r for r in records if "memory_run" in r])
    for row in mem_rows:
        row["broker_cpu_s"] = rb.median(r["broker_cpu_s"] for r in records
                                        if "memory_run" in r and "client" in r and r["impl"] == row["impl"])
    mem = {r["impl"]: r for r in mem_rows if r["reps"]}
    print(f"\nmedians ({args.reps} rep(s); memory run {args.mem_reps})")
    for r in rows + mem_rows:
        what = "memory 1MiBx200" if r in mem_rows else f"{rb.size_label(r['size']):>6} {r['mode']:8}"
        print(f"  {r['impl']:16} {what:16} {rb.fmt(r['msgs_per_s']):>10} msg/s {rb.fmt(r['gbit_per_s'], 3):>7} Gbit/s "
              f"p50 {rb.fmt(r['lat_p50_us'], 1):>9} us RSS c/s {rb.fmt((r['rss_client_kb'] or 0) / 1024, 1)}/"
              f"{rb.fmt((r['rss_server_kb'] or 0) / 1024, 1)} MiB"
              + (f" broker CPU {rb.fmt(r['broker_cpu_s'])} s" if r in mem_rows else "")
              + (f" ({r['failed']} failed)" if r["failed"] else ""))
    for ours in IMPLS[:2]:
        print(f"\nratio {ours} / reference-mqtt (msgs/s; pingpong: reference p50 / ours)")
        for size in sizes:
            for mode in modes:
                a, b = idx.get((ours, mode, str(size))), idx.get(("reference-mqtt", mode, str(size)))
                if not a or not b:
                    continue
                if mode == "pingpong" and a.get("lat_p50_us") and b.get("lat_p50_us"):
                    print(f"  {rb.size_label(size):>6} {mode:8} x{b['lat_p50_us'] / a['lat_p50_us']:.2f}")
                elif a.get("msgs_per_s") and b.get("msgs_per_s"):
                    print(f"  {rb.size_label(size):>6} {mode:8} x{a['msgs_per_s'] / b['msgs_per_s']:.2f}")
        if ours in mem and "reference-mqtt" in mem:
            a, b = mem[ours], mem["reference-mqtt"]
            print(f"  memory run {MEMORY[0]}: x{a['msgs_per_s'] / b['msgs_per_s']:.2f} msgs/s")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"records": records, "rows": rows, "memory_rows": mem_rows}, indent=1))
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
