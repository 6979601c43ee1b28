#!/usr/bin/env python3
"""Runs one interop case between the `nq` tool and the Python reference.

    run_interop.py --nq PATH --certs DIR PAIR CASE [--tls] [--codec C] [--legacy]

PAIR: cclient-pyserver, pyclient-cserver, cclient-cserver (C x C, the only
pairing for --legacy: PyPI has no net-queue 0.1.x).
CASE: order (several messages), sizes (empty, 1 and 16 bytes), big (1 MiB
then a small one), huge (17 MiB, over both sides' 16 MiB transport size, so
split into several pieces/publishes, then a small one), values (Python values of every picklable kind, pickle
only), readme (the reference README's example against our tool).

Every case checks what each side printed it received, in content and in
order, and that each side names the other by its id. Exit 0: passed,
1: failed. Peers run on 127.0.0.1 only, on a free port, and are killed at
the end whatever happens. Stdlib only, so the pairing without the reference
runs on any Python 3; the reference peers run with this same interpreter.

--protocol mqtt: the driver starts its own mosquitto on a free loopback port
(generated config in the temporary folder; with --tls a TLS listener with
the certificates of --certs) and both peers are clients of it.
"""
import argparse
import hashlib
import json
import os
import pickle
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"
WAIT = 40  # seconds any one peer may take
MIB = 1 << 20
RACE = 75  # ref_peer.py: the reference's client constructor raced itself


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


# -- messages ---------------------------------------------------------------

def pattern(n):
    """Printable, position-dependent bytes: a shifted or cut message shows."""
    alphabet = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = bytearray()
    i = 0
    while len(out) < n:
        out += b"%08d:" % i + alphabet
        i += 1
    return bytes(out[:n])


# Each message is (kind, value): kind "text" goes as --put TEXT (a str
# under pickle), "bytes" as a file (bytes under pickle).
CASES = {
    "order": [("text", f"message {i} of 6") for i in range(1, 7)],
    "sizes": [("text", ""), ("bytes", b"\x00"), ("bytes", bytes(range(16))),
              ("text", "sixteen bytes ok"), ("text", "after the small ones")],
    "big": [("bytes", pattern(MIB)), ("text", "after the big one")],
    "huge": [("bytes", pattern(17 * MIB)), ("text", "after the huge one")],
}

# Sent by the Python client only (the tool can only send str and bytes).
VALUES = [0, 1, -1, 255, 65536, -2**31, 2**63, -2**100, 1.5, -0.0, 1e300, 1e-7,
          0.1, None, True, False, "é ü ✓", "it's", 'say "hi"', "tab\tnew\nline",
          b"\x00\xff'", bytearray(b"ab"), [1, "a", [2.5]], (1,), (), (1, 2),
          {"k": [1, 2], 3: None}, {}]


def payload(kind, value, codec):
    if codec == "pickle":
        return pickle.dumps(value, protocol=5)
    return value.encode() if kind == "text" else value


def printable(b):
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f for c in s):
        return None
    return s


def nq_line(peer, kind, value, codec):
    """The line `nq` prints for a message, as its --help documents it."""
    data = payload(kind, value, codec)
    line = f"{peer} {len(data)}"
    if codec == "pickle":
        return f"{line} {value!r}"
    if not data:
        return line
    text = printable(data)
    return f"{line} {text if text is not None else '0x' + data.hex()}"


def ref_expect(kind, value, codec):
    """What ref_peer.py describes for a message: its type and its bytes."""
    if codec == "raw":
        return "bytes", payload(kind, value, codec)
    if kind == "text":
        return "str", value.encode()
    return type(value).__name__, bytes(value)


# -- processes --------------------------------------------------------------

class Peer:
    """A child process with stdout/stderr in files (no pipe can fill up)."""

    def __init__(self, name, argv, tmp):
        self.name = name
        self.argv = argv
        self.out_path = os.path.join(tmp, name + ".out")
        self.err_path = os.path.join(tmp, name + ".err")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    def out(self):
        with open(self.out_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def err(self):
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_for(self, regex, where, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(regex, where())
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        m = re.search(regex, where())
        if m:
            return m
        raise Failure(f"{self.name}: never printed /{regex}/")

    def finish(self, timeout=WAIT):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure(f"{self.name}: still running after {timeout} s")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def report(self):
        def cut(s):
            return s if len(s) < 4000 else s[:2000] + "\n[...]\n" + s[-2000:]
        return (f"--- {self.name}: {' '.join(self.argv)}\n"
                f"exit: {self.proc.poll()}\n--- stdout\n{cut(self.out())}"
                f"--- stderr\n{cut(self.err())}")


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


MOSQUITTO = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"]


class Broker:
    """A private mosquitto (--protocol mqtt): free loopback port, plain or
    TLS listener, subscriptions logged so that the driver can wait until a
    server subscribed (MQTT keeps nothing for a subscriber not there yet)."""

    def __init__(self, run, tls):
        exe = next((m for m in MOSQUITTO if os.access(m, os.X_OK)), None)
        if exe is None:
            print("MISSING PREREQUISITE: mosquitto is not installed\n"
                  "  provide it with: apt-get install mosquitto (./scripts/setup.sh installs it)",
                  file=sys.stderr)
            sys.exit(1)
        self.port = free_port()
        self.log = os.path.join(run.tmp, "mosquitto.log")
        conf = os.path.join(run.tmp, "mosquitto.conf")
        with open(conf, "w") as f:
            if os.geteuid() == 0:
                f.write("user root\n")  # its own user could not read our folder
            f.write(f"log_dest file {self.log}\nlog_type all\nallow_anonymous true\n"
                    f"listener {self.port} {HOST}\n")
            if tls:
                c = run.a.certs
                f.write(f"cafile {c}/ca.pem\ncertfile {c}/server.pem\nkeyfile {c}/server.key\n")
        self.peer = run.start("mosquitto", [exe, "-c", conf])
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, self.port), 1).close()
                return
            except OSError:
                if self.peer.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise Failure("mosquitto did not start listening")

    def subscriptions(self, topic):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return sum(1 for line in f if line.rstrip().endswith(" " + topic))
        except FileNotFoundError:
            return 0

    def wait_subscribed(self, topic, before, who):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.subscriptions(topic) > before:
                return
            if who.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise Failure(f"{who.name} never subscribed to {topic}")


class Run:
    def __init__(self, args, tmp):
        self.a = args
        self.tmp = tmp
        self.peers = []
        self.files = 0
        self.broker = None  # --protocol mqtt: main() starts one

    def start(self, name, argv):
        p = Peer(name, argv, self.tmp)
        self.peers.append(p)
        return p

    def start_ref_client(self, argv):
        """A reference client, started again when it reports the race in
        the reference's own constructor (ref_peer.py exit 75)."""
        for attempt in range(3):
            client = self.start("ref-client", argv)
            if client.finish() != RACE:
                return client
            print(f"note: reference client constructor race, attempt {attempt + 1}; again")
            self.peers.remove(client)
        return client

    def file(self, data):
        self.files += 1
        path = os.path.join(self.tmp, f"msg{self.files}.bin")
        with open(path, "wb") as f:
            f.write(data)
        return path

    # Command lines ----------------------------------------------------------

    def nq(self, role, port, msgs=(), get=0, echo=False, count=0, ident=None, reply=None):
        a = self.a
        argv = [a.nq, role, "--host", HOST, "--port", str(port), "--codec", a.codec,
                "--timeout", str(WAIT * 1000)]
        if a.protocol != "tcp":
            argv += ["--protocol", a.protocol]
        if a.legacy:
            argv.append("--legacy")
        if a.workers and role == "server":
            argv += ["--workers", str(a.workers)]
        if a.tls:
            certs = a.certs
            argv += (["--tls", "--key", f"{certs}/server.key", "--cert", f"{certs}/server.pem"]
                     if role == "server" else ["--tls", "--ca", f"{certs}/ca.pem"])
            if role == "server" and a.protocol == "mqtt":
                argv += ["--ca", f"{certs}/ca.pem"]  # a broker client: verifies the broker
        if ident:
            argv += ["--id", ident]
        for kind, value in msgs:
            argv += ["--put", value] if kind == "text" else ["--put-file", self.file(value)]
        if get:
            argv += ["--get", str(get)]
        if echo:
            argv.append("--echo")
        if count:
            argv += ["--count", str(count)]
        if reply is not None:
            argv += ["--reply", reply]
        return argv

    def ref(self, role, port, msgs=(), get=0, echo=False, ident=None, values=False):
        a = self.a
        argv = [sys.executable, os.path.join(HERE, "ref_peer.py"), role, "--host", HOST,
                "--port", str(port), "--codec", a.codec, "--timeout", str(WAIT)]
        if a.protocol != "tcp":
            argv += ["--protocol", a.protocol]
        if a.tls:
            certs = a.certs
            argv += (["--tls", "--key", f"{certs}/server.key", "--cert", f"{certs}/server.pem"]
                     if role == "server" and a.protocol != "mqtt"
                     else ["--tls", "--ca", f"{certs}/ca.pem"])
        if ident:
            argv += ["--id", ident]
        for kind, value in msgs:
            if values:
                argv += ["--put", "py:" + repr(value)]
            elif kind == "text":
                argv += ["--put", "text:" + value]
            else:
                argv += ["--put", "file:" + self.file(value)]
        if get:
            argv += ["--get", str(get)]
        if echo:
            argv.append("--echo")
        return argv

    def start_nq_server(self, **kw):
        if self.broker:
            before = self.broker.subscriptions("c2s/+")
            server = self.start("nq-server", self.nq("server", self.broker.port, **kw))
            server.wait_for(r"listening on", server.err)
            self.broker.wait_subscribed("c2s/+", before, server)
            return server, self.broker.port
        server = self.start("nq-server", self.nq("server", 0, **kw))
        m = server.wait_for(r"listening on [^ ]+:(\d+)", server.err)
        return server, int(m.group(1))

    def start_ref_server(self, **kw):
        port = self.broker.port if self.broker else free_port()
        before = self.broker.subscriptions("c2s/+") if self.broker else 0
        server = self.start("ref-server", self.ref("server", port, **kw))
        server.wait_for(r'"event": "(ready|error)"', server.out)
        check('"ready"' in server.out(), "reference server did not start")
        if self.broker:
            self.broker.wait_subscribed("c2s/+", before, server)
        return server, port

    # Checks -------------------------------------------------------------------

    def check_nq_lines(self, peer, who, msgs, sender):
        lines = peer.out().splitlines()
        want = [nq_line(sender, k, v, self.a.codec) for k, v in msgs]
        check(len(lines) == len(want),
              f"{who} printed {len(lines)} messages, expected {len(want)}")
        for i, (got, exp) in enumerate(zip(lines, want)):
            check(got == exp, f"{who}: message {i + 1} differs:\n  got      {got[:300]!r}\n"
                              f"  expected {exp[:300]!r}")

    def check_ref_events(self, peer, who, msgs, sender, values=False):
        events = [json.loads(line) for line in peer.out().splitlines() if line.startswith("{")]
        errors = [e for e in events if e["event"] == "error"]
        check(not errors, f"{who}: {errors}")
        got = [e for e in events if e["event"] == "got"]
        check(len(got) == len(msgs), f"{who} got {len(got)} messages, expected {len(msgs)}")
        for i, (e, (kind, value)) in enumerate(zip(got, msgs)):
            where = f"{who}: message {i + 1}"
            check(e["peer"] == sender, f"{where}: from {e['peer']}, expected {sender}")
            if values:
                check(e.get("repr") == repr(value), f"{where}: {e.get('repr')} != {value!r}")
                continue
            typ, data = ref_expect(kind, value, self.a.codec)
            check(e["type"] == typ, f"{where}: type {e['type']}, expected {typ}")
            check(e["len"] == len(data), f"{where}: {e['len']} bytes, expected {len(data)}")
            check(e["sha256"] == hashlib.sha256(data).hexdigest(), f"{where}: content differs")
        check(any(e["event"] == "closed" for e in events), f"{who} did not close cleanly")

    def ready_id(self, peer):
        m = peer.wait_for(r'"event": "ready", "id": "([0-9a-f]{32})"', peer.out)
        return m.group(1)

    def check_exit(self, peer, code=0):
        rc = peer.finish()
        check(rc == code, f"{peer.name} exited {rc}, expected {code}")


# -- cases --------------------------------------------------------------------

def case_messages(run, pair, msgs, values=False):
    """One session: the client puts msgs, the server echoes each back, the
    client gets them all; both sides' prints are compared."""
    n = len(msgs)
    c_id = uuid.uuid4().hex
    if pair == "cclient-pyserver":
        server, port = run.start_ref_server(get=n, echo=True)
        s_id = run.ready_id(server)
        client = run.start("nq-client", run.nq("client", port, msgs=msgs, get=n, ident=c_id))
        run.check_exit(client)
        run.check_exit(server)
        run.check_ref_events(server, "reference server", msgs, c_id)
        run.check_nq_lines(client, "nq client", msgs, s_id)
    elif pair == "pyclient-cserver":
        s_id = uuid.uuid4().hex
        server, port = run.start_nq_server(echo=True, count=n, ident=s_id)
        client = run.start_ref_client(run.ref("client", port, msgs=msgs, get=n, ident=c_id,
                                              values=values))
        run.check_exit(client)
        run.check_exit(server)
        run.check_nq_lines(server, "nq server", msgs, c_id)
        run.check_ref_events(client, "reference client", msgs, s_id, values=values)
    else:
        s_id = uuid.uuid4().hex
        server, port = run.start_nq_server(echo=True, count=n, ident=s_id)
        client = run.start("nq-client", run.nq("client", port, msgs=msgs, get=n, ident=c_id))
        run.check_exit(client)
        run.check_exit(server)
        run.check_nq_lines(server, "nq server", msgs, c_id)
        run.check_nq_lines(client, "nq client", msgs, s_id)


def case_readme(run, pair):
    """The README example as published (default pickle), against our tool."""
    hello_server = ("text", "Hello, Server!")
    hello_client = ("text", "Hello, Client!")
    if pair == "pyclient-cserver":
        s_id = uuid.uuid4().hex
        server, port = run.start_nq_server(count=1, ident=s_id, reply="Hello, Client!")
        client = run.start("readme-client", [sys.executable, os.path.join(HERE, "readme_client.py"),
                                             HOST, str(port)])
        run.check_exit(client)
        run.check_exit(server)
        lines = server.out().splitlines()
        check(len(lines) == 1 and re.fullmatch(r"[0-9a-f]{32} 29 'Hello, Server!'", lines[0]),
              f"nq server printed {lines!r}")
        check(client.out() == "'Hello, Client!'\n", f"README client got {client.out()!r}")
    else:
        port = free_port()
        server = run.start("readme-server", [sys.executable, os.path.join(HERE, "readme_server.py"),
                                             HOST, str(port)])
        c_id = uuid.uuid4().hex
        client = run.start("nq-client", run.nq("client", port, msgs=[hello_server], get=1,
                                               ident=c_id))
        run.check_exit(client)
        run.check_exit(server)
        check(server.out() == "'Hello, Server!'\n", f"README server got {server.out()!r}")
        lines = client.out().splitlines()
        want = nq_line("X" * 32, *hello_client, "pickle")[32:]
        check(len(lines) == 1 and lines[0].endswith(want) and len(lines[0]) == 32 + len(want),
              f"nq client printed {lines!r}, expected <server id>{want}")


def main():
    p = argparse.ArgumentParser(description="one nq x reference interop case")
    p.add_argument("--nq", required=True, help="the nq executable")
    p.add_argument("--certs", help="test certificate directory (for --tls)")
    p.add_argument("pair", choices=["cclient-pyserver", "pyclient-cserver", "cclient-cserver"])
    p.add_argument("case", choices=sorted(CASES) + ["values", "readme"])
    p.add_argument("--tls", action="store_true")
    p.add_argument("--codec", choices=["raw", "pickle"], default="raw")
    p.add_argument("--legacy", action="store_true")
    p.add_argument("--protocol", choices=["tcp", "grpc", "mqtt"], default="tcp")
    p.add_argument("--workers", type=int, default=0, help="nq server --workers N")
    a = p.parse_args()
    if a.case == "readme":
        a.codec = "pickle"
    if a.case == "values" and (a.codec != "pickle" or a.pair != "pyclient-cserver"):
        p.error("values: pickle codec, pyclient-cserver only")
    if a.legacy and a.pair != "cclient-cserver":
        p.error("--legacy: cclient-cserver only (no 0.1.x reference on PyPI)")
    if a.tls and not a.certs:
        p.error("--tls needs --certs")

    with tempfile.TemporaryDirectory(prefix="nq-interop-") as tmp:
        run = Run(a, tmp)
        try:
            if a.protocol == "mqtt":
                run.broker = Broker(run, a.tls)
            if a.case == "readme":
                case_readme(run, a.pair)
            elif a.case == "values":
                case_messages(run, a.pair, [("value", v) for v in VALUES], values=True)
            else:
                msgs = CASES[a.case]
                if a.legacy:
                    # Legacy fin is an empty frame: an empty message would end the session.
                    msgs = [(k, v) for k, v in msgs if len(v)]
                case_messages(run, a.pair, msgs)
        except Failure as e:
            for peer in run.peers:
                peer.kill()
            print("FAILED:", e)
            for peer in run.peers:
                print(peer.report())
            if run.broker:
                with open(run.broker.log, encoding="utf-8", errors="replace") as f:
                    log = f.read()
                print("--- mosquitto log (end)\n" + log[-6000:])
            return 1
        finally:
            for peer in run.peers:
                peer.kill()
    print(f"passed: {a.pair} {a.case} {a.protocol} codec={a.codec}{' tls' if a.tls else ''}"
          f"{' legacy' if a.legacy else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
