#!/usr/bin/env bash
# Async receive of the Rust binding against C's (bench/recv_bench.c) and
# against the binding's blocking get, in one run (issue 13): 64 B x COUNT,
# and 1 MiB x 1024 (1 GiB, as recv_bench) unless ONLY64=1. Holds
# /tmp/nq-bench.lock like every benchmark of the shared machine.
#   bench/bindings/rust/recv_bench.sh [REPS] [COUNT]    (default 5, 200000)
# Needs build/ (ninja -C build recv_bench) and the installed prefix the Rust
# tests use (build/bindings-go-rust-prefix, ctest -R bindings_go_rust_install).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${BUILD:-$root/build}
reps=${1:-5}
count=${2:-200000}
prefix=$build/bindings-go-rust-prefix
pc=$(ls -d "$prefix"/lib*/pkgconfig 2>/dev/null | head -1)
[ -n "$pc" ] || { echo "recv_bench.sh: no netqueue.pc under $prefix" >&2; exit 1; }
[ -x "$build/bench/recv_bench" ] || { echo "recv_bench.sh: no $build/bench/recv_bench" >&2; exit 1; }
# the binding gives only its own crate's targets a run path (docs/bindings-rust.md)
export PKG_CONFIG_PATH=$pc CARGO_TARGET_DIR=$build/bench-rust-target LD_LIBRARY_PATH=$(dirname "$pc")
(cd "$here" && cargo build -q --release --locked -j 2 --bin recv_bench_rust)
sizes=64,1048576
[ "${ONLY64:-0}" = 1 ] && sizes=64
exec flock /tmp/nq-bench.lock bash -c '
  "$1/bench/recv_bench" --reps "$2" --sizes "$4" --count64 "$3"
  "$CARGO_TARGET_DIR/release/recv_bench_rust" --reps "$2" --size 64 --count "$3"
  [ "$4" = 64 ] || "$CARGO_TARGET_DIR/release/recv_bench_rust" --reps "$2" --size 1048576 --count 1024
' _ "$build" "$reps" "$count" "$sizes"
