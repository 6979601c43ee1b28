"""gRPC (wire-protocol notes §3 gRPC): one bidirectional-streaming method
/grpc/comm carrying raw bytes. Each call is a round: the client streams
its pending bytes and half-closes; the server streams what is pending for
that client, then reads the client's messages to the end, then ends OK.
The server knows a client by the call's peer address; a waiting client
polls with empty rounds (1 ms doubling to 50 ms)."""
import concurrent.futures
import os
import threading

os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
import grpc  # noqa: E402

from . import mutants as M  # noqa: E402
from .session import Session, warn  # noqa: E402

METHOD = "/grpc/comm"
PIECE = 1 << 20
OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
POLL_FIRST, POLL_MAX = 0.001, 0.05
ROUND_DEADLINE = 30.0


class ServerLink:
    def __init__(self, comm, addr):
        self.comm, self.addr = comm, addr
        self.session = Session(comm, self)
        self.round_lock = threading.Lock()
        self.aborted = False

    def finish(self):
        pass  # the client stops calling once the fins crossed

    def abort(self):
        self.aborted = True
        self.session.link_lost()


class Server:
    def __init__(self, comm, a):
        self.comm, self.a = comm, a
        self.links = {}
        self.accepting = True
        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=32), options=OPTIONS)
        handler = grpc.method_handlers_generic_handler(
            "grpc", {"comm": grpc.stream_stream_rpc_method_handler(self._round)})
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_insecure_port(f"{a.host}:{a.port}")

    def start(self):
        self.server.start()

    def _round(self, requests, context):
        addr = context.peer()
        with self.comm.cond:
            link = self.links.get(addr)
            if link is None:
                if not self.accepting:
                    context.abort(grpc.StatusCode.UNAVAILABLE, "the server is closing")
                link = self.links[addr] = ServerLink(self.comm, addr)
        s, cond = link.session, self.comm.cond
        with link.round_lock:
            if link.aborted or s.lost:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "this link was dropped")
            sent = False
            while True:
                with cond:
                    data, cbs = s.take(PIECE)
                if not data:
                    break
                yield data
                sent = True
                s.sent(cbs)
            if sent and M.on("grpc-round-early"):
                return
            for msg in requests:
                if not msg and M.on("grpc-empty-ends-round"):
                    break
                s.on_bytes(msg)
                if link.aborted or s.lost:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "protocol error: link dropped")
            if M.on("grpc-status-error") and sent:
                context.abort(grpc.StatusCode.UNKNOWN, "round failed")

    def stop_accepting(self):
        self.accepting = False

    def stop(self):
        self.accepting = False
        with self.comm.cond:
            for l in self.links.values():
                if not l.session.done:
                    l.abort()
        self.server.stop(0.5)


class Client:
    def __init__(self, comm, a):
        self.comm, self.a = comm, a
        self.port = a.port
        self.session = Session(comm, self)
        comm.client = self.session
        self.aborted = False
        with comm.cond:
            self.session.queue_ini()
        self.channel = None

    # link interface
    def finish(self):
        self.comm.cond.notify_all()

    def abort(self):
        self.aborted = True
        self.session.link_lost()
        self.comm.cond.notify_all()

    def start(self):
        threading.Thread(target=self._rounds, daemon=True).start()

    def _channel(self):
        if self.channel is None or M.on("grpc-channel-per-round"):
            if self.channel is not None:
                self.channel.close()
            self.channel = grpc.insecure_channel(
                f"{self.a.host}:{self.a.port}",
                options=OPTIONS + [("grpc.use_local_subchannel_pool", 1)])
        method = "/grpc.grpc/comm" if M.on("grpc-wrong-method") else METHOD
        return self.channel.stream_stream(method)

    def _rounds(self):
        s, cond = self.session, self.comm.cond
        delay = POLL_FIRST
        while True:
            with cond:
                if s.done or s.lost or self.aborted:
                    break
                if (not s.q or s.held()) and (M.on("grpc-no-poll") or s.held()):
                    cond.wait(0.05)
                    continue
                pieces, cbs = [], []
                if not s.held():
                    while True:
                        data, more = s.take(PIECE)
                        if not data:
                            break
                        pieces.append(data)
                        cbs += more
            got = 0
            try:
                call = self._channel()(iter(pieces), timeout=ROUND_DEADLINE)
                for msg in call:
                    got += len(msg)
                    s.on_bytes(msg)
            except grpc.RpcError as e:
                # a round ending with an error status is the end of the link
                code = e.code() if hasattr(e, "code") else None
                warn(f"round ended {code}: link dropped")
                for cb in cbs:
                    cb(False, f"round ended {code}")
                with cond:
                    s.link_lost()
                break
            s.sent(cbs)
            if pieces or got:
                delay = POLL_FIRST
                continue
            with cond:
                if s.done or s.lost:
                    break
                # an idle poll: wait, but start at once when a put comes
                cond.wait(delay)
            delay = min(delay * 2, POLL_MAX)
        if self.channel is not None:
            self.channel.close()

    def stop_accepting(self):
        pass

    def stop(self):
        with self.comm.cond:
            if not self.session.done:
                self.abort()
