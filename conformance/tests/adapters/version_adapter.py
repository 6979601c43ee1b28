#!/usr/bin/env python3
"""A test adapter that implements no protocol, only enough of the adapter
protocol (docs/spec/adapter.md) to pass tcp/s2c/7 (a broadcast with no
client completes): every put completes ok, every get times out. Its ready
event carries --adapter-protocol V ("none": no such field), so that the
runner's version check can be tested (tests/runner_cli.py)."""
import json
import sys


def emit(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def main(argv):
    version = argv[argv.index("--adapter-protocol") + 1] if "--adapter-protocol" in argv else "1.0"
    ready = {"event": "ready", "id": "00112233445566778899aabbccddeeff", "port": 0}
    if version != "none":
        ready["adapter_protocol"] = version
    emit(**ready)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get("cmd") == "put":
            emit(event="put-done", tag=cmd.get("tag"), ok=True)
        elif cmd.get("cmd") == "get":
            emit(event="error", cmd="get", tag=cmd.get("tag"), kind="timeout", error="timeout")
        elif cmd.get("cmd") == "close":
            emit(event="closed", ok=True)
        elif cmd.get("cmd") == "id":
            emit(event="id", id=ready["id"])
        else:
            emit(event="error", cmd=cmd.get("cmd"), error="unsupported")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
