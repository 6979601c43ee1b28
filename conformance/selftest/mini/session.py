"""One session: the handshake state of one link and its send queue
(protocol §3, §5). Transport-neutral: a transport feeds received bytes to
on_bytes() and pulls bytes to send with take(); the session tells its
link to finish() (both fins passed, nothing left to send) or abort()."""
import collections
import os
import sys

from . import framing
from . import mutants as M


def warn(msg):
    print(f"mini: {msg}", file=sys.stderr, flush=True)


class Session:
    def __init__(self, comm, link):
        self.comm, self.link = comm, link
        self.cond = comm.cond  # one lock per communicator
        self.reader = framing.Reader()
        self.peer_id = None
        self.q = collections.deque()  # [kind, bytes, callback or None]
        self.ini_sent = self.fin_queued = self.fin_sent = self.fin_recv = False
        self.ini_queued = False
        self.ini_held = False  # ini-after-data: the ini waits behind the first frame
        self.lost = self.done = False
        self.sent_n = self.recv_n = 0
        self.held_out = self.held_in = None  # reorder mutants
        self.last_data = None

    # -- sending ------------------------------------------------------------

    def push(self, kind, data, cb=None, front=False):
        """Queue a frame (caller holds the lock)."""
        item = [kind, framing.encode(data), cb]
        if front:
            self.q.appendleft(item)
        else:
            self.q.append(item)
        self.cond.notify_all()

    def held(self):
        """The client-waits-ini mutant sends nothing before the server's ini."""
        return (M.on("client-waits-ini") and self.comm.role == "client" and self.peer_id is None
                and not self.lost)

    def queue_ini(self):
        if self.ini_queued:
            return
        self.ini_queued = True
        if M.on("ini-after-data") and self.comm.role == "server":
            self.ini_held = True
            return
        self.push("ini", self.comm.id, front=True)

    def queue_fin(self):
        if self.fin_queued:
            return
        self.fin_queued = True
        fin = b"" if self.comm.legacy else self.comm.id
        early = (M.on("fin-before-data") and self.comm.role == "client") or \
                (M.on("server-fin-before-data") and self.comm.role == "server")
        if early:
            # ahead of the queued data, though behind an unsent ini
            pos = 1 if self.q and self.q[0][0] == "ini" else 0
            self.q.insert(pos, ["fin", framing.encode(fin), None])
            self.cond.notify_all()
        else:
            self.push("fin", fin)

    def put(self, data, cb):
        """Queue a data frame (caller holds the lock); cb(ok, err) once
        it has been handed to the transport."""
        self.sent_n += 1
        n = self.sent_n
        role = self.comm.role
        self.last_data = data
        if n == M.NTH and M.on(f"drop-send-{role}"):
            cb(True, None)
            return
        if n == M.NTH and M.on("reorder-send-client") and role == "client":
            self.held_out = (data, cb)
            return
        self.push("data", data, cb)
        if n == M.NTH and M.on("dup-send-server") and role == "server":
            self.push("data", data)
        if self.held_out and n == M.NTH + 1:
            self.push("data", *self.held_out)
            self.held_out = None

    def take(self, limit=16 << 20):
        """Queued bytes up to about limit, and their completions; marks ini
        and fin as sent (caller holds the lock). (b"", []) when empty."""
        parts, cbs, size = [], [], 0
        if self.q and len(self.q[0][1]) > limit and self.q[0][0] == "data":
            # a frame bigger than a piece goes in several; its completion
            # stays with the rest
            head = self.q[0]
            view = memoryview(head[1])
            head[1] = view[limit:]
            return bytes(view[:limit]), []
        while self.q and (not parts or size + len(self.q[0][1]) <= limit):
            kind, data, cb = self.q.popleft()
            if self.ini_held and kind in ("data", "fin"):
                self.ini_held = False
                self.q.appendleft(["ini", framing.encode(self.comm.id), None])
            if kind == "ini":
                self.ini_sent = True
            elif kind == "fin":
                self.fin_sent = True
            parts.append(data)
            size += len(data)
            if cb:
                cbs.append(cb)
        return b"".join(parts), cbs

    def sent(self, cbs):
        """The bytes of a take() are with the transport."""
        for cb in cbs:
            cb(True, None)
        with self.cond:
            self.check_done()

    def check_done(self):
        if self.done or self.lost:
            return
        finished = self.fin_sent and (self.fin_recv or
                                      (M.on("fin-no-wait") and self.comm.role == "client"))
        if finished and not self.q:
            self.done = True
            self.cond.notify_all()
            self.comm.session_done(self)
            self.link.finish()

    # -- receiving ----------------------------------------------------------

    def on_bytes(self, data):
        try:
            frames = self.reader.feed(data)
        except framing.FrameError as e:
            warn(f"{e}: dropping the connection")
            with self.cond:
                self.link.abort()
            return
        with self.cond:
            for p in frames:
                if self.lost:
                    return
                self.on_frame(p)

    def is_fin(self, p):
        if self.comm.role == "client" and self.fin_sent and M.on("after-fin-is-fin"):
            return True
        if self.comm.legacy:
            if M.on("legacy-id-is-fin") and p == self.peer_id:
                return True
            return len(p) == 0 and not M.on("legacy-empty-is-data")
        if len(p) != 16:
            return False
        if M.on("any16-is-fin"):
            return True
        if M.on("own-id-is-fin"):
            return p == self.comm.id
        return p == self.peer_id

    def on_frame(self, p):
        if self.peer_id is None:
            if len(p) != 16:
                if M.on("bad-first-frame-kept") and self.comm.role == "server":
                    self.comm.deliver(os.urandom(16), p)
                    return
                warn(f"a first frame of {len(p)} bytes, not a 16-byte id: dropping the connection")
                self.link.abort()
                return
            # mqtt-id-from-topic: the id read from the topic in the wrong byte order
            self.peer_id = getattr(self, "topic_id", None) or p
            self.comm.on_ini(self)
            return
        if self.is_fin(p):
            if not self.fin_recv:
                self.fin_recv = True
                if self.comm.role == "server" and not M.on("fin-unanswered"):
                    self.queue_fin()
                self.comm.on_fin(self)
                self.check_done()
            return
        self.recv_n += 1
        n, role = self.recv_n, self.comm.role
        pid = self.comm.id if (M.on("wrong-peer-id") and role == "client") else self.peer_id
        if n == M.NTH and M.on(f"drop-recv-{role}"):
            return
        if n == M.NTH and M.on("reorder-recv-client") and role == "client":
            self.held_in = p
            return
        self.comm.deliver(pid, p)
        if n == M.NTH and M.on("dup-recv-server") and role == "server":
            self.comm.deliver(pid, p)
        if self.held_in is not None and n == M.NTH + 1:
            self.comm.deliver(pid, self.held_in)
            self.held_in = None

    def link_lost(self):
        """The connection ended (caller holds the lock)."""
        if self.lost or self.done:
            return
        self.lost = True
        for _, _, cb in self.q:
            if cb:
                cb(False, "connection lost")
        self.q.clear()
        self.cond.notify_all()
        self.comm.session_lost(self)
