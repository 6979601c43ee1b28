#!/usr/bin/env python3
"""RSS per idle TLS session on one netqueue server (docs/scaling.md, "TLS").

Starts sessions_server with TLS (the test certificates of build/test-certs)
and opens N TLS connections from this process (Python's ssl module: a load
generator speaking the wire protocol, not netqueue), each sending its ini
and reading the server's; then prints the server's (RSS with N idle TLS
sessions - RSS before any) / N. --pace K keeps at most K handshakes in
flight (0: all at once; the server's RSS then also holds what N concurrent
handshakes left in its allocator). --lib runs the server on another
libnetqueue. Not a test; run under flock /tmp/nq-bench.lock.
"""
import argparse
import os
import resource
import selectors
import socket
import ssl
import subprocess
import sys
import time

IP_BIND_ADDRESS_NO_PORT = 24


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    build = os.path.join(here, "..", "build")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--pace", type=int, default=0)
    ap.add_argument("--bin", default=os.path.join(build, "tests", "integration"))
    ap.add_argument("--certs", default=os.path.join(build, "test-certs"))
    ap.add_argument("--lib")
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    n = a.sessions
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < n + 64:
        sys.exit(f"tls_sessions.py: {n} sessions need {n + 64} descriptors; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    env = dict(os.environ)
    if a.lib:
        env["LD_LIBRARY_PATH"] = a.lib
    srv = subprocess.Popen([os.path.join(a.bin, "sessions_server"), "--tls-cert", os.path.join(a.certs, "server.pem"),
                            "--tls-key", os.path.join(a.certs, "server.key")],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, env=env)
    words = srv.stdout.readline().split()
    port, rss0 = int(words[1]), int(words[2])
    ctx = ssl.create_default_context(cafile=os.path.join(a.certs, "ca.pem"))
    sel = selectors.DefaultSelector()
    conns = []

    def start(j):
        s = socket.socket()
        s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind((f"127.{200 + j // 60000}.{(j // 250) % 240}.{1 + j % 250}", 0))
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        t = ctx.wrap_socket(s, server_hostname="localhost", do_handshake_on_connect=False)
        conns.append(t)
        sel.register(t, selectors.EVENT_READ | selectors.EVENT_WRITE, [0, b""])

    started = n if not a.pace else min(a.pace, n)
    for j in range(started):
        start(j)
    done, t0 = 0, time.monotonic()
    while done < n and time.monotonic() - t0 < a.timeout:
        for key, _ in sel.select(1):
            t, st = key.fileobj, key.data
            try:
                if st[0] == 0:
                    t.do_handshake()
                    st[0] = 1
                    t.send(bytes(7) + b"\x10" + os.urandom(16))  # our ini: a 16-byte id
                    sel.modify(t, selectors.EVENT_READ, st)
                if st[0] == 1:
                    st[1] += t.recv(4096)
                    if len(st[1]) >= 24:  # the server's ini
                        st[0] = 2
                        done += 1
                        sel.unregister(t)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
        while a.pace and started < n and started - done < a.pace:
            start(started)
            started += 1
    srv.stdin.write(f"wait {n} 30\n")
    words = srv.stdout.readline().split()
    est, rss1 = int(words[1]), int(words[4])
    print(f"TLS sessions {est} of {n}, handshakes {time.monotonic() - t0:.1f} s, "
          f"RSS per idle TLS session {(rss1 - rss0) * 1024 / n:,.0f} B (RSS {rss0} -> {rss1} KiB)")
    srv.stdin.write("quit\n")
    srv.stdin.flush()
    for t in conns:
        t.close()
    srv.wait(timeout=30)
    sys.exit(0 if est == n else 1)


if __name__ == "__main__":
    main()
