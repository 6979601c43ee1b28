#!/usr/bin/env bash
# The Java binding's getAsync at SIZE (64 B) against its blocking get and
# against C's asynchronous receive (build/bench/recv_bench), in one run,
# medians of REPS, under the machine's benchmark lock (bench/README.md).
#   bench/bindings/java/recv_bench.sh [REPS] [COUNT]
# Needs: build/bench/recv_bench and put_bench (ninja -C build recv_bench put_bench) and the Java
# binding built (cd bindings/java && mvn -DskipTests package).
set -euo pipefail
reps=${1:-3} count=${2:-200000}
root=$(cd "$(dirname "$0")/../../.." && pwd)
classes=$root/bindings/java/target/classes native=$root/bindings/java/target/native
[ -x "$root/build/bench/recv_bench" ] || { echo "recv_bench.sh: build build/bench/recv_bench first" >&2; exit 1; }
[ -d "$classes/org/netqueue" ] || { echo "recv_bench.sh: build the Java binding first (mvn -DskipTests package)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
javac -d "$out" -cp "$classes" "$root/bench/bindings/java/RecvBench.java"
exec 9>/tmp/nq-bench.lock
flock 9
echo "== C: build/bench/recv_bench --reps $reps --sizes 64 --count64 $count"
"$root/build/bench/recv_bench" --reps "$reps" --sizes 64 --count64 "$count"
echo "== Java: RecvBench --size 64 --count $count --reps $reps --sender build/bench/put_bench (C sender process)"
java -Dnetqueue.libdir="$native" -cp "$out:$classes" RecvBench --size 64 --count "$count" --reps "$reps" --sender "$root/build/bench/put_bench"
echo "== Java: RecvBench --size 64 --count $count --reps $reps (Java client thread as sender)"
java -Dnetqueue.libdir="$native" -cp "$out:$classes" RecvBench --size 64 --count "$count" --reps "$reps"
