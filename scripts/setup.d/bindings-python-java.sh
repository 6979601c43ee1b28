#!/usr/bin/env bash
# Python and Java bindings: Debian packages (SWIG, a JDK 17, Maven), the
# venv .venv-bindings on the default python3 with pytest and the netqueue
# package built from bindings/python, and the Maven project built once (its
# plugins and JUnit resolved from Maven Central). Skips what is done.
set -euo pipefail
cd "$(dirname "$0")/../.."
say() { printf 'setup(bindings-python-java): %s\n' "$*"; }

need=()
command -v swig >/dev/null || need+=(swig)
command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need+=(maven)
if ((${#need[@]})); then
    sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    say "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
fi

venv=.venv-bindings
if [ ! -x "$venv/bin/python" ]; then
    say "making $venv with $(command -v python3)"
    python3 -m venv "$venv"
fi
"$venv/bin/python" -c 'import pytest, setuptools, wheel' 2>/dev/null ||
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -U pytest setuptools wheel

# Rebuild the package only when its sources or the library changed.
stamp=$venv/.netqueue-stamp
sum=$(cat bindings/swig/netqueue.i bindings/python/setup.py bindings/python/netqueue/*.py bindings/python/netqueue/*.c build/src/libnetqueue.so.1 | sha256sum)
if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ] || ! "$venv/bin/python" -c 'import netqueue' 2>/dev/null; then
    say "installing bindings/python into $venv"
    (cd bindings/python && ../../"$venv"/bin/python -m pip install -q --disable-pip-version-check \
        --no-build-isolation --force-reinstall --no-deps .)
    echo "$sum" > "$stamp"
else
    say "$venv has the netqueue package"
fi

# Against this build of the C library (a user's build takes pkg-config's).
say "building bindings/java (mvn package)"
(cd bindings/java && mvn -B -q -DskipTests -Dnetqueue.includedir="$PWD/../../abi" \
    -Dnetqueue.libdir="$PWD/../../build/src" package)
