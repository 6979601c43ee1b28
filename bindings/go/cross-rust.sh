#!/usr/bin/env bash
# Cross-language exchange, both ways: builds each binding's echo server
# example, then runs the Go test against the Rust server and the Rust test
# against the Go server. Needs PKG_CONFIG_PATH/LD_LIBRARY_PATH set for
# libnetqueue (tests/bindings-go-rust.cmake does that).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rust=$here/../rust
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$rust" && cargo build -j 2 --locked --example echo_server)
(cd "$here" && go build -o "$tmp/echo-server" ./examples/echo-server)
rust_target=$(cd "$rust" && cargo metadata --format-version 1 --no-deps |
              sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')

cd "$here" && NQ_RUST_ECHO=$rust_target/debug/examples/echo_server \
    go test -count=1 -run TestCrossLanguage -v ./... | tee "$tmp/go.log"
grep -q -- '--- PASS: TestCrossLanguageRustServer' "$tmp/go.log"
cd "$rust" && NQ_GO_ECHO=$tmp/echo-server cargo test -j 2 --locked --test cross -- --nocapture
