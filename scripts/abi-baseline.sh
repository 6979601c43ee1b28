#!/usr/bin/env bash
# Record the ABI of the built library as the baseline abi_compat checks
# against. Run only when the ABI is meant to change (a new minor adds
# functions; a new major may change them, with a new SONAME).
#   scripts/abi-baseline.sh [BUILD_DIR]      (default: build)
# The baseline is committed, so it must not depend on the machine that made
# it: no corpus path, no compilation directory, no source locations (the
# abi_compat test runs abidiff with --no-show-locs anyway), and each
# translation unit named relative to the source tree. The abi_paths test
# fails if an absolute path slips back in.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build}
lib=$build/src/libnetqueue.so
[ -f "$lib" ] || { echo "abi-baseline: $lib not found: build first" >&2; exit 1; }
abidw --no-corpus-path --no-comp-dir-path --no-show-locs --headers-dir abi/netqueue "$lib" |
    sed "s|path='$root/|path='|" > abi/netqueue.abi.tmp
if grep -q "='/" abi/netqueue.abi.tmp; then
    grep -o "[a-z-]*='/[^']*'" abi/netqueue.abi.tmp | sort -u | head >&2
    rm -f abi/netqueue.abi.tmp
    echo "abi-baseline: absolute paths left in the output (above)" >&2
    exit 1
fi
mv abi/netqueue.abi.tmp abi/netqueue.abi
echo "wrote abi/netqueue.abi"
