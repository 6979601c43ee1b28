#!/usr/bin/env python3
"""A test adapter that gets the handshake wrong on purpose, so that the
runner has real failures to report (tests/html_browser.py).

TCP, current dialect only (anything else exits 127). As a server it answers
a client's first bytes with an ini one byte short (a 15-byte id) and closes;
as a client it sends such an ini and closes. Every line it writes to stderr
is hostile markup: the HTML report must show it as text.
"""
import argparse
import json
import socket
import struct
import sys
import threading

ID = bytes.fromhex("badbadbadbadbadbadbadbadbadbad0d")
HOSTILE = ('</pre></details></table><script>document.title="pwned"</script>'
           '<img src=x onerror="document.body.dataset.pwned=1">'
           '<h1 id="injected">injected &amp; "quoted" \'single\'</h1>')


def short_ini():
    return struct.pack(">Q", 15) + ID[:15]


def say(event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def serve(conn):
    with conn:
        conn.settimeout(5)
        try:
            if conn.recv(64):
                conn.sendall(short_ini())
            # and keeps the connection until the peer closes it: a first
            # frame of the wrong size should close it (tcp/frame/4, SHOULD),
            # so that case is NON-STRICT for the report's colours
            while conn.recv(65536):
                pass
        except OSError:
            pass


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--role", required=True)
    p.add_argument("--transport", required=True)
    p.add_argument("--dialect", default="current")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    a, _rest = p.parse_known_args(argv)
    if a.transport != "tcp" or a.dialect != "current" or a.role not in ("server", "client"):
        return 127
    print(HOSTILE, file=sys.stderr, flush=True)
    if a.role == "server":
        lsock = socket.create_server((a.host, a.port))
        port = lsock.getsockname()[1]

        def accept():
            while True:
                try:
                    conn, _addr = lsock.accept()
                except OSError:
                    return
                threading.Thread(target=serve, args=(conn,), daemon=True).start()
        threading.Thread(target=accept, daemon=True).start()
    else:
        port = a.port
        try:
            with socket.create_connection((a.host, a.port), timeout=5) as s:
                s.sendall(short_ini())
        except OSError as e:
            print(f"connect: {e}", file=sys.stderr, flush=True)
    say({"event": "ready", "id": ID.hex(), "port": port, "adapter_protocol": "1.0"})
    # Commands are read (so the runner's writes never block) and ignored,
    # except id; end of stdin ends the case.
    for line in sys.stdin:
        try:
            cmd = json.loads(line)
        except ValueError:
            continue
        if cmd.get("cmd") == "id":
            say({"event": "id", "id": ID.hex()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
