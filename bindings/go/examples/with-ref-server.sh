#!/usr/bin/env bash
# Run the Python reference's README server (tests/interop/readme_server.py,
# net-queue 2.6.4) on a free loopback port, then a client command with
# PORT replaced by that port; check that each side got the other's
# greeting. Used for both the Go and the Rust example.
#   with-ref-server.sh PYTHON CMD ARGS... (an argument PORT is replaced)
set -euo pipefail
py=$1; shift
[ -x "$py" ] || { echo "with-ref-server: no reference Python at $py" >&2; exit 77; }
root=$(cd "$(dirname "$0")/../../.." && pwd)
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
out=$(mktemp)
trap 'kill "$srv" 2>/dev/null || true; rm -f "$out"' EXIT
"$py" "$root/tests/interop/readme_server.py" 127.0.0.1 "$port" >"$out" &
srv=$!
args=()
for a in "$@"; do [ "$a" = PORT ] && args+=("$port") || args+=("$a"); done
reply=$("${args[@]}")
wait "$srv"
echo "client printed: $reply"
echo "reference server printed: $(cat "$out")"
[[ "$reply" == *'Hello, Client!'* ]] || { echo "with-ref-server: wrong reply" >&2; exit 1; }
grep -q "'Hello, Server!'" "$out" || { echo "with-ref-server: server got something else" >&2; exit 1; }
