#!/usr/bin/env python3
"""A peer built on the Python reference net-queue, for interop tests.

Acts as a TCP, gRPC or MQTT server or client (MQTT: a client of the broker
at --host/--port), plain or TLS, with the reference's default
pickle serializer or raw bytes; puts and gets the messages given on the
command line and prints one JSON object per line on stdout:

    {"event": "ready", "id": "<own id hex>", ...}   communicator created
    {"event": "got", "peer": "<hex>", "type": ..., "len": ..., ...}
    {"event": "closed"}
    {"event": "error", "error": "..."}                then a non-zero exit

A message is given as KIND:ARG: text:STR (str under pickle, UTF-8 bytes
raw), hex:HEX and file:PATH (bytes), py:EXPR (a Python literal or
bytearray(...), pickle only).
Its own alarm ends it (exit 3) so that it never hangs a test.
"""
import argparse
import hashlib
import importlib
import json
import os
import pathlib
import signal
import sys
import threading
import uuid

import net_queue as nq
from net_queue.utils.stream import BufferSerializer

INLINE_LIMIT = 4096  # bigger payloads are described by length and hash only


def emit(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def fail(error, code=1):
    emit(event="error", error=error)
    # Threads of the communicator may still run: leave without joining them.
    os._exit(code)


def message(spec, codec):
    kind, sep, arg = spec.partition(":")
    if not sep:
        raise SystemExit(f"ref_peer: message {spec!r} is not KIND:ARG")
    if kind == "text":
        return arg if codec == "pickle" else arg.encode()
    if kind == "hex":
        return bytes.fromhex(arg)
    if kind == "file":
        with open(arg, "rb") as f:
            return f.read()
    if kind == "py" and codec == "pickle":
        # Our own driver writes these: literals, plus bytearray(...) which
        # literal_eval cannot read.
        return eval(arg, {"__builtins__": {}, "bytearray": bytearray})
    raise SystemExit(f"ref_peer: unknown message kind {kind!r} for codec {codec}")


def describe(value):
    """JSON-able description of a received value, enough to compare."""
    if isinstance(value, memoryview):
        value = bytes(value)
    d = {"type": type(value).__name__}
    if isinstance(value, (bytes, bytearray)):
        d["len"] = len(value)
        d["sha256"] = hashlib.sha256(value).hexdigest()
        if len(value) <= INLINE_LIMIT:
            d["hex"] = bytes(value).hex()
    elif isinstance(value, str):
        raw = value.encode("utf-8", "surrogatepass")
        d["len"] = len(raw)
        d["sha256"] = hashlib.sha256(raw).hexdigest()
        if len(raw) <= INLINE_LIMIT:
            d["text"] = value
    r = repr(value)
    if len(r) <= INLINE_LIMIT:
        d["repr"] = r
    return d


def new_grpc(server, opts):
    """The reference's gRPC communicator. nq.new(Protocol.GRPC) cannot load
    it (it imports net_queue.grpc; the package is named gprc), and
    net_queue/gprc/__init__.py drops the last sys.path entry before
    `import grpc`, which in a venv is site-packages itself: give it a
    spare entry to drop (docs/reference-deviations.md)."""
    sys.path.append(os.devnull)
    module = importlib.import_module("net_queue.gprc." + ("server" if server else "client"))
    return module.Communicator(opts)


def poll_rounds(comm, stop):
    """The reference gRPC client never polls (its loop tests a SimpleQueue
    for truth): data its server queued only comes on rounds its own puts
    start. While this peer waits for messages, run the reference's own
    round function every 20 ms, as its poll loop meant to."""
    while not stop.wait(0.02):
        try:
            comm._pool.submit(comm._handle_connection, comm._comm).result()
        except Exception as e:  # the session ended under us
            emit(event="poll-stopped", error=repr(e))
            return


def fix_mqtt_commit(comm):
    """The reference MQTT client publishes on a pool thread under the
    session's temporary id, while paho's thread renames that session to the
    server's id when the server's ini arrives; `_put_commit` then raises
    KeyError and that put's future never completes (seen against our server
    and its own, docs/reference-deviations.md mqtt-client-commit-race).
    Commit under the session's current id instead, as it meant to."""
    commit = comm._put_commit

    def put_commit(peer, size):
        try:
            return commit(peer, size)
        except KeyError:
            return commit(comm._comms.inverse[comm._comm], size)

    comm._put_commit = put_commit


def options(args):
    security = None
    if args.tls:
        # Its gRPC communicators call .read_bytes() on these: pathlib paths.
        path = pathlib.Path if args.protocol == "grpc" else str
        if args.protocol == "mqtt":
            # Both purposes are broker clients: its MQTT transport passes
            # security.cert to paho's tls_set(ca_certs=...) and ignores key.
            security = nq.SecurityOptions(cert=path(args.ca))
        elif args.server:
            security = nq.SecurityOptions(key=path(args.key), cert=path(args.cert))
        else:
            # For a client the reference's `cert` is the trust chain (CA file).
            security = nq.SecurityOptions(cert=path(args.ca))
    kw = dict(netloc=nq.NetworkLocation(args.host, args.port), security=security)
    if args.codec == "raw":
        raw = BufferSerializer()
        kw["serialization"] = nq.SerializationOptions(load=raw.load, dump=raw.dump)
    kw["id"] = uuid.UUID(hex=args.id) if args.id else uuid.uuid4()
    return nq.CommunicatorOptions(**kw)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("role", choices=["server", "client"])
    p.add_argument("--protocol", choices=["tcp", "grpc", "mqtt"], default="tcp")
    p.add_argument("--no-poll", action="store_true",
                   help="grpc client: do not run rounds while getting (the reference as is)")
    p.add_argument("--no-fix", action="store_true",
                   help="mqtt client: keep the reference's put/ini race (mqtt-client-commit-race)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls", action="store_true")
    p.add_argument("--key", help="server: private key (PEM)")
    p.add_argument("--cert", help="server: certificate chain (PEM)")
    p.add_argument("--ca", help="client: CA file")
    p.add_argument("--codec", choices=["raw", "pickle"], default="pickle")
    p.add_argument("--id", help="own id, 32 hex digits")
    p.add_argument("--put", action="append", default=[], metavar="KIND:ARG")
    p.add_argument("--get", type=int, default=0, help="messages to get")
    p.add_argument("--echo", action="store_true", help="server: put each message back to its sender")
    p.add_argument("--timeout", type=int, default=30, help="seconds before giving up (exit 3)")
    args = p.parse_args()
    args.server = args.role == "server"
    puts = [message(s, args.codec) for s in args.put]

    signal.signal(signal.SIGALRM, lambda *_: fail(f"timed out after {args.timeout} s", 3))
    signal.alarm(args.timeout)

    purpose = nq.Purpose.SERVER if args.server else nq.Purpose.CLIENT
    try:
        if args.protocol == "grpc":
            comm = new_grpc(args.server, options(args))
        elif args.protocol == "mqtt":
            comm = nq.new(nq.Protocol.MQTT, purpose, options(args))
            if not args.server and not args.no_fix:
                fix_mqtt_commit(comm)
        else:
            comm = nq.new(nq.Protocol.TCP, purpose, options(args))
    except Exception as e:
        if type(e).__name__ == "ValueDuplicationError" and not args.server:
            # A race inside the reference's TCP client constructor: its
            # selector thread may register the new socket before __init__
            # does (seen Python x Python over TLS, ~3 in 100). Not a wire
            # matter; the driver starts this peer again (exit 75).
            fail(f"new: reference constructor race: {e!r}", 75)
        fail(f"new: {e!r}")
    emit(event="ready", id=comm.id.hex, role=args.role, port=args.port)

    try:
        if args.server:
            # As the reference's README server: get first, then answer.
            for _ in range(args.get):
                msg = comm.get()
                emit(event="got", peer=msg.peer.hex, **describe(msg.data))
                if args.echo:
                    comm.put(msg.data, msg.peer).result()
            for value in puts:
                comm.put(value).result()
        else:
            for value in puts:
                comm.put(value).result()
            if args.protocol == "grpc" and not args.no_poll:
                # Its close loops on _s2c until the session ends, but that
                # _s2c runs no round and then raises queue.Empty: make it
                # one round, as the loop meant.
                comm._s2c = comm._handle_connection
            stop = threading.Event()
            if args.protocol == "grpc" and args.get and not args.no_poll:
                threading.Thread(target=poll_rounds, args=(comm, stop), daemon=True).start()
            for _ in range(args.get):
                msg = comm.get()
                emit(event="got", peer=msg.peer.hex, **describe(msg.data))
            stop.set()
        comm.close()
    except Exception as e:
        fail(f"{type(e).__name__}: {e}")
    emit(event="closed")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
