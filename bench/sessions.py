#!/usr/bin/env python3
"""Many sessions on one netqueue TCP server (issue 16 item 3; docs/scaling.md).

One server process (sessions_server: netqueue, public ABI) and client
processes (sessions_fleet: a raw-socket load generator that speaks the wire
protocol, not netqueue), each under the descriptor limit, connecting from
many 127.0.0.0/8 source addresses. Per run (one N, one workers value):

  established  all N sessions up (idle); accept rate = N / (the server's
               live-peer count first >= 1 .. reached N: ini to ini)
  RSS/session  (server RSS with N idle sessions - RSS before any) / N
  idle CPU     server CPU seconds over --idle seconds with N idle sessions
  broadcast    one --size B message to all: the server's put to the last
               delivery at any client (CLOCK_MONOTONIC, one clock)
  targeted     --target-msgs messages to each of every --target-every-th
               peer (10 %), one put per message: messages / (first put to
               the last delivery)
  close        the server's nq_comm_close, while all clients are connected:
               the clients are told to send their fin as soon as the server
               says it is closing; until close returned
  peak RSS     the server's VmHWM at the end

Only the standard library. Run under flock /tmp/nq-bench.lock.
--check makes it a test (tests/integration/scale.cmake): every session
established, the broadcast reaching each client exactly once, targeted
messages reaching only their targets, close OK with every client getting
the server's fin, RSS per session under --max-rss-per-session.
"""
import argparse
import json
import math
import os
import random
import resource
import select
import subprocess
import sys
import time

PER_PROC = 9500  # fleet connections per process: under a 20,000 fd limit


class Proc:
    """A child speaking one-line commands and answers."""

    def __init__(self, argv, name, env=None):
        self.name = name
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1, env=env)

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def read(self, timeout):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not r:
            raise RuntimeError(f"{self.name}: no answer within {timeout} s")
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name}: exited ({self.p.wait()})")
        return line.split()

    def ask(self, line, timeout=30):
        self.send(line)
        return self.read(timeout)

    def stop(self):
        """Ask it to quit; its exit status (a sanitizer's report makes it non-zero)."""
        if self.p.poll() is None:
            try:
                self.send("quit")
                self.p.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired, BrokenPipeError):
                self.p.kill()
                self.p.wait()
        return self.p.returncode


def need_fds(n):
    """The server holds n sockets, each fleet up to PER_PROC: raise the soft
    descriptor limit to the hard one (children inherit it), or stop saying
    what is missing (raising the hard limit needs CAP_SYS_RESOURCE)."""
    want = n + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        sys.exit(f"sessions.py: {n} sessions need {want} descriptors in the server process; "
                 f"the hard RLIMIT_NOFILE is {hard} (ulimit -Hn; raising it needs root)")
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def kernel_kb():
    """System-wide slab memory (KiB) and TCP socket buffer pages: the
    kernel's side of the sessions, which no process's RSS shows. Noisy
    (every process on the machine), so only a rough figure per socket."""
    slab = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                slab = int(line.split()[1])
    tcp_pages = 0
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                w = line.split()
                tcp_pages = int(w[w.index("mem") + 1])
    return slab, tcp_pages


def keepalive_probes():
    """Keepalive probes the kernel sent (TcpExt TCPKeepAlive, whole machine)."""
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return int(values.split()[names.split().index("TCPKeepAlive")])
    return 0


def fleet_reports(fleets):
    tot = {}
    for f in fleets:
        words = f.ask("report")
        if words[0] != "report":
            raise RuntimeError(f"{f.name}: {' '.join(words)}")
        for w in words[1:]:
            k, v = w.split("=")
            v = int(v)
            if k.endswith("_ns"):
                if k == "first_connect_ns":
                    tot[k] = min(tot.get(k, v), v)
                else:
                    tot[k] = max(tot.get(k, 0), v)
            else:
                tot[k] = tot.get(k, 0) + v
    return tot


def poll_fleets(fleets, key, want, timeout):
    deadline = time.monotonic() + timeout
    while True:
        t = fleet_reports(fleets)
        if t[key] >= want or time.monotonic() > deadline:
            return t
        time.sleep(0.02)


def run_one(a, n, workers):
    env = dict(os.environ)
    if a.lib:  # another libnetqueue (an earlier build) under the same server program
        env["LD_LIBRARY_PATH"] = a.lib
    server = Proc([os.path.join(a.bin, "sessions_server"), "--workers", str(workers)],
                  "server", env)
    fleets, perf = [], None
    res = {"sessions": n, "workers": workers}
    try:
        words = server.read(30)
        port, rss0 = int(words[1]), int(words[2])
        def perf_on(phase):
            nonlocal perf
            if a.perf and a.perf_phase == phase:
                perf = subprocess.Popen(["perf", "record", "-g", "-o", a.perf, "-p", str(server.p.pid)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.5)

        def perf_off(phase):
            nonlocal perf
            if perf and a.perf_phase == phase:
                perf.send_signal(2)
                perf.wait()
                perf = None

        perf_on("accept")
        # the server polls from before the first connect: its first sighting is the first ini
        slab0, tcpmem0 = kernel_kb()
        server.send(f"wait {n} {a.timeout}")
        procs = max(1, math.ceil(n / PER_PROC))
        octet = random.randint(1, 254)  # fresh source addresses: no TIME_WAIT of an earlier run
        for i in range(procs):
            cnt = n // procs + (1 if i < n % procs else 0)
            fleets.append(Proc([os.path.join(a.bin, "sessions_fleet"), "--port", str(port),
                                "--count", str(cnt), "--fleet", str(i), "--src", f"127.{octet}.{i * 16}.0",
                                "--per-addr", str(a.per_addr), "--inflight", str(a.inflight)],
                               f"fleet{i}"))
        words = server.read(a.timeout + 10)
        est, first, last, rss1 = int(words[1]), int(words[2]), int(words[3]), int(words[4])
        cli = poll_fleets(fleets, "established", n, 10)
        perf_off("accept")
        slab1, tcpmem1 = kernel_kb()
        # both ends of every connection are on this machine: 2n sockets
        res.update(kernel_slab_per_socket_b=(slab1 - slab0) * 1024 / (2 * n),
                   kernel_tcp_buf_pages=tcpmem1 - tcpmem0)
        res.update(established=est, clients_established=cli["established"],
                   connect_errors=cli["connect_errors"],
                   accept_s=(last - first) / 1e9 if last else None,
                   accept_rate=n / ((last - first) / 1e9) if last > first else None,
                   rss_base_kb=rss0, rss_idle_kb=rss1,
                   rss_per_session_b=(rss1 - rss0) * 1024 / n)
        if est < n or cli["established"] < n:
            res["error"] = f"only {est} (server) / {cli['established']} (clients) of {n} established"
            return res
        perf_on("idle")
        ka0 = keepalive_probes()
        res["idle_cpu_s"] = float(server.ask(f"idle {a.idle}", a.idle + 30)[1])
        res["idle_s"] = a.idle
        # per-socket timers live in the kernel: TCP keepalive (a third of the
        # keepalive timeout of silence, 10 s by default) probes each idle link
        res["idle_keepalive_probes"] = keepalive_probes() - ka0
        perf_off("idle")
        perf_on("bcast")

        words = server.ask(f"bcast {a.size}", 60)
        t0 = int(words[1])
        cli = poll_fleets(fleets, "bcast", n, 60)
        res.update(bcast_delivered=cli["bcast"], bcast_dup=cli["bcast_dup"],
                   bcast_written_s=(int(words[2]) - t0) / 1e9,
                   bcast_s=(cli["bcast_last_ns"] - t0) / 1e9 if cli["bcast"] else None)
        perf_off("bcast")
        perf_on("target")

        words = server.ask(f"target {a.target_every} {a.target_msgs} {a.size}", 120)
        t0, peers, tputs = int(words[1]), int(words[2]), int(words[3])
        want = peers * a.target_msgs
        cli = poll_fleets(fleets, "tgt", want, 120)
        span = (cli["tgt_last_ns"] - t0) / 1e9 if cli["tgt"] else None
        res.update(target_peers=peers, target_msgs=want, target_delivered=cli["tgt"],
                   target_wrong=cli["wrong"], target_puts_s=(tputs - t0) / 1e9, target_s=span,
                   target_rate=cli["tgt"] / span if span else None)
        perf_off("target")
        res["rss_traffic_kb"] = int(server.ask("rss")[1])
        perf_on("churn")
        churn = []
        for r in range(1, a.churn + 1):
            # every client resets its link and comes back under a new id: the
            # old sessions linger (past the cap the oldest are dropped)
            server.send(f"settle {n} {r * n} {a.timeout}")
            drops = [f.ask("drop", 60) for f in fleets]
            words = server.read(a.timeout + 10)
            t0 = min(int(w[1]) for w in drops)
            churn.append({"live": int(words[1]), "lost": int(words[2]), "lingering": int(words[3]),
                          "expired": int(words[4]), "settle_s": (int(words[5]) - t0) / 1e9})
            if int(words[1]) < n or int(words[2]) < r * n:
                res["error"] = f"churn round {r}: {words[1]} live, {words[2]} lost of {r * n}"
        if churn:
            res["churn"] = churn
        perf_off("churn")
        perf_on("close")

        words = server.ask(f"close {a.close_timeout}", 10)
        if words[0] != "closing":
            raise RuntimeError("server: " + " ".join(words))
        tc0 = int(words[1])
        fins = [f.ask("fin", 60) for f in fleets]
        words = server.read(a.close_timeout / 1000 + 60)
        res.update(close_status=int(words[1]), close_s=(int(words[3]) - int(words[2])) / 1e9,
                   peak_rss_kb=int(words[4]))
        perf_off("close")
        cli = poll_fleets(fleets, "closed", n, 30)
        # when the clients sent their fins and saw their last close, from close's start
        res.update(fin_from_s=(min(int(w[2]) for w in fins) - tc0) / 1e9,
                   fin_until_s=(max(int(w[3]) for w in fins) - tc0) / 1e9,
                   last_client_closed_s=(cli["last_close_ns"] - tc0) / 1e9)
        res.update(clients_fin_rx=cli["fin_rx"], clients_closed=cli["closed"],
                   clients_cut=cli["unexpected_close"], bad_frames=cli["bad_frames"])
        return res
    finally:
        if perf:
            perf.send_signal(2)
            perf.wait()
        for f in fleets:
            f.stop()
        res["server_exit"] = server.stop()


def check(a, r):
    n = r["sessions"]
    problems = []
    def want(cond, what):
        if not cond:
            problems.append(what)
    want(r.get("established") == n and r.get("clients_established") == n,
         f"established {r.get('established')} (server) / {r.get('clients_established')} (clients) of {n}")
    want(r.get("bcast_delivered") == n and r.get("bcast_dup") == 0,
         f"broadcast delivered {r.get('bcast_delivered')} of {n}, {r.get('bcast_dup')} twice")
    want(r.get("target_delivered") == r.get("target_msgs") and r.get("target_wrong") == 0,
         f"targeted delivered {r.get('target_delivered')} of {r.get('target_msgs')}, "
         f"{r.get('target_wrong')} to the wrong client")
    want("error" not in r, r.get("error"))
    want(r.get("server_exit") == 0, f"the server exited with status {r.get('server_exit')}")
    for i, c in enumerate(r.get("churn", []), 1):
        # under the cap (65,536, split over the workers) every lost session lingers
        want(c["live"] == n and c["lost"] == i * n and (i * n > 30000 or c["lingering"] == i * n),
             f"churn round {i}: {c['live']} live, {c['lost']} links lost, {c['lingering']} lingering")
    want(r.get("close_status") == 0, f"close returned status {r.get('close_status')}")
    want(r.get("clients_fin_rx") == n and r.get("clients_closed") == n,
         f"{r.get('clients_fin_rx')} clients got the server's fin, {r.get('clients_closed')} closed cleanly, of {n}")
    want(r.get("bad_frames") == 0, f"{r.get('bad_frames')} frames the clients did not expect")
    rps = r.get("rss_per_session_b")
    want(rps is not None and rps <= a.max_rss_per_session,
         f"RSS per session {rps} B over the bound of {a.max_rss_per_session} B")
    return problems


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", help="where sessions_server and sessions_fleet are "
                    "(default: build/tests/integration, or build/bench in a build without tests)")
    ap.add_argument("--sessions", default="19000", help="comma-separated N (one run each)")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measurement")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--target-every", type=int, default=10, help="every K-th peer gets targeted traffic")
    ap.add_argument("--target-msgs", type=int, default=100, help="messages to each targeted peer")
    ap.add_argument("--close-timeout", type=int, default=60000, help="ms")
    ap.add_argument("--churn", type=int, default=0,
                    help="rounds of every client resetting its link and coming back under a new id "
                    "(lingering sessions; past 65,536 the oldest are dropped)")
    ap.add_argument("--timeout", type=int, default=120, help="seconds to establish all sessions")
    ap.add_argument("--per-addr", type=int, default=1000, help="connections per source address")
    ap.add_argument("--inflight", type=int, default=0, help="connects in flight per fleet (0: no bound)")
    ap.add_argument("--lib", help="run the server on the libnetqueue in this directory (LD_LIBRARY_PATH)")
    ap.add_argument("--perf", help="perf record -g the server into this file (one phase: --perf-phase)")
    ap.add_argument("--perf-phase", default="close", choices=["accept", "idle", "bcast", "target", "churn", "close"])
    ap.add_argument("--check", action="store_true", help="a test: fail unless every check passes")
    ap.add_argument("--max-rss-per-session", type=float, default=4096)
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()

    if not a.bin:
        build = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build")
        a.bin = next((d for d in (os.path.join(build, "tests", "integration"), os.path.join(build, "bench"))
                      if os.path.exists(os.path.join(d, "sessions_server"))), os.path.join(build, "bench"))
    for exe in ("sessions_server", "sessions_fleet"):
        if not os.access(os.path.join(a.bin, exe), os.X_OK):
            sys.exit(f"sessions.py: {a.bin}/{exe} is missing (ninja -C build {exe})")
    need_fds(max(int(x) for x in a.sessions.split(",")))
    results, failed = [], []
    for n in [int(x) for x in a.sessions.split(",")]:
        for w in [int(x) for x in a.workers.split(",")]:
            for _ in range(a.reps):
                r = run_one(a, n, w)
                results.append(r)
                print(json.dumps(r), flush=True)
                if a.check:
                    failed += [f"N={n} workers={w}: {p}" for p in check(a, r)]
                elif "error" in r:
                    failed.append(r["error"])
    print()
    print("| N | workers | accept/s | RSS/session B | idle CPU s/10 s | bcast 64 B s | targeted msg/s | close s | peak RSS MiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        idle = r["idle_cpu_s"] * 10 / r["idle_s"] if r.get("idle_cpu_s") is not None else None
        print(f"| {r['sessions']:,} | {r['workers']} | {fmt(r.get('accept_rate'), ',.0f')} | "
              f"{fmt(r.get('rss_per_session_b'), ',.0f')} | {fmt(idle, '.3f')} | {fmt(r.get('bcast_s'), '.4f')} | "
              f"{fmt(r.get('target_rate'), ',.0f')} | {fmt(r.get('close_s'), '.3f')} | "
              f"{fmt(r['peak_rss_kb'] / 1024 if r.get('peak_rss_kb') else None, '.1f')} |")
    if a.reps > 1:
        print(f"\nmedians of {a.reps}:")
        print("| N | workers | accept/s | RSS/session B | kernel slab/socket B | idle CPU s/10 s | bcast 64 B s | "
              "targeted msg/s | close s | peak RSS MiB |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for key in dict.fromkeys((r["sessions"], r["workers"]) for r in results):
            rs = [r for r in results if (r["sessions"], r["workers"]) == key]
            def med(k, f=lambda v: v):
                vs = sorted(f(r[k]) for r in rs if r.get(k) is not None)
                return vs[len(vs) // 2] if vs else None
            idle = med("idle_cpu_s", lambda v: v * 10 / a.idle)
            peak = med("peak_rss_kb")
            print(f"| {key[0]:,} | {key[1]} | {fmt(med('accept_rate'), ',.0f')} | "
                  f"{fmt(med('rss_per_session_b'), ',.0f')} | {fmt(med('kernel_slab_per_socket_b'), ',.0f')} | "
                  f"{fmt(idle, '.4f')} | {fmt(med('bcast_s'), '.4f')} | {fmt(med('target_rate'), ',.0f')} | "
                  f"{fmt(med('close_s'), '.3f')} | {fmt(peak / 1024 if peak else None, '.1f')} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    if failed:
        print("FAILED:\n  " + "\n  ".join(failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
