#!/usr/bin/env bash
# Package test of the Go module: install this build into a temporary
# prefix (cmake --install), copy bindings/go next to it, and build a
# separate Go module there that requires netqueue.dev/netqueue through a
# replace directive pointing at the copy, with PKG_CONFIG_PATH naming the
# prefix and the library's directory as the binary's run path
# (-ldflags="-r LIBDIR", docs/bindings-go.md). No network (GOPROXY=off),
# no go.work, no LD_LIBRARY_PATH; the program must load libnetqueue from
# the prefix and run an echo round trip against `nq server --echo`.
#   go.sh SOURCE_DIR BUILD_DIR NQ       (go from PATH, or $GO)
set -euo pipefail
src=$1 build=$2 nq=$3
go=${GO:-go}
fail() { echo "package-go: FAIL: $*" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"
command -v "$go" >/dev/null || fail "no go on PATH (scripts/setup.sh installs the Go toolchain)"
command -v pkg-config >/dev/null || fail "no pkg-config on PATH (cgo finds libnetqueue with it)"
[ -x "$nq" ] || fail "no nq at $nq"

tmp=$(cd "$(mktemp -d)" && pwd -P)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
unset LD_LIBRARY_PATH LIBRARY_PATH CGO_LDFLAGS CGO_CFLAGS GOFLAGS
export GOPROXY=off GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=mod

echo "package-go: cmake --install into $tmp/prefix"
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name netqueue.pc -path '*/pkgconfig/*' | head -1)
[ -n "$pc" ] || fail "the install has no netqueue.pc"
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir netqueue)
libdir=$(cd "$libdir" && pwd -P)
[[ "$libdir" == "$tmp"/* ]] || fail "pkg-config gives libdir $libdir, not in the prefix"

cp -r "$src/bindings/go" "$tmp/netqueue-go"
mkdir "$tmp/app"
cd "$tmp/app"
cat >main.go <<'GO'
// Echo round trip against a server whose port is the first argument.
package main

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"strconv"
	"time"

	"netqueue.dev/netqueue"
)

func main() {
	port, err := strconv.Atoi(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	c, err := netqueue.New(netqueue.TCP, netqueue.Client,
		netqueue.WithHost("127.0.0.1"), netqueue.WithPort(port))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sent := []byte("from a Go module outside the tree")
	f, err := c.Put(sent)
	if err != nil {
		log.Fatal(err)
	}
	if err := f.Wait(ctx); err != nil {
		log.Fatal(err)
	}
	msg, err := c.Get(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if !bytes.Equal(msg.Data, sent) {
		log.Fatalf("the echo differs: %q", msg.Data)
	}
	if err := c.Close(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("echoed %d bytes; libnetqueue %s\n", len(msg.Data), netqueue.Version())
}
GO
# The commands docs/bindings-go.md gives a user.
"$go" mod init example.com/nqpackagetest >/dev/null 2>&1
"$go" mod edit -require=netqueue.dev/netqueue@v1.3.0 -replace=netqueue.dev/netqueue="$tmp/netqueue-go"
echo "package-go: go build -ldflags=\"-r $libdir\""
"$go" build -ldflags="-r $libdir" -o app .

dyn=$(readelf -d app)
echo "$dyn" | grep -E 'NEEDED|RPATH|RUNPATH'
echo "$dyn" | grep -q 'NEEDED.*libnetqueue\.so\.1' || fail "the program does not link libnetqueue.so.1"
echo "$dyn" | grep -E 'RPATH|RUNPATH' | grep -qF "$libdir" || fail "no run path to $libdir"
! echo "$dyn" | grep -E 'RPATH|RUNPATH' | grep -qF -e "$src" -e "$build" ||
    fail "the program has a run path into the tree"
resolved=$(ldd app | sed -n 's/.*libnetqueue\.so\.1 => \([^ ]*\).*/\1/p')
[[ "$resolved" == "$libdir"/* ]] || fail "libnetqueue.so.1 resolves to '$resolved', not into $libdir"

start_echo_server "$tmp/server.log" "$nq" server --echo --port 0 --host 127.0.0.1

out=$(./app "$port") || fail "the program failed: $out"
echo "package-go: $out"
want=$(sed -n 's/^#define NQ_ABI_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' "$src/abi/netqueue/version.h" | paste -sd.)
[[ "$out" == "echoed 33 bytes; libnetqueue $want" ]] || fail "unexpected output (want libnetqueue $want)"
echo "package-go: PASS"
