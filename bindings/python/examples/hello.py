"""Say hello to a net-queue server (the Python reference's README server,
the C `nq server --codec pickle --reply ...`, or any other) and print its
answer. Pickle, the reference's default codec, on both sides.

    python hello.py --port 51966 [--host 127.0.0.1] [--text "Hello, Server!"]
"""
import argparse

import netqueue as nq

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, default=51966)
ap.add_argument("--text", default="Hello, Server!")
args = ap.parse_args()

options = nq.CommunicatorOptions(netloc=nq.NetworkLocation(args.host, args.port))
with nq.new(purpose=nq.Purpose.CLIENT, options=options) as queue:
    queue.put(args.text).result(timeout=30)
    message = queue.get(timeout=30)
print(message.data, flush=True)
