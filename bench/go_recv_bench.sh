#!/bin/sh
# Go binding's asynchronous receive at 64 B against its blocking Get and
# against C's recv_bench (issue 13), in one run under the bench lock.
# Not a test: numbers only (bench/README.md).
#   bench/go_recv_bench.sh [BUILD_DIR] [REPS]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
reps=${2:-5}
prefix=$build/bindings-go-rust-prefix
# The Go binding builds against an installed libnetqueue (netqueue.pc).
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig" LD_LIBRARY_PATH="$prefix/lib"
exe=$build/bench/recv_bench_go
(cd "$here/bindings/go-recv" && go build -o "$exe" .)
flock /tmp/nq-bench.lock sh -c "
  '$build/bench/recv_bench' --reps $reps --sizes 64 --count64 200000
  '$exe' --reps $reps --size 64 --count 200000"
