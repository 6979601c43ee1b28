#!/usr/bin/env bash
# require.sh NEED... -- COMMAND ARGS...: run COMMAND once every NEED is
# present; otherwise FAIL (exit 1) naming each missing thing and the set-up
# command that provides it. The suite never skips a test because something
# is missing (docs/testing.md): a missing prerequisite is a set-up defect.
#
# NEED is one of
#   ref:PATH     the reference venv's Python (.venv-ref, net-queue 2.6.4)
#   pybind:PATH  the Python bindings' venv (.venv-bindings, pytest + netqueue)
#   prog:NAME    a program, by absolute path or looked up on PATH
set -uo pipefail

how() { # how to get a program the suite uses
    case $1 in
        mosquitto) echo "apt-get install mosquitto (./scripts/setup.sh installs it)" ;;
        mvn|javac|java) echo "apt-get install maven openjdk-17-jdk-headless (bash scripts/setup.d/bindings-python-java.sh installs them)" ;;
        go) echo "Go 1.22 or later on PATH (Debian bookworm's golang-go 1.19 is too old: https://go.dev/dl), then ./scripts/setup.sh" ;;
        cargo) echo "Rust 1.70 or later with cargo on PATH (https://rustup.rs), then ./scripts/setup.sh" ;;
        protoc-c) echo "apt-get install protobuf-c-compiler (./scripts/setup.sh installs it)" ;;
        abidiff) echo "apt-get install abigail-tools (./scripts/setup.sh installs it)" ;;
        chromium) echo "apt-get install chromium (./scripts/setup.sh installs it)" ;;
        *) echo "install it (./scripts/setup.sh installs what the suite needs)" ;;
    esac
}

missing=0
miss() {
    echo "MISSING PREREQUISITE: $1" >&2
    echo "  provide it with: $2" >&2
    missing=1
}

while (($#)) && [ "$1" != -- ]; do
    need=$1 arg=${1#*:}
    shift
    case $need in
        ref:*) [ -x "$arg" ] ||
            miss "the reference Python $arg (venv .venv-ref with net-queue 2.6.4)" "./scripts/setup.sh" ;;
        pybind:*) [ -x "$arg" ] ||
            miss "the Python bindings' venv Python $arg (.venv-bindings with pytest)" \
                 "bash scripts/setup.d/bindings-python-java.sh (run by ./scripts/setup.sh)" ;;
        prog:*) { [ -x "$arg" ] || command -v "$arg" >/dev/null; } ||
            miss "the program '$arg' (not found on PATH)" "$(how "$(basename "$arg")")" ;;
        *) echo "require.sh: unknown need '$need'" >&2; exit 2 ;;
    esac
done
[ "${1:-}" = -- ] && shift
if ((missing)); then
    echo "This test FAILS instead of skipping: the whole suite must run (docs/testing.md)." >&2
    exit 1
fi
(($#)) || { echo "require.sh: no command after --" >&2; exit 2; }
exec "$@"
