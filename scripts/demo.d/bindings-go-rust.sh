#!/usr/bin/env bash
# Demo: one exchange from each of the Go and Rust bindings with the Python
# reference's README server (net-queue 2.6.4), then Go client <-> Rust
# server, with a transcript. Exits non-zero if a greeting is lost.
set -euo pipefail
cd "$(dirname "$0")/../.."
py=$PWD/.venv-ref/bin/python
prefix=$PWD/build/bindings-go-rust-prefix
[ -f "$prefix/lib/pkgconfig/netqueue.pc" ] || cmake --install build --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig LD_LIBRARY_PATH=$prefix/lib
say() { printf '\n== %s\n' "$*"; }

say "Go client (bindings/go/examples/hello) -> Python reference README server"
(cd bindings/go && go build -o "$prefix/hello-go" ./examples/hello &&
 bash examples/with-ref-server.sh "$py" "$prefix/hello-go" -port PORT)

say "Rust client (bindings/rust examples/hello) -> Python reference README server"
(cd bindings/rust && cargo build -q -j 2 --locked --example hello --example echo_server &&
 bash ../go/examples/with-ref-server.sh "$py" target/debug/examples/hello --port PORT)

say "Go client -> Rust echo server (bindings/rust examples/echo_server)"
log=$(mktemp)
trap 'kill "$srv" 2>/dev/null || true; rm -f "$log"' EXIT
bindings/rust/target/debug/examples/echo_server --port 0 --count 1 2>"$log" &
srv=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on .*:\([0-9]*\).*/\1/p' "$log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "demo: the Rust server did not start" >&2; exit 1; }
echo "Rust server: $(head -1 "$log")"
echo "Go client says: Hello from Go to Rust!"
reply=$("$prefix/hello-go" -raw -port "$port" -text 'Hello from Go to Rust!')
echo "Go client got back: $reply"
[[ "$reply" == *'Hello from Go to Rust!'* ]] || { echo "demo: echo lost" >&2; exit 1; }
wait "$srv"
echo "demo(bindings-go-rust): ok"
