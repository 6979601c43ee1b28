#!/usr/bin/env bash
# One exchange in each binding language, with a transcript:
#  1. Python binding client -> Python reference server (its README example)
#  2. Java binding client   -> Python reference server
#  3. Python binding client -> Java binding server
# Needs scripts/setup.d/bindings-python-java.sh done.
set -euo pipefail
cd "$(dirname "$0")/../.."
ref=.venv-ref/bin/python py=.venv-bindings/bin/python
say() { printf '\n== %s\n' "$*"; }

say "Python binding client -> Python reference server"
bash bindings/go/examples/with-ref-server.sh "$ref" "$py" bindings/python/examples/hello.py --port PORT

say "Java binding client -> Python reference server"
bash bindings/go/examples/with-ref-server.sh "$ref" bash bindings/java/run-example.sh Hello.java PORT

say "Python binding client -> Java binding server"
out=$(mktemp)
bash bindings/java/run-example.sh EchoServer.java 1 >"$out" &
srv=$!
trap 'kill "$srv" 2>/dev/null || true; rm -f "$out"' EXIT
until grep -q '^listening on' "$out"; do
    kill -0 "$srv" 2>/dev/null || { echo "demo: Java server did not start" >&2; exit 1; }
    sleep 0.1
done
port=$(sed -n 's/^listening on //p' "$out")
echo "java server listening on 127.0.0.1:$port"
reply=$("$py" bindings/python/examples/hello.py --port "$port" --text "Hello from Python")
wait "$srv"
grep -v '^listening on' "$out"
echo "python client got: $reply"
[ "$reply" = "Hello, Client!" ]
