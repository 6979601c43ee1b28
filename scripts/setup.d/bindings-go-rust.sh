#!/usr/bin/env bash
# Go and Rust bindings: install build/ into a prefix inside it (for a
# usable netqueue.pc), fetch the Rust crates from crates.io (the Go module
# has no dependencies) and build both bindings with their tests and
# examples, so that the ctest runs start warm. The fetch takes every crate
# of Cargo.lock, also cmake and cc of netqueue-sys's vendored feature, so
# that the package test (tests/package/rust.sh) builds offline.
set -euo pipefail
cd "$(dirname "$0")/../.."
say() { printf 'setup(bindings-go-rust): %s\n' "$*"; }

prefix=$PWD/build/bindings-go-rust-prefix
cmake --install build --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name netqueue.pc -path '*/pkgconfig/*' | head -1)")/..
export PKG_CONFIG_PATH=$libdir/pkgconfig LD_LIBRARY_PATH=$libdir

if command -v go >/dev/null 2>&1; then
    say "building bindings/go ($(go version | cut -d' ' -f3))"
    (cd bindings/go && go build ./... && go vet ./...)
else
    say "no go on PATH: Go binding skipped"
fi
if command -v cargo >/dev/null 2>&1; then
    say "fetching crates and building bindings/rust"
    (cd bindings/rust && cargo fetch --locked && cargo build -j 2 --locked --tests --examples -q)
else
    say "no cargo on PATH: Rust binding skipped"
fi
