"""mini as a conformance adapter (docs/conformance.md, "Writing an
adapter"): one communicator, JSON lines on stdin and stdout."""
import argparse
import base64
import json
import os
import sys
import threading

from . import mutants as M
from .comm import Comm

ADAPTER_PROTOCOL = "1.0"
UNSUPPORTED = 127


class Refuse(argparse.ArgumentParser):
    def error(self, message):  # an option we do not know: unsupported (127)
        print(f"mini: {message}", file=sys.stderr)
        sys.exit(UNSUPPORTED)


def parse(argv):
    p = Refuse(prog="mini")
    p.add_argument("--role", choices=("server", "client"), required=True)
    p.add_argument("--transport", choices=("tcp", "tls", "mqtt", "grpc"), required=True)
    p.add_argument("--dialect", choices=("current", "legacy"), default="current")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=51966)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--ca")
    p.add_argument("--server-name")
    p.add_argument("--mutant", default=os.environ.get("NQ_MINI_MUTANT") or None,
                   help="switch on one bug (mutants.py)")
    return p.parse_args(argv)


def make_transport(comm, a):
    if a.transport in ("tcp", "tls"):
        from . import tcp as mod
    elif a.transport == "mqtt":
        from . import mqtt as mod
    else:
        from . import grpc_ as mod
    return (mod.Server if a.role == "server" else mod.Client)(comm, a)


class Adapter:
    def __init__(self, a):
        self.out_lock = threading.Lock()
        self.comm = Comm(a.role, a.dialect == "legacy", self.emit)
        self.comm.transport = make_transport(self.comm, a)

    def emit(self, ev):
        line = json.dumps(ev) + "\n"
        with self.out_lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    def run(self):
        self.comm.transport.start()
        self.emit({"event": "ready", "id": self.comm.id.hex(), "port": self.comm.transport.port,
                   "adapter_protocol": ADAPTER_PROTOCOL})
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                cmd = json.loads(line)
            except ValueError:
                cmd = None
            if not isinstance(cmd, dict):
                self.emit({"event": "error", "cmd": None, "error": "bad command line"})
                continue
            try:
                self.command(cmd)
            except (ValueError, KeyError, TypeError) as e:
                self.emit({"event": "error", "cmd": cmd.get("cmd") if isinstance(cmd.get("cmd"), str) else None,
                           "error": f"bad command: {e}"})

    def command(self, cmd):
        op, tag = cmd.get("cmd"), cmd.get("tag", 0)
        if op == "put":
            data = base64.b64decode(cmd["data"])
            peers = [bytes.fromhex(p) for p in cmd.get("peers") or []]

            def done(ok, err):
                ev = {"event": "put-done", "tag": tag, "ok": ok}
                if not ok:
                    ev["error"] = err or "failed"
                self.emit(ev)
            self.comm.put(data, peers, done)
        elif op == "get":
            peers = [bytes.fromhex(p) for p in cmd.get("peers") or []]
            threading.Thread(target=self._get, args=(tag, cmd.get("timeout"), peers), daemon=True).start()
        elif op == "close":
            self.comm.start_close()
            threading.Thread(target=self._close, args=(cmd.get("timeout"),), daemon=True).start()
        elif op == "id":
            self.emit({"event": "id", "id": self.comm.id.hex()})
        else:
            ev = {"event": "error", "cmd": op if isinstance(op, str) else None, "error": "unsupported"}
            if "tag" in cmd:
                ev["tag"] = tag
            self.emit(ev)

    def _get(self, tag, timeout, peers):
        r = self.comm.get(timeout, peers)
        if r[0] == "message":
            self.emit({"event": "message", "tag": tag, "peer": r[1].hex(), "size": len(r[2]),
                       "data": base64.b64encode(r[2]).decode()})
        else:
            self.emit({"event": "error", "cmd": "get", "tag": tag, "kind": r[0],
                       "error": "no message in time" if r[0] == "timeout" else "closed"})

    def _close(self, timeout):
        ok, err = self.comm.close(timeout)
        ev = {"event": "closed", "ok": ok}
        if not ok:
            ev["error"] = err
        self.emit(ev)


def main(argv=None):
    a = parse(sys.argv[1:] if argv is None else argv)
    M.activate(a.mutant)
    if a.transport == "tls" and a.role == "server" and not (a.cert and a.key):
        print("mini: a TLS server needs --cert and --key", file=sys.stderr)
        return 2
    Adapter(a).run()
    return 0
