#!/usr/bin/env python3
"""Fault tests of the nq tool, per transport: a server stops within its
bound whatever its clients do, a second signal exits at once, and a client
whose server is not there says why and gives up.

    fault_cli.py --nq build/src/cli/nq --protocol tcp|tls|mqtt|grpc [--certs DIR]

Each scenario starts its own processes (and, for mqtt, its own mosquitto on
a free loopback port) and kills what it started. Exit 0 when every
scenario passed, 1 otherwise; a missing prerequisite (mosquitto) fails.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
SERVER_BOUND_S = 2.0  # nq server with default options exits within this of SIGINT


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what} exited early with {proc.returncode}")
        try:
            socket.create_connection((HOST, port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port}")


class Run:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="nq-fault-")
        self.procs = []
        self.broker_port = None
        if a.protocol == "mqtt":
            self.start_broker()

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                except OSError:
                    pass
                p.kill()
            p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def spawn(self, args, name):
        out = open(os.path.join(self.tmp, name + ".out"), "w+")
        err = open(os.path.join(self.tmp, name + ".err"), "w+")
        p = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        p.out, p.err = out, err
        self.procs.append(p)
        return p

    @staticmethod
    def text(p):
        p.out.flush()
        p.err.flush()
        p.out.seek(0)
        p.err.seek(0)
        return p.out.read(), p.err.read()

    def start_broker(self):
        exe = shutil.which("mosquitto") or next(
            (m for m in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if os.access(m, os.X_OK)), None)
        if exe is None:
            raise AssertionError("mosquitto is not installed (scripts/setup.sh installs it)")
        self.broker_port = free_port()
        conf = os.path.join(self.tmp, "mosquitto.conf")
        with open(conf, "w") as f:
            if os.geteuid() == 0:
                f.write("user root\n")
            self.broker_log = os.path.join(self.tmp, "mosquitto.log")
            f.write(f"log_dest file {self.broker_log}\nlog_type subscribe\n"
                    f"allow_anonymous true\nlistener {self.broker_port} {HOST}\n")
        p = self.spawn([exe, "-c", conf], "mosquitto")
        wait_port(self.broker_port, p, "mosquitto")

    def common(self, port):
        a = self.a
        args = ["--protocol", "grpc" if a.protocol == "grpc" else
                "mqtt" if a.protocol == "mqtt" else "tcp", "--port", str(port)]
        return args

    def server(self, extra=()):
        a = self.a
        port = self.broker_port if a.protocol == "mqtt" else free_port()
        args = [a.nq, "server"] + self.common(port) + list(extra)
        if a.protocol == "tls":
            args += ["--tls", "--key", f"{a.certs}/server.key", "--cert", f"{a.certs}/server.pem"]
        subscribed = self.subscriptions()
        p = self.spawn(args, f"server{len(self.procs)}")
        end = time.monotonic() + 10
        while time.monotonic() < end and "listening on" not in self.text(p)[1]:
            if p.poll() is not None:
                raise AssertionError(f"nq server exited early: {self.text(p)[1]}")
            time.sleep(0.05)
        # MQTT keeps nothing for a subscriber not there yet: wait until the
        # server subscribed before any client publishes
        while a.protocol == "mqtt" and self.subscriptions() == subscribed:
            if time.monotonic() > end:
                raise AssertionError("the MQTT server never subscribed")
            time.sleep(0.02)
        return p, port

    def subscriptions(self):
        if self.broker_port is None:
            return 0
        try:
            with open(self.broker_log, errors="replace") as f:
                return sum(1 for line in f if line.rstrip().endswith(" c2s/+"))
        except FileNotFoundError:
            return 0

    def client(self, port, extra=()):
        a = self.a
        args = [a.nq, "client"] + self.common(port) + list(extra)
        if a.protocol == "tls":
            args += ["--tls", "--ca", f"{a.certs}/ca.pem"]
        return self.spawn(args, f"client{len(self.procs)}")


def wait_line(run, p, needle, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if needle in run.text(p)[0]:
            return
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} never printed; server said: {run.text(p)}")


def silent_client(run, server, port):
    """A client that sent a message (so it has a session) and now stays
    silent: SIGSTOP, so it never sends its fin."""
    c = run.client(port, ["--put", "hello from a silent client", "--get", "1"])
    wait_line(run, server, "hello from a silent client")
    os.kill(c.pid, signal.SIGSTOP)
    return c


def timed_exit(p, timeout):
    t0 = time.monotonic()
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {timeout:.1f} s later")
    return time.monotonic() - t0


def sigint_with_silent_client(run):
    """nq server with default options exits within 2 s of SIGINT while a
    client in session is silent, and names the client it cut."""
    server, port = run.server()
    silent_client(run, server, port)
    os.kill(server.pid, signal.SIGINT)
    took = timed_exit(server, SERVER_BOUND_S + 3)
    err = run.text(server)[1]
    print(f"  exited {server.returncode} {took:.2f} s after SIGINT")
    assert took < SERVER_BOUND_S, f"took {took:.2f} s (bound {SERVER_BOUND_S} s): {err}"
    assert "did not finish" in err, f"the cut client is not named: {err}"


def sigint_with_vanished_client(run):
    """nq server exits within 2 s of SIGINT after a client in session
    vanished without fin (kill -9)."""
    server, port = run.server()
    c = silent_client(run, server, port)
    os.kill(c.pid, signal.SIGKILL)
    time.sleep(0.3)
    os.kill(server.pid, signal.SIGINT)
    took = timed_exit(server, SERVER_BOUND_S + 3)
    print(f"  exited {server.returncode} {took:.2f} s after SIGINT")
    assert took < SERVER_BOUND_S, f"took {took:.2f} s: {run.text(server)[1]}"


def second_signal_exits(run):
    """A second SIGINT/SIGTERM ends a close that would wait a minute."""
    server, port = run.server(["--close-timeout", "60000"])
    silent_client(run, server, port)
    os.kill(server.pid, signal.SIGINT)
    time.sleep(0.3)
    assert server.poll() is None, "closed at once although --close-timeout is 60 s"
    os.kill(server.pid, signal.SIGTERM)
    took = timed_exit(server, 5)
    print(f"  exited {server.returncode} {took:.2f} s after the second signal")
    assert took < 1.0, f"took {took:.2f} s after the second signal"


def sigint_idle(run):
    """With no client at all, SIGINT ends the server cleanly (exit 0)."""
    server, port = run.server()
    os.kill(server.pid, signal.SIGINT)
    took = timed_exit(server, 5)
    assert server.returncode == 0, f"exit {server.returncode}: {run.text(server)[1]}"
    assert took < 1.0, f"took {took:.2f} s"


def client_without_server(run):
    """A client whose server is not there says why and gives up."""
    port = run.broker_port if run.a.protocol == "mqtt" else free_port()
    if run.a.protocol == "mqtt":
        # no broker there: stop ours for this scenario
        port = free_port()
    c = run.client(port, ["--put", "hi", "--connect-timeout", "1000"])
    took = timed_exit(c, 15)
    err = run.text(c)[1]
    print(f"  client exited {c.returncode} after {took:.2f} s")
    assert c.returncode != 0, f"exit 0 without a server: {err}"
    assert took < 10, f"took {took:.2f} s"
    words = ("refused", "unavailable", "failing to connect", "cannot connect", "not reached")
    assert any(w in err.lower() for w in words), f"no cause given: {err}"


def client_without_server_on_broker(run):
    """MQTT: the broker is up but no server serves it: the client still
    gives up after its connect timeout and says the server never answered."""
    if run.a.protocol != "mqtt":
        print("  (MQTT only: the other transports have no broker between)")
        return
    c = run.client(run.broker_port, ["--put", "hi", "--connect-timeout", "1000"])
    took = timed_exit(c, 15)
    err = run.text(c)[1]
    print(f"  client exited {c.returncode} after {took:.2f} s")
    assert c.returncode != 0, f"exit 0 without a server: {err}"
    assert took < 10, f"took {took:.2f} s"
    assert "never answered" in err, f"no cause given: {err}"


SCENARIOS = [sigint_idle, sigint_with_silent_client, sigint_with_vanished_client,
             second_signal_exits, client_without_server, client_without_server_on_broker]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nq", required=True)
    ap.add_argument("--protocol", choices=["tcp", "tls", "mqtt", "grpc"], required=True)
    ap.add_argument("--certs", default="")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    if a.protocol == "tls" and not os.path.exists(os.path.join(a.certs, "server.pem")):
        print(f"FAIL: test certificates missing in {a.certs!r}")
        return 1
    failed = 0
    for sc in SCENARIOS:
        if a.only and sc.__name__ != a.only:
            continue
        print(f"{a.protocol}: {sc.__name__}: {sc.__doc__.split(chr(10))[0]}")
        run = Run(a)
        try:
            sc(run)
            print("  ok")
        except AssertionError as e:
            failed += 1
            print(f"  FAIL: {e}")
            for p in run.procs:
                out, err = run.text(p)
                print(f"  --- {p.args[:2]} stderr:\n{err[-3000:]}")
        finally:
            run.close()
    print(f"{a.protocol}: {len(SCENARIOS) - failed if not a.only else 1 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
