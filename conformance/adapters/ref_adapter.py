#!/usr/bin/env python3
"""Conformance adapter for the Python reference net-queue, speaking adapter
protocol 1.0 (docs/spec/adapter.md).

Runs with a Python that has `net_queue` installed (.venv-ref: net-queue
2.6.4 from PyPI; PyPI has no 0.1.x release, so there is no legacy-dialect
reference and legacy cases are UNSUPPORTED here). Payloads go through the
reference's raw-bytes serializer (BufferSerializer), so the suite sees the
bytes on the wire exactly as put.

The reference's get() cannot time out and cannot wait on chosen peers: one
thread gets every message into a local list, and the get command waits on
that list. Its ini/fin event hooks become ini/fin events.
"""
import argparse
import base64
import importlib
import json
import os
import pathlib
import sys
import threading
import time
import uuid

UNSUPPORTED = 127
ADAPTER_PROTOCOL = "1.0"  # docs/spec/adapter.md, ADAPTER-2
out_lock = threading.Lock()


def emit(**fields):
    line = json.dumps(fields)
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--role", choices=["server", "client"], required=True)
    p.add_argument("--transport", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=51966)
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--server-name")
    p.add_argument("--no-verify", action="store_true")
    p.add_argument("--dialect", default="current")
    p.add_argument("--id")
    return p.parse_args()



def make_comm(args, nq):
    from net_queue.utils.stream import BufferSerializer
    raw = BufferSerializer()
    security = None
    if args.transport == "tls" or (args.transport == "grpc" and (args.cert or args.ca)):
        path = pathlib.Path if args.transport == "grpc" else str
        if args.role == "server":
            security = nq.SecurityOptions(key=path(args.key), cert=path(args.cert))
        else:
            # For a client the reference's `cert` is the CA file it trusts.
            security = nq.SecurityOptions(cert=path(args.ca) if args.ca else None)
    events = nq.core.EventOptions(
        ini=lambda peer: emit(event="ini", peer=peer.hex),
        fin=lambda peer: emit(event="fin", peer=peer.hex))
    opts = nq.CommunicatorOptions(
        id=uuid.UUID(hex=args.id) if args.id else uuid.uuid4(),
        netloc=nq.NetworkLocation(args.host, args.port),
        serialization=nq.SerializationOptions(load=raw.load, dump=raw.dump),
        security=security, events=events)
    purpose = nq.Purpose.SERVER if args.role == "server" else nq.Purpose.CLIENT
    if args.transport == "grpc":
        # nq.new(GRPC) imports net_queue.grpc, but the package is named
        # gprc, and its __init__ drops the last sys.path entry before
        # `import grpc`: give it a spare one (a loading bug, not the wire;
        # recorded in conformance/deviations.json).
        sys.path.append(os.devnull)
        module = importlib.import_module("net_queue.gprc." + args.role)
        return module.Communicator(opts)
    proto = nq.Protocol.MQTT if args.transport == "mqtt" else nq.Protocol.TCP
    return nq.new(proto, purpose, opts)


class Inbox:
    """Every message the reference delivers, for gets with timeout/peers."""

    def __init__(self):
        self.cond = threading.Condition()
        self.msgs = []
        self.ended = False

    def run(self, comm):
        while True:
            try:
                msg = comm.get()
            except Exception:
                break
            with self.cond:
                self.msgs.append((msg.peer.hex, bytes(msg.data)))
                self.cond.notify_all()
        with self.cond:
            self.ended = True
            self.cond.notify_all()

    def take(self, peers, timeout):
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        with self.cond:
            while True:
                for i, (peer, data) in enumerate(self.msgs):
                    if not peers or peer in peers:
                        return self.msgs.pop(i)
                if self.ended:
                    return "closed"
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return "timeout"
                self.cond.wait(left)


def main():
    args = parse_args()
    if args.transport not in ("tcp", "tls", "mqtt", "grpc") or args.dialect != "current" \
            or args.server_name or args.no_verify:
        # No 0.1.x on PyPI (no legacy dialect); no server-name or
        # no-verify option in the reference.
        emit(event="error", cmd="new", error=f"unsupported: {' '.join(sys.argv[1:])}")
        return UNSUPPORTED
    try:
        import net_queue as nq
        import net_queue.core  # noqa: F401  (EventOptions)
        comm = make_comm(args, nq)
    except Exception as e:
        emit(event="error", cmd="new", error=f"{type(e).__name__}: {e}")
        sys.stdout.flush()
        # A race inside the reference's TCP client constructor (its selector
        # thread registers the socket before __init__ does): transient, the
        # runner starts the case again on exit 75.
        os._exit(75 if type(e).__name__ == "ValueDuplicationError" else 1)
    emit(event="ready", adapter_protocol=ADAPTER_PROTOCOL, id=comm.id.hex, port=args.port)
    inbox = Inbox()
    threading.Thread(target=inbox.run, args=(comm,), daemon=True).start()

    def put_done(tag, fut):
        e = fut.exception()
        emit(event="put-done", tag=tag, ok=e is None, **({"error": repr(e)} if e else {}))

    def get(cmd):
        r = inbox.take(set(cmd.get("peers") or []), cmd.get("timeout"))
        if isinstance(r, str):
            emit(event="error", cmd="get", tag=cmd.get("tag"), kind=r, error=r)
        else:
            emit(event="message", tag=cmd.get("tag"), peer=r[0], size=len(r[1]),
                 data=base64.b64encode(r[1]).decode())

    def close(timeout):
        # The reference's close() has no timeout (ADAPTER-9): a close given
        # one answers ok=false once it has passed, and the close goes on.
        result = {}

        def run():
            try:
                comm.close()
                result["ok"] = True
            except Exception as e:
                result["error"] = repr(e)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(None if timeout is None or timeout < 0 else timeout)
        if t.is_alive():
            emit(event="closed", ok=False, error=f"timed out after {timeout} s")
        elif result.get("ok"):
            emit(event="closed", ok=True)
        else:
            emit(event="closed", ok=False, error=result.get("error"))

    closing = False
    for line in sys.stdin:
        try:
            cmd = json.loads(line)
        except ValueError:
            emit(event="error", cmd=None, error="bad command line")
            continue
        name, tag = cmd.get("cmd"), cmd.get("tag")
        if name == "put":
            try:
                peers = [uuid.UUID(hex=p) for p in cmd.get("peers") or []]
                fut = comm.put(base64.b64decode(cmd.get("data", "")), *peers)
                fut.add_done_callback(lambda f, tag=tag: put_done(tag, f))
            except Exception as e:
                emit(event="put-done", tag=tag, ok=False, error=repr(e))
        elif name == "get":
            threading.Thread(target=get, args=(cmd,), daemon=True).start()
        elif name == "close":
            if not closing:  # ADAPTER-9: a second close may be ignored
                closing = True
                threading.Thread(target=close, args=(cmd.get("timeout"),), daemon=True).start()
        elif name == "id":
            emit(event="id", id=comm.id.hex)
        else:  # ADAPTER-5: answered, never fatal
            emit(event="error", cmd=name if isinstance(name, str) else None,
                 **({"tag": tag} if tag is not None else {}), error="unsupported")
    # The runner is done with us; the reference's threads may never end.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
