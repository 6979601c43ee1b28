#!/usr/bin/env bash
# Set-up, idempotent: Debian packages for the build and tests, the Python
# 3.13 venv .venv-ref with the reference net-queue 2.6.4 from PyPI, and a
# build of everything in build/. Each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

NQ_REF_VERSION=2.6.4
JOBS=2 # the machines have 2 cores

say() { printf 'setup: %s\n' "$*"; }

# --- Debian packages ---------------------------------------------------------
pkgs=(cmake ninja-build gcc g++ pkg-config libev-dev libssl-dev openssl libcmocka-dev
      libzmq3-dev python3 valgrind abigail-tools
      mosquitto libpaho-mqtt-dev                                   # MQTT transport
      rabbitmq-server                                              # MQTT on a second broker (it_mqtt_rabbitmq)
      libgrpc-dev libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev  # gRPC transport, proto/
      nginx                                                        # gRPC behind an L7 proxy (label scale)
      swig libclang-dev                                            # bindings
      doxygen mandoc groff-base bsdextrautils                      # docs: API reference, nq.1 checks
      dpkg-dev file man-db                                         # Debian packages (cpack -G DEB) and their test
      chromium fonts-dejavu-core)                                  # the conformance HTML report in a browser
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # nginx and rabbitmq-server are started by the tests that use them, on
    # loopback ports; their system services must not start on install (they
    # would listen on every interface). The machine image forbids service
    # starts with policy-rc.d; where it does not, do so for this install.
    rc_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        rc_policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$rc_policy" >/dev/null
        "${sudo[@]}" chmod 755 "$rc_policy"
    fi
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
    [ -z "$rc_policy" ] || "${sudo[@]}" rm -f "$rc_policy"
else
    say "Debian packages present"
fi

# --- Python 3.13 with the reference --------------------------------------------
is_py313() { [ -x "$1" ] && "$1" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; }

find_py313() {
    local c root
    if command -v pyenv >/dev/null 2>&1 && root=$(pyenv root 2>/dev/null); then
        for c in "$root"/versions/3.13.*/bin/python3.13; do
            is_py313 "$c" && { echo "$c"; return; }
        done
    fi
    for c in "$(command -v python3.13 2>/dev/null)" "$(command -v python3 2>/dev/null)"; do
        is_py313 "$c" && { echo "$c"; return; }
    done
    return 1
}

venv=.venv-ref
if [ -x "$venv/bin/python" ] &&
   "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('net-queue') != '$NQ_REF_VERSION')" 2>/dev/null; then
    say "$venv has net-queue $NQ_REF_VERSION"
else
    if ! py=$(find_py313); then
        echo "setup: no Python 3.13 found (looked in \$(pyenv root)/versions/3.13.*, python3.13, python3);" >&2
        echo "setup: the reference net-queue needs it (requires-python ~=3.13)" >&2
        exit 1
    fi
    say "making $venv with $py"
    rm -rf "$venv"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "net-queue==$NQ_REF_VERSION"
fi

# --- Build ------------------------------------------------------------------------
# Configuring before setup.d/ makes .venv-bindings and installs maven is
# fine: every test is registered whatever exists at configure time, and one
# whose prerequisite is missing when it runs fails saying so (docs/testing.md).
if [ ! -f build/build.ninja ]; then
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
ninja -C build -j"$JOBS"

# --- Per-area steps (bindings, conformance...): one file each ---------------------
for step in scripts/setup.d/*.sh; do
    [ -e "$step" ] || continue
    say "running $step"
    bash "$step"
done
say "done: build/ is built, $venv has the reference"
