#!/usr/bin/env bash
# Record the ABI of the built library as the baseline abi_compat checks
# against. Run only when the ABI is meant to change (a new minor adds
# functions; a new major may change them, with a new SONAME).
set -euo pipefail
cd "$(dirname "$0")/.."
abidw --no-corpus-path --headers-dir abi/netqueue build/src/libnetqueue.so > abi/netqueue.abi
echo "wrote abi/netqueue.abi"
