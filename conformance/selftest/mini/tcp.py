"""TCP and TLS (protocol §3 TCP, §9): one reader and one writer thread per
connection, blocking sockets."""
import select
import socket
import ssl
import threading

from . import mutants as M
from .session import Session, warn

READ = 256 << 10


class Link:
    """One connection and its session."""

    def __init__(self, comm, sock=None):
        self.comm, self.sock = comm, sock
        self.session = Session(comm, self)
        self.finishing = self.aborted = False
        self.io_lock = None  # TLS: one SSL object must not read and write at once

    def start_io(self, sock):
        if isinstance(sock, ssl.SSLSocket):
            sock.setblocking(False)
            self.io_lock = threading.Lock()
        self.sock = sock

    def recv(self):
        if self.io_lock is None:
            return self.sock.recv(READ)
        while True:
            with self.io_lock:
                try:
                    return self.sock.recv(READ)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
            select.select([self.sock], [], [], 0.2)

    def sendall(self, data):
        if self.io_lock is None:
            return self.sock.sendall(data)
        view = memoryview(data)
        while view:
            with self.io_lock:
                try:
                    n = self.sock.send(view[:1 << 16])
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    n = 0
            if n:
                view = view[n:]
            else:
                select.select([], [self.sock], [], 0.2)

    # called by the session with the lock held: never block
    def finish(self):
        self.finishing = True
        self.comm.cond.notify_all()

    def abort(self):
        self.aborted = True
        sock = self.sock
        if sock is not None:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass
        self.session.link_lost()

    def run(self):
        """Read until the stream ends (on its own thread)."""
        threading.Thread(target=self._write, daemon=True).start()
        s = self.session
        try:
            while True:
                data = self.recv()
                if not data:
                    break
                s.on_bytes(data)
        except (OSError, ValueError):
            pass
        with self.comm.cond:
            s.link_lost()
            self.comm.cond.notify_all()
        try:
            self.sock.close()
        except OSError:
            pass

    def _write(self):
        s, cond = self.session, self.comm.cond
        while True:
            with cond:
                while not (s.q or s.lost or self.finishing or self.aborted) or (s.held() and not self.aborted):
                    cond.wait()
                if s.lost or self.aborted:
                    return
                if not s.q and self.finishing:
                    break
                data, cbs = s.take()
            try:
                self.sendall(data)
            except (OSError, ValueError) as e:
                warn(f"send failed: {e}")
                for cb in cbs:
                    cb(False, str(e))
                with cond:
                    s.link_lost()
                return
            s.sent(cbs)
        # both fins passed: no half-close, the connection ends (§5.2)
        try:
            socket.socket.shutdown(self.sock, socket.SHUT_WR)
        except OSError:
            pass


class Server:
    def __init__(self, comm, a):
        self.comm, self.a = comm, a
        self.links = []
        self.ctx = None
        if a.transport == "tls":
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(a.cert, a.key)
        self.lsock = socket.create_server((a.host, a.port))
        self.port = self.lsock.getsockname()[1]
        self.accepting = True

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.accepting:
            try:
                conn, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ctx is not None:
            plain = False
            if M.on("tls-plaintext"):
                try:
                    first = conn.recv(1, socket.MSG_PEEK)
                except OSError:
                    first = b""
                plain = first[:1] != b"\x16"  # not a TLS handshake record
            if not plain:
                try:
                    conn = self.ctx.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError) as e:
                    warn(f"TLS handshake failed: {e}")
                    conn.close()
                    return
        link = Link(self.comm)
        link.start_io(conn)
        with self.comm.cond:
            if not self.accepting:
                conn.close()
                return
            self.links.append(link)
            if M.on("ini-early"):
                link.session.queue_ini()
        link.run()

    def stop_accepting(self):
        self.accepting = False
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.comm.cond:
            for l in self.links:
                if l.session.peer_id is None:
                    l.abort()

    def stop(self):
        self.stop_accepting()
        with self.comm.cond:
            for l in self.links:
                if not l.session.done:
                    l.abort()


class Client:
    def __init__(self, comm, a):
        self.comm, self.a = comm, a
        self.port = a.port
        self.link = Link(comm)
        comm.client = self.link.session
        with comm.cond:
            self.link.session.queue_ini()

    def start(self):
        threading.Thread(target=self._connect, daemon=True).start()

    def _connect(self):
        a, link = self.a, self.link
        try:
            sock = socket.create_connection((a.host, a.port), timeout=10)
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if a.transport == "tls":
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                if M.on("tls-no-verify"):
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                else:
                    if a.ca:
                        ctx.load_verify_locations(a.ca)
                    else:
                        ctx.load_default_certs()
                    if M.on("tls-no-hostname"):
                        ctx.check_hostname = False
                name = a.host if M.on("tls-ignore-server-name") else (a.server_name or a.host)
                sock = ctx.wrap_socket(sock, server_hostname=name)
        except (OSError, ssl.SSLError) as e:
            warn(f"connect to {a.host}:{a.port} failed: {e}")
            with self.comm.cond:
                link.session.link_lost()
            return
        with self.comm.cond:
            if link.session.lost:
                sock.close()
                return
            link.start_io(sock)
        link.run()

    def stop_accepting(self):
        pass

    def stop(self):
        with self.comm.cond:
            if not self.link.session.done:
                self.link.abort()
