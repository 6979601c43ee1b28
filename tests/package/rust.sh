#!/usr/bin/env bash
# Package test of the Rust crates: `cargo package` both, unpack the .crate
# files in a temporary directory, and build a new cargo project there that
# depends on the unpacked netqueue with features = ["vendored"] (its
# netqueue-sys patched to the unpacked one, as crates.io would give it).
# That proves the packaged crates are complete: the C library is built
# from the sources inside the netqueue-sys crate, with no PKG_CONFIG_PATH
# naming any netqueue and no LD_LIBRARY_PATH. The program must not need
# libnetqueue.so, and it runs an echo round trip against `nq server --echo`
# on loopback.
#   rust.sh SOURCE_DIR NQ       (cargo from PATH, or $CARGO)
set -euo pipefail
src=$1 nq=$2
cargo=${CARGO:-cargo}
fail() { echo "package-rust: FAIL: $*" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"
command -v "$cargo" >/dev/null || fail "no cargo on PATH (scripts/setup.sh installs the Rust toolchain)"
command -v cmake >/dev/null || fail "no cmake on PATH (the vendored build needs it)"
[ -x "$nq" ] || fail "no nq at $nq"

tmp=$(cd "$(mktemp -d)" && pwd -P)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
# Nothing may find a netqueue installed elsewhere, nor the build tree's.
unset PKG_CONFIG_PATH LD_LIBRARY_PATH LIBRARY_PATH NETQUEUE_NO_RPATH RUSTFLAGS
export CARGO_TARGET_DIR=$tmp/target

echo "package-rust: cargo package --features vendored (crates into $tmp)"
# As docs/bindings-rust.md says: both at once, so that cargo verifies
# netqueue against the packaged netqueue-sys (its temporary registry), each
# built with `vendored` (without it, verifying needs an installed
# libnetqueue). --offline: setup fetched every crate.
(cd "$src/bindings/rust" &&
    "$cargo" package -p netqueue-sys -p netqueue --features vendored -j 2 --offline --locked --allow-dirty -q)
mkdir "$tmp/crates"
for c in "$CARGO_TARGET_DIR"/package/netqueue-sys-*.crate "$CARGO_TARGET_DIR"/package/netqueue-[0-9]*.crate; do
    tar -xzf "$c" -C "$tmp/crates"
done
sys=$(ls -d "$tmp"/crates/netqueue-sys-*) safe=$(ls -d "$tmp"/crates/netqueue-[0-9]*)
[ -f "$sys/c/src/core/comm.c" ] || fail "the packaged netqueue-sys carries no C sources"
[ ! -L "$sys/c/src" ] || fail "the packaged netqueue-sys has a symlink where the sources belong"

mkdir -p "$tmp/app/src"
cat >"$tmp/app/Cargo.toml" <<TOML
[package]
name = "nq-package-test"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
netqueue = { path = "$safe", features = ["vendored"] }

[patch.crates-io]
netqueue-sys = { path = "$sys" }
TOML
cat >"$tmp/app/src/main.rs" <<'RS'
// Echo round trip against a server whose port is the first argument.
use netqueue::{Comm, Options, Protocol, Purpose};
use std::time::Duration;

fn main() -> netqueue::Result<()> {
    let port: u16 = std::env::args().nth(1).expect("PORT").parse().expect("PORT is a u16");
    let opts = Options::new()?.host("127.0.0.1")?.port(port)?;
    let client = Comm::new(Protocol::Tcp, Purpose::Client, &opts)?;
    let sent = b"from a packaged crate";
    client.put(sent, &[])?.wait()?;
    let reply = client.get(&[], Some(Duration::from_secs(30)))?;
    assert_eq!(reply.data(), sent, "the echo differs");
    client.close(Some(Duration::from_secs(10)))?;
    println!("echoed {} bytes; libnetqueue {}", reply.data().len(), netqueue::version());
    Ok(())
}
RS

echo "package-rust: cargo build (vendored: the C library from the packaged sources)"
(cd "$tmp/app" && "$cargo" build --offline -j 2 -q)
bin=$CARGO_TARGET_DIR/debug/nq-package-test

dyn=$(readelf -d "$bin")
echo "$dyn" | grep -E 'NEEDED|RPATH|RUNPATH'
! echo "$dyn" | grep -q 'libnetqueue' || fail "the program needs libnetqueue.so"
! echo "$dyn" | grep -E 'RPATH|RUNPATH' | grep -qF -e "$src" -e /build ||
    fail "the program has a run path into the tree"
! ldd "$bin" | grep -q 'not found' || fail "unresolved libraries: $(ldd "$bin" | grep 'not found')"

start_echo_server "$tmp/server.log" "$nq" server --echo --port 0 --host 127.0.0.1

out=$(cd "$tmp" && "$bin" "$port") || fail "the program failed: $out"
echo "package-rust: $out"
want=$(sed -n 's/^#define NQ_ABI_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' "$src/abi/netqueue/version.h" | paste -sd.)
[[ "$out" == "echoed 21 bytes; libnetqueue $want" ]] || fail "unexpected output (want libnetqueue $want)"
echo "package-rust: PASS"
