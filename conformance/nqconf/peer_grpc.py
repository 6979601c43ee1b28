"""Scripted wire peer for gRPC: raw messages on `/grpc/comm`, no session
logic (grpcio from .venv-ref, generic calls, identity serializers; without
grpcio the gRPC cases are UNSUPPORTED).

role "server" (the implementation serves): each connection is a channel
of its own (its own HTTP/2 connection, `grpc.use_local_subchannel_pool`:
the server tells clients apart by peer address). A background thread runs
the rounds: one `send` step is one call whose request messages are its
pieces (with the step's delay between them), then half-close; the
server's response messages are the incoming bytes. With nothing to send
it polls with empty calls (1 ms doubling to 50 ms). A round ending with an
error status is the implementation dropping the link: end of stream.

role "client" (the implementation is the client): a generic server on a
free loopback port; a connection is a client peer address seen for the
first time. Each round it first streams the pieces queued for that
client, then reads the client's messages to the end, then ends with OK.

Raw actions (`{"peer": "call", "op": ...}`): `round` (one call with the
given frames and cut, options `compression: "gzip"`, `hold` seconds before
the half-close, `cancel` instead of half-closing), `method` (a call to
another method; `status` names the status it must end with).
"""
import concurrent.futures
import os
import queue
import threading
import time

from . import frames
from .adapter import Unsupported
from .peer_stream import StreamLink, show
from .peer_tcp import HOST, free_port

os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # no GOAWAY chatter in the report
try:
    import grpc
except ImportError:
    grpc = None

METHOD = "/grpc/comm"
OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
CHANNEL_OPTIONS = OPTIONS + [("grpc.use_local_subchannel_pool", 1),
                             ("grpc.initial_reconnect_backoff_ms", 50),
                             ("grpc.min_reconnect_backoff_ms", 50),
                             ("grpc.max_reconnect_backoff_ms", 250)]
POLL_FIRST, POLL_MAX = 0.001, 0.05


class StepError(Exception):
    pass


class FinWatch:
    """Frames of one direction of a stream: has the fin gone by? (first
    frame = ini; later, the same 16 bytes, or an empty frame in legacy)."""

    def __init__(self, legacy):
        self.reader, self.legacy = frames.Reader(), legacy
        self.ini, self.fin = None, False

    def feed(self, data):
        self.reader.feed(data)
        while (f := self.reader.frame()) is not None:
            if self.ini is None:
                self.ini = f
            elif (f == b"" if self.legacy else f == self.ini):
                self.fin = True


class ClientLink(StreamLink):
    """We are a client: one channel, rounds on a thread of its own. Like a
    TCP client that closes once fins crossed, it stops polling when it has
    sent its fin and got the server's (a round with data still runs)."""

    def __init__(self, port, log, name, timeout, legacy=False):
        super().__init__(log, name)
        self.sent, self.got = FinWatch(legacy), FinWatch(legacy)
        self.channel = grpc.insecure_channel(f"{HOST}:{port}", options=CHANNEL_OPTIONS)
        try:
            grpc.channel_ready_future(self.channel).result(timeout)
        except grpc.FutureTimeoutError:
            self.channel.close()
            raise TimeoutError(f"gRPC channel to {HOST}:{port} not ready within {timeout} s") from None
        self.comm = self.channel.stream_stream(METHOD)
        self.jobs = queue.Queue()
        self.call = None
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    # A job: (pieces, delay, options, done Event, result box)

    def send(self, pieces, delay=0.0):
        self.round(pieces, delay)

    def round(self, pieces, delay=0.0, **opts):
        if self.closed or self.ended is not None:
            raise OSError(f"link dropped ({self.ended or 'closed'})")
        done, box = threading.Event(), {}
        self.jobs.put((list(pieces), delay, opts, done, box))
        if not done.wait(60):
            raise OSError("round did not end within 60 s")
        return box

    def _loop(self):
        poll = POLL_FIRST
        while not self.closed and self.ended is None:
            try:
                job = self.jobs.get(timeout=poll)
            except queue.Empty:
                job = None
            if self.closed or self.ended is not None:
                if job:
                    job[3].set()
                break
            if job is None:
                if self.sent.fin and self.got.fin:
                    continue  # fins crossed: no more polls
                moved = self._round([], 0, {}, quiet=True)
                poll = POLL_FIRST if moved.get("received") else min(poll * 2, POLL_MAX)
                continue
            pieces, delay, opts, done, box = job
            box.update(self._round(pieces, delay, opts))
            done.set()
            poll = POLL_FIRST
        while not self.jobs.empty():
            self.jobs.get()[3].set()

    def _round(self, pieces, delay, opts, quiet=False):
        res = {"received": 0}
        cancel, hold = opts.get("cancel"), opts.get("hold", 0)
        gate = threading.Event()

        def requests():
            for i, p in enumerate(pieces):
                if i and delay:
                    time.sleep(delay)
                self.log(f"peer {self.name} > message {show(p)}")
                self.sent.feed(p)
                yield p
            if hold:
                time.sleep(hold)
            if cancel:
                gate.set()
                time.sleep(30)  # never half-close: the call is cancelled
            elif pieces:
                self.log(f"peer {self.name} > half-close")

        kw = {}
        if opts.get("compression") == "gzip":
            kw["compression"] = grpc.Compression.Gzip
        method = self.comm if "method" not in opts else \
            self.channel.stream_stream(opts["method"])
        try:
            call = method(requests(), **kw)
            self.call = call
            if cancel:
                threading.Thread(target=lambda: (gate.wait(30), time.sleep(0.1), call.cancel()),
                                 daemon=True).start()
            for resp in call:
                res["received"] += 1
                self.got.feed(resp)
                self.feed(resp)
            res["status"] = "OK"
            if not quiet or res["received"]:
                self.log(f"peer {self.name}: round ended OK")
        except grpc.RpcError as e:
            code = e.code()
            res["status"] = code.name if code else "UNKNOWN"
            res["details"] = e.details() if hasattr(e, "details") else str(e)
            if self.closed:
                return res
            self.log(f"peer {self.name}: round ended {res['status']}: {res['details']}")
            if cancel or "method" in opts:
                return res  # what the step asked for: the link is not ours to end
            self.end(f"status {res['status']}")
        finally:
            self.call = None
        return res

    def shutdown_write(self):
        self.log(f"peer {self.name}: half-close (no more rounds with data)")

    def close(self, abort=False):
        if self.closed:
            return
        self.closed = True
        self.log(f"peer {self.name}: {'cancel and close' if abort else 'close'} the channel")
        call = self.call
        if call is not None and abort:
            call.cancel()
        self.channel.close()


class ServerLink(StreamLink):
    """The implementation is a client; this is one of its peer addresses."""

    def __init__(self, addr, log):
        super().__init__(log, addr)
        self.addr = addr
        self.pending = queue.Queue()  # (pieces, delay)
        self.round_lock = threading.Lock()

    def send(self, pieces, delay=0.0):
        if self.closed:
            raise OSError("closed")
        self.pending.put((list(pieces), delay))
        self.log(f"peer {self.name}: {len(list(pieces))} message(s) queued for the client's next round")

    def shutdown_write(self):
        self.log(f"peer {self.name}: half-close (nothing more queued)")

    def close(self, abort=False):
        self.log(f"peer {self.name}: close (rounds after what is queued end UNAVAILABLE)")
        self.closed = True


class Peer:
    wants_step = True

    def __init__(self, transport, role, certs, log):
        if grpc is None:
            raise Unsupported("grpcio is not installed in the runner's Python")
        self.role, self.log = role, log
        self.ids = {}
        self.links = []
        self.port = None
        self.server = None
        self.by_addr = {}
        self.accepted = queue.Queue()
        self.lock = threading.Lock()

    def adapter_args(self, opts):
        if self.role == "server":
            self.port = free_port()
        return ["--host", HOST, "--port", str(self.port)]

    # -- role client: we serve ------------------------------------------------

    def listen(self, cert=None):
        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=32), options=OPTIONS)
        handler = grpc.method_handlers_generic_handler(
            "grpc", {"comm": grpc.stream_stream_rpc_method_handler(self._round)})
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_insecure_port(f"{HOST}:0")
        self.server.start()
        self.log(f"peer: gRPC server on {HOST}:{self.port} ({METHOD})")

    def _round(self, requests, context):
        addr = context.peer()
        with self.lock:
            link = self.by_addr.get(addr)
            if link is None:
                link = ServerLink(addr, self.log)
                self.by_addr[addr] = link
                self.log(f"peer: first call from {addr}")
                self.accepted.put(link)
        if link.closed and link.pending.empty():
            # Like a closed socket: what was queued before the close still
            # goes out (below), later rounds fail.
            context.abort(grpc.StatusCode.UNAVAILABLE, "closed by the scripted peer")
        with link.round_lock:
            while True:
                try:
                    pieces, delay = link.pending.get_nowait()
                except queue.Empty:
                    break
                for i, p in enumerate(pieces):
                    if i and delay:
                        time.sleep(delay)
                    link.log(f"peer {link.name} > message {show(p)}")
                    yield p
            for msg in requests:
                if not link.closed:
                    link.feed(msg)

    # -- both ---------------------------------------------------------------------

    def open(self, name, timeout, handshake=True, step=None):
        if self.role == "client":
            try:
                link = self.accepted.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no client call within {timeout} s") from None
            self.log(f"peer {name}: is the client at {link.addr}")
            link.name = name
        else:
            link = ClientLink(self.port, self.log, name, timeout,
                              getattr(self, "dialect", "current") == "legacy")
            self.log(f"peer {name}: channel to {HOST}:{self.port} ready")
        self.links.append(link)
        return link

    def call(self, run, s):
        name, link = run.link(s)
        op = s.get("op")
        if not isinstance(link, ClientLink):
            raise StepError(f"gRPC call {op!r} needs the peer to be the client")
        if op == "round":
            data = frames.encode(s.get("frames", []), name, run.ids, run.dialect)
            pieces = frames.cut(data, s.get("cut"))
            if s.get("empty_first"):
                pieces = [b""] + pieces
            box = link.round(pieces, s.get("delay", 0),
                             **{k: s[k] for k in ("compression", "hold", "cancel") if k in s})
        elif op == "method":
            box = link.round([], 0, method=s.get("method", "/grpc/other"))
        else:
            raise ValueError(f"unknown grpc call {op!r}")
        want = s.get("status")
        if want and box.get("status") != want:
            from .script import StepFailed
            raise StepFailed(f"call ended {box.get('status')} ({box.get('details', '')}), expected {want}")

    def close(self):
        for link in self.links:
            link.close()
        if self.server:
            self.server.stop(0)
