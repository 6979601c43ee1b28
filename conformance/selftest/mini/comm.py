"""A communicator: one id, a receive queue, the sessions, put/get/close
(protocol §3–§5). The transport (tcp.py, mqtt.py, grpc_.py) makes the
links and their sessions."""
import collections
import os
import threading
import time

from . import mutants as M


class Comm:
    def __init__(self, role, legacy, events=None):
        self.id = os.urandom(16)
        self.role, self.legacy = role, legacy
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.recvq = collections.deque()  # (peer id, payload)
        self.sessions = {}  # server: peer id -> session that has sent its ini
        self.finished = set()  # server: ids whose session ended with fin
        self.client = None  # client: its one session
        self.closing = self.closed = False
        self.transport = None
        self.events = events or (lambda ev: None)

    # -- called by sessions (lock held) -------------------------------------

    def deliver(self, peer, payload):
        self.recvq.append((peer, payload))
        self.cond.notify_all()

    def on_ini(self, s):
        if self.role == "server":
            old = self.sessions.get(s.peer_id)
            if old is not None and old is not s:
                old.link.abort()
            self.sessions[s.peer_id] = s
            self.finished.discard(s.peer_id)
            s.queue_ini()
        self.cond.notify_all()
        self.events({"event": "ini", "peer": s.peer_id.hex()})

    def on_fin(self, s):
        self.events({"event": "fin", "peer": s.peer_id.hex()})

    def session_done(self, s):
        if self.role == "server" and s.peer_id is not None:
            if self.sessions.get(s.peer_id) is s:
                del self.sessions[s.peer_id]
            self.finished.add(s.peer_id)
        self.cond.notify_all()

    def session_lost(self, s):
        if self.role == "server" and s.peer_id is not None and self.sessions.get(s.peer_id) is s:
            del self.sessions[s.peer_id]
        self.cond.notify_all()

    # -- the adapter's commands ----------------------------------------------

    def live(self):
        return [s for s in self.sessions.values()
                if not (s.fin_recv or s.fin_queued or s.lost or s.done)]

    def put(self, data, peers, cb):
        """cb(ok, error) exactly once, from any thread."""
        with self.lock:
            if self.closing:
                return cb(False, "closing")
            if self.role == "client":
                if peers:
                    return cb(False, "a client cannot name peers")
                s = self.client
                if s.lost or s.done:
                    return cb(False, "connection lost")
                return s.put(data, cb)
            live = {s.peer_id: s for s in self.live()}
            if peers:
                missing = [p for p in peers if p not in live]
                if missing:
                    if M.on("put-unknown-ok") and not any(p in self.finished for p in missing):
                        return cb(True, None)
                    if M.on("put-finished-ok") and all(p in self.finished for p in missing):
                        return cb(True, None)
                    if M.on("put-unknown-broadcast") and not any(p in self.finished for p in missing):
                        targets = list(live.values())
                    else:
                        return cb(False, "no session with peer " + missing[0].hex())
                elif M.on("targeted-broadcast"):
                    targets = list(live.values())
                else:
                    targets = [live[p] for p in dict.fromkeys(peers)]
            else:
                targets = list(live.values())
            if not targets:
                return cb(True, None)
            left = [len(targets), True, None]
            lk = threading.Lock()

            def one(ok, err):
                with lk:
                    left[0] -= 1
                    if not ok:
                        left[1:] = [False, err]
                    if left[0]:
                        return
                cb(left[1], left[2])
            for s in targets:
                s.put(data, one)

    def get(self, timeout, peers=None):
        """("message", peer, payload), ("timeout",) or ("closed",)."""
        # missing or negative: no limit (docs/spec/adapter.md, ADAPTER-8)
        deadline = time.monotonic() + (timeout if timeout is not None and timeout >= 0 else 1e9)
        with self.cond:
            while True:
                for i, (peer, payload) in enumerate(self.recvq):
                    if not peers or peer in peers:
                        del self.recvq[i]
                        return ("message", peer, payload)
                if self.closed:
                    return ("closed",)
                left = deadline - time.monotonic()
                if left <= 0:
                    return ("timeout",)
                self.cond.wait(left)

    def start_close(self):
        """Client: fin after the queued puts (§5.1). Server: stop taking
        clients (§5.3). Done at once, before the next command."""
        with self.cond:
            if self.closing:
                return
            self.closing = True
            if self.role == "client":
                s = self.client
                if M.on("extra-after-last") and s.last_data is not None and not s.lost:
                    s.push("data", s.last_data)
                if not s.lost:
                    s.queue_fin()
            else:
                self.transport.stop_accepting()

    def close(self, timeout):
        """start_close, then wait for the fin exchange with the server (a
        client) or with every client (a server). -> (ok, error)."""
        deadline = time.monotonic() + (timeout if timeout is not None and timeout >= 0 else 1e9)
        self.start_close()
        with self.cond:
            pending = self._unfinished
            while pending() and deadline > time.monotonic():
                self.cond.wait(deadline - time.monotonic())
            left = pending()
        err = None
        if left:
            err = "timed out waiting for " + ", ".join(s.peer_id.hex() if s.peer_id else "?" for s in left)
        elif self.role == "client" and self.client.lost:
            err = "connection lost before the server's fin"
        self.transport.stop()
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        return (err is None, err)

    def _unfinished(self):
        if self.role == "client":
            s = self.client
            return [] if (s.done or s.lost) else [s]
        return [s for s in self.sessions.values() if not (s.done or s.lost)]
