"""Scripted wire peer for TCP and TLS: a raw socket, no session logic.

It writes exactly the pieces the script asks for (TCP_NODELAY, one send
per piece, an optional pause between pieces so that they arrive as
separate reads), reads whatever comes, and can stop anywhere, half-close
or cut the connection. Over TLS each piece is one TLS record.
"""
import os
import queue
import socket
import ssl
import threading
import time

HOST = "127.0.0.1"


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Link:
    """One connection, seen from the scripted peer."""

    def __init__(self, sock, log, name):
        self.sock, self.log, self.name = sock, log, name

    def send(self, pieces, delay=0.0):
        for i, p in enumerate(pieces):
            if i and delay:
                time.sleep(delay)
            self.sock.sendall(p)
            self.log(f"peer {self.name} > {len(p)} B {p[:48].hex()}{'…' if len(p) > 48 else ''}")

    def recv(self, timeout):
        """Bytes, b"" at end of stream (or reset), None on timeout."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except (socket.timeout, TimeoutError):
            return None
        except ssl.SSLWantReadError:
            return None
        except (ConnectionError, ssl.SSLError, OSError) as e:
            self.log(f"peer {self.name}: recv: {e}")
            return b""
        if data:
            self.log(f"peer {self.name} < {len(data)} B {data[:48].hex()}{'…' if len(data) > 48 else ''}")
        else:
            self.log(f"peer {self.name} < end of stream")
        return data

    def shutdown_write(self):
        self.log(f"peer {self.name}: half-close (shutdown write)")
        try:
            # Over TLS this cuts the TCP stream without close_notify,
            # which is what a half-closing peer looks like on the wire.
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self, abort=False):
        self.log(f"peer {self.name}: {'reset' if abort else 'close'}")
        try:
            if abort:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            self.sock.close()
        except OSError:
            pass


class Peer:
    """role "server": the implementation listens and we connect; role
    "client": we listen and accept the implementation's connections."""

    def __init__(self, transport, role, certs, log):
        self.tls = transport == "tls"
        self.role, self.certs, self.log = role, certs, log
        self.listener = None
        self.port = None
        self.links = []

    def cert(self, name):
        return os.path.join(self.certs, name)

    def listen(self, cert="server"):
        """Impl is the client: listen (TLS with certificate `cert`)."""
        self.listener = socket.socket()
        self.listener.bind((HOST, 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.server_cert = cert
        self.accepted = queue.Queue()
        self.log(f"peer: listening on {HOST}:{self.port}" + (f" (TLS, {cert}.pem)" if self.tls else ""))
        # Accept (and handshake) in the background: a client under test
        # may block in its constructor until its TLS handshake is done.
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                s, addr = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handshake, args=(s, addr), daemon=True).start()

    def _handshake(self, s, addr):
        try:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(self.cert(self.server_cert + ".pem"), self.cert(self.server_cert + ".key"))
                s.settimeout(10)
                s = ctx.wrap_socket(s, server_side=True)
            self.accepted.put((s, addr))
        except (OSError, ssl.SSLError) as e:
            s.close()
            self.accepted.put((None, f"{addr[0]}:{addr[1]}: {type(e).__name__}: {e}"))

    def adapter_args(self, opts):
        """Command-line options for the adapter (impl side)."""
        if self.role == "server":
            self.port = free_port()
            args = ["--host", HOST, "--port", str(self.port)]
            if self.tls:
                args += ["--cert", self.cert("server.pem"), "--key", self.cert("server.key")]
            return args
        args = ["--host", opts.get("host", HOST), "--port", str(self.port)]
        if self.tls:
            args += ["--ca", self.cert(opts.get("ca", "ca") + ".pem")]
            if opts.get("server_name"):
                args += ["--server-name", opts["server_name"]]
        return args

    def open(self, name, timeout, handshake=True):
        if self.role == "server":
            s = socket.create_connection((HOST, self.port), timeout=timeout)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls and handshake:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s = ctx.wrap_socket(s)
            self.log(f"peer {name}: connected to {HOST}:{self.port}" + (" (TLS)" if self.tls and handshake else ""))
        else:
            try:
                s, addr = self.accepted.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no connection within {timeout} s") from None
            if s is None:
                raise ConnectionError(f"handshake failed: {addr}")
            self.log(f"peer {name}: accepted {addr[0]}:{addr[1]}")
        link = Link(s, self.log, name)
        self.links.append(link)
        return link

    def try_accept(self, timeout):
        """Impl is a client that should not get through (TLS failures):
        accept and handshake; return a Link or None (log why)."""
        try:
            return self.open("x", timeout)
        except (OSError, ssl.SSLError) as e:
            self.log(f"peer: no session: {type(e).__name__}: {e}")
            return None

    def close(self):
        for link in self.links:
            link.close()
        if self.listener:
            self.listener.close()
