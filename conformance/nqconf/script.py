"""Runs one case's script: scripted peer steps and implementation steps
(docs/conformance.md, "Scripts")."""
import base64
import os
import time

from . import frames
from .adapter import Adapter, AdapterError

STEP_TIMEOUT = 5.0


class StepFailed(Exception):
    pass


class Run:
    def __init__(self, case, impl_argv, peer, log):
        self.case, self.impl_argv, self.peer, self.log = case, impl_argv, peer, log
        self.dialect = case.dialect
        self.ids = {"unknown": os.urandom(16)}
        self.links, self.readers = {}, {}
        self.adapter = None
        self.get_tag = 1 << 20
        self.impl_refused = False
        # Default step timeout; an expected-failures entry may shorten it
        # ("step_timeout") so that a recorded hang costs less time.
        self.step_timeout = STEP_TIMEOUT
        peer.ids = self.ids  # MQTT/gRPC peers name their connections by id
        peer.dialect = self.dialect

    # -- helpers -----------------------------------------------------------

    def link(self, step):
        name = step.get("conn", "a")
        if name not in self.links:
            raise StepFailed(f"no open connection {name!r}")
        return name, self.links[name]

    def next_frame(self, name, timeout):
        """The next frame from the implementation on conn name; b"EOF"
        sentinel None on end of stream; raises on timeout."""
        link, reader = self.links[name], self.readers[name]
        deadline = time.monotonic() + timeout
        while True:
            f = reader.frame()
            if f is not None:
                return f
            left = deadline - time.monotonic()
            if left <= 0:
                raise StepFailed(f"conn {name}: no whole frame within {timeout} s "
                                 f"({len(reader.buf)} bytes pending)")
            data = link.recv(min(left, 0.5))
            if data == b"":
                if reader.buf:
                    raise StepFailed(f"conn {name}: stream ended inside a frame")
                return None
            if data:
                reader.feed(data)

    def start_impl(self, opts=None):
        opts = opts or {}
        if self.case.role == "client" and self.peer.port is None:
            self.peer.listen()
        argv = list(self.impl_argv) + ["--role", self.case.role if self.case.role != "both" else "server",
                                       "--transport", self.case.transport,
                                       "--dialect", self.dialect]
        argv += self.peer.adapter_args(opts)
        self.adapter = Adapter(argv, self.log)
        try:
            ready = self.adapter.start(opts.get("timeout", 15))
        except AdapterError as e:
            if not opts.get("may_fail"):
                raise
            # Refusing to start is an acceptable answer here (a client that
            # checks its server while being made): later impl steps skip.
            self.log(f"implementation did not start ({e}): allowed by this step")
            self.impl_refused = True
            return
        self.ids["impl"] = bytes.fromhex(ready["id"])

    # -- peer steps ---------------------------------------------------------

    def p_listen(self, s):
        self.peer.listen(cert=s.get("cert", "server"))

    def p_open(self, s):
        name = s.get("conn", "a")
        if self.adapter is None:
            self.start_impl()
        self.ids[name] = self.ids[s["id_of"]] if "id_of" in s else os.urandom(16)
        try:
            extra = {"step": s} if getattr(self.peer, "wants_step", False) else {}
            self.links[name] = self.peer.open(name, s.get("timeout", self.step_timeout),
                                              handshake=s.get("handshake", True), **extra)
        except OSError as e:
            raise StepFailed(f"open {name}: {type(e).__name__}: {e}") from None
        self.readers[name] = frames.Reader()

    def p_send(self, s):
        name, link = self.link(s)
        data = frames.encode(s["frames"], name, self.ids, self.dialect)
        try:
            link.send(frames.cut(data, s.get("cut")), s.get("delay", 0.002 if s.get("cut") else 0))
        except OSError as e:
            if not s.get("may_fail"):
                raise StepFailed(f"send on {name}: {e}") from None

    def p_expect(self, s):
        name, _ = self.link(s)
        for spec in frames.expand(s["frames"]):
            got = self.next_frame(name, s.get("timeout", self.step_timeout))
            if got is None:
                raise StepFailed(f"conn {name}: end of stream, expected {spec}")
            why = frames.matches(spec, got, "impl", self.ids, self.dialect)
            if why:
                raise StepFailed(f"conn {name}: {why} (expected {spec})")

    def p_expect_eof(self, s):
        name, link = self.link(s)
        timeout = s.get("timeout", self.step_timeout)
        quiet = getattr(link, "quiet_eof", None)
        if quiet is not None:
            # MQTT, gRPC: no end of stream the peer could see; the end is
            # "no further frame" (or a link the implementation dropped).
            deadline = time.monotonic() + quiet
            while (left := deadline - time.monotonic()) > 0:
                try:
                    got = self.next_frame(name, left)
                except StepFailed:
                    return
                if got is None:
                    return
                if not s.get("drain"):
                    raise StepFailed(f"conn {name}: expected the stream to end, got frame {frames.describe(got)}")
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                got = self.next_frame(name, max(0.01, deadline - time.monotonic()))
            except StepFailed as e:
                raise StepFailed(f"conn {name}: connection still open after {timeout} s ({e})") from None
            if got is None:
                return
            if not s.get("drain"):
                raise StepFailed(f"conn {name}: expected end of stream, got frame {frames.describe(got)}")

    def p_expect_nothing(self, s):
        """No frame and no end of stream for a short while (a negative
        check: it can only pass slowly, never fail because of speed)."""
        name, link = self.link(s)
        deadline = time.monotonic() + s.get("for", 0.3)
        while (left := deadline - time.monotonic()) > 0:
            data = link.recv(left)
            if data == b"":
                if s.get("eof_ok"):
                    return
                raise StepFailed(f"conn {name}: connection closed, expected it to stay open")
            if data:
                self.readers[name].feed(data)
                raise StepFailed(f"conn {name}: expected nothing, got {frames.describe(data)}")

    def p_no_session(self, s):
        """Impl is a client that must not get a session (TLS failures)."""
        deadline = time.monotonic() + s.get("for", 1.5)
        while (left := deadline - time.monotonic()) > 0:
            link = self.peer.try_accept(left)
            if link is None:
                continue
            data = link.recv(min(left, 0.5))
            if data:
                raise StepFailed(f"implementation sent {frames.describe(data)} over a connection it must refuse")

    def p_close(self, s):
        name, link = self.link(s)
        link.close(abort=s.get("abort", False))

    def p_shutdown(self, s):
        self.link(s)[1].shutdown_write()

    def p_sleep(self, s):
        time.sleep(s.get("s", 0.1))

    def p_call(self, s):
        """Transport-specific raw action (gRPC methods, MQTT publishes)."""
        if not hasattr(self.peer, "call"):
            raise StepFailed(f"peer of {self.case.transport} has no raw call")
        self.peer.call(self, s)

    # -- implementation steps ---------------------------------------------

    def i_start(self, s):
        self.start_impl(s)

    def i_put(self, s):
        if self.adapter is None:
            self.start_impl()
        data = frames.payload(s["data"], self.ids)
        cmd = {"cmd": "put", "tag": s.get("tag", 0), "data": base64.b64encode(data).decode()}
        if "peers" in s:
            cmd["peers"] = [self.ids[p].hex() for p in s["peers"]]
        for i in range(s.get("repeat", 1)):
            if i:
                cmd["data"] = base64.b64encode(frames.payload(
                    dict(s["data"], seed=s["data"].get("seed", 0) + i), self.ids)).decode()
            self.adapter.send(cmd)

    def i_put_done(self, s):
        tag, want = s.get("tag", 0), s.get("ok", True)
        for _ in range(s.get("count", 1)):
            ev = self.adapter.wait(lambda e: e.get("event") == "put-done" and e.get("tag") == tag,
                                   s.get("timeout", self.step_timeout))
            if ev is None:
                if want == "pending":
                    return
                raise StepFailed(f"put {tag}: no completion within {s.get('timeout', self.step_timeout)} s")
            if want == "pending" or ev.get("ok") != want:
                raise StepFailed(f"put {tag}: completed ok={ev.get('ok')} ({ev.get('error', '')}), "
                                 f"expected {'no completion' if want == 'pending' else 'ok=' + str(want)}")

    def i_get(self, s):
        if "conn" in s:  # unrolled from "conns": that peer's messages only
            s = dict(s, peers=[s["conn"]], **{"from": s["conn"]})
        timeout = s.get("timeout", self.step_timeout)
        specs = list(frames.expand(s["expect"])) if "expect" in s else [None]
        for n, spec in enumerate(specs):
            self.get_tag += 1
            tag = self.get_tag  # numbers: adapters need not parse string tags
            cmd = {"cmd": "get", "tag": tag, "timeout": timeout}
            if "peers" in s:
                cmd["peers"] = [self.ids[p].hex() for p in s["peers"]]
            self.adapter.send(cmd)
            ev = self.adapter.wait(lambda e: e.get("tag") == tag, timeout + 10)
            if ev is None:
                raise StepFailed(f"get: no answer from the adapter (exit {self.adapter.exited})")
            if spec is None:  # expecting no message
                want = s.get("none", "timeout")
                if ev.get("event") == "message":
                    raise StepFailed(f"get: expected {want}, got a message of {ev.get('size')} bytes")
                if want != "any" and ev.get("kind") != want:
                    raise StepFailed(f"get: expected {want}, got {ev.get('kind')}")
                continue
            if ev.get("event") != "message":
                raise StepFailed(f"get {n + 1}/{len(specs)}: {ev.get('kind') or ev.get('error')}, expected {spec}")
            got = base64.b64decode(ev["data"])
            why = frames.matches(spec, got, s.get("from", "a"), self.ids, self.dialect)
            if why:
                raise StepFailed(f"get {n + 1}/{len(specs)}: {why}")
            if "from" in s and ev.get("peer") != self.ids[s["from"]].hex():
                raise StepFailed(f"get: message from {ev.get('peer')}, expected peer {s['from']}")

    def i_close(self, s):
        cmd = {"cmd": "close"}
        if "timeout" in s:
            cmd["timeout"] = s["timeout"]
        self.adapter.send(cmd)

    def i_closed(self, s):
        if s.get("ok") == "pending":
            # close must not have returned yet (a client waiting for the
            # server's fin): a negative check, it waits a short fixed time.
            wait = s.get("for", 0.3)
            ev = self.adapter.wait(lambda e: e.get("event") == "closed", wait)
            if ev is not None:
                raise StepFailed(f"close returned (ok={ev.get('ok')}) within {wait} s, expected it to "
                                 "still be waiting")
            return
        ev = self.adapter.wait(lambda e: e.get("event") == "closed", s.get("timeout", self.step_timeout))
        if ev is None:
            raise StepFailed(f"close did not return within {s.get('timeout', self.step_timeout)} s")
        if "ok" in s and ev.get("ok") != s["ok"]:
            raise StepFailed(f"close returned ok={ev.get('ok')} ({ev.get('error', '')}), expected ok={s['ok']}")

    def i_alive(self, s):
        """The implementation still answers commands (it did not crash)."""
        self.adapter.send({"cmd": "id"})
        if self.adapter.wait(lambda e: e.get("event") == "id", s.get("timeout", self.step_timeout)) is None:
            raise StepFailed(f"implementation no longer answers (exit {self.adapter.exited})")

    # -- driver -------------------------------------------------------------

    def steps(self):
        """Steps with "conns": [...] unrolled, one per connection name."""
        for step in self.case.script:
            if "conns" in step:
                for name in step["conns"]:
                    one = {k: v for k, v in step.items() if k != "conns"}
                    one["conn"] = name
                    yield one
            else:
                yield step

    def run(self):
        for i, step in enumerate(self.steps()):
            side = "peer" if "peer" in step else "impl"
            op = step[side]
            fn = getattr(self, ("p_" if side == "peer" else "i_") + op, None)
            if fn is None:
                raise StepFailed(f"step {i + 1}: unknown {side} step {op!r}")
            if side == "impl" and self.impl_refused:
                self.log(f"-- step {i + 1}: impl {op}: skipped, the implementation refused to start")
                continue
            if side == "impl" and op != "start" and self.adapter is None:
                self.start_impl()
            self.log(f"-- step {i + 1}: {side} {op}")
            try:
                fn(step)
            except StepFailed as e:
                raise StepFailed(f"step {i + 1} ({side} {op}): {e}") from None

    def cleanup(self):
        self.peer.close()
        if self.adapter:
            self.adapter.stop(grace=1.0)
