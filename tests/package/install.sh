#!/usr/bin/env bash
# install.sh BUILD SRC VERSION: `cmake --install BUILD --prefix P` into a
# temporary P, then, from a directory outside the tree with no
# LD_LIBRARY_PATH: P/bin/nq runs (its RUNPATH is $ORIGIN/../<libdir>);
# examples/echo_client.c built with P's netqueue.pc and -Wl,-rpath,P/<libdir>
# (docs/building.md) echoes through P/bin/nq; and the same client linked
# statically against P's libnetqueue.a (pkg-config --static, the .so
# removed from a copy of P) runs too. Nothing may resolve into BUILD.
set -euo pipefail
build=$1 src=$2 version=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill -9 "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
unset LD_LIBRARY_PATH PKG_CONFIG_PATH

P=$tmp/prefix
cmake --install "$build" --prefix "$P" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }
pc=$(find "$P" -path '*/pkgconfig/netqueue.pc')
libdir=$(dirname "$(dirname "$pc")")
echo "installed into $P (libdir ${libdir#"$P"/})"
mkdir "$tmp/use"
cp "$src/examples/echo_client.c" "$tmp/use/"
cd "$tmp/use"

# An installed binary must load the installed library, not the build tree's.
check_loads() { # BINARY LIBDIR
    local lib
    lib=$(ldd "$1" | awk '$1 == "libnetqueue.so.1" {print $3}')
    [ "$lib" -ef "$2/libnetqueue.so.1" ] || fail "$1 loads libnetqueue.so.1 from '${lib:-nowhere}', not $2"
    ! readelf -d "$1" | grep -E 'RPATH|RUNPATH' | grep -q -e "$build" -e "$src" ||
        fail "$1 has a RUNPATH into the build or source tree: $(readelf -d "$1" | grep -E 'RPATH|RUNPATH')"
}

echo "== P/bin/nq without LD_LIBRARY_PATH"
readelf -d "$P/bin/nq" | grep -q "RUNPATH.*\[\$ORIGIN/\.\./${libdir#"$P"/}\]" ||
    fail "P/bin/nq's RUNPATH is not \$ORIGIN/../${libdir#"$P"/}: $(readelf -d "$P/bin/nq" | grep -E 'RPATH|RUNPATH')"
check_loads "$P/bin/nq" "$libdir"
"$P/bin/nq" --version | grep -q "$version" || fail "P/bin/nq --version: $("$P/bin/nq" --version 2>&1)"

echo "== echo_client with pkg-config and -Wl,-rpath"
export PKG_CONFIG_PATH=$libdir/pkgconfig
# shellcheck disable=SC2046
cc -o echo_client echo_client.c $(pkg-config --cflags --libs netqueue) -Wl,-rpath,"$libdir" ||
    fail "echo_client does not build against P"
check_loads ./echo_client "$libdir"

echo "== echo_client linked statically against libnetqueue.a (pkg-config --static)"
S=$tmp/static-prefix
cp -a "$P" "$S"
rm -f "${libdir/#$P/$S}"/libnetqueue.so*
# shellcheck disable=SC2046
cc -o echo_client_static echo_client.c \
    $(PKG_CONFIG_PATH=${libdir/#$P/$S}/pkgconfig pkg-config --static --cflags --libs netqueue) ||
    fail "a static link with pkg-config --static --libs netqueue fails: netqueue.pc lacks something"
! readelf -d echo_client_static | grep -q 'NEEDED.*libnetqueue' || fail "echo_client_static still needs libnetqueue.so"
rm -rf "$S"

start_echo_server "$tmp/server.err" "$P/bin/nq" server --echo --host 127.0.0.1 --port 0
for client in ./echo_client ./echo_client_static; do
    got=$(timeout 60 "$client" --port "$port" "via $client" "bye") || fail "$client failed"
    [ "$got" = "$(printf 'via %s\nbye' "$client")" ] || fail "$client printed '$got'"
    echo "$client: echoed through P/bin/nq"
done
kill -INT "$server"
timeout 20 tail --pid="$server" -f /dev/null || fail "P/bin/nq server did not stop within 20 s of SIGINT"
server=
echo "install: P/bin/nq, a pkg-config client (-rpath) and a static one all run without LD_LIBRARY_PATH"
