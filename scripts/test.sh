#!/usr/bin/env bash
# The whole test suite, on the build made by scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ninja -C build -j2
# Our own tests get no second chance. Tests that run the Python reference
# get one retry: its 2.6.4 client has a start-up race (bidict
# ValueDuplicationError in its constructor, seen about once in 30 runs) that
# is not ours to fix; a failure twice in a row still fails the suite.
ctest --test-dir build --output-on-failure -j2 -LE interop
ctest --test-dir build --output-on-failure -j2 -L interop --repeat until-pass:2

# Per-area suites that are not ctest tests (each exits non-zero on failure).
for step in scripts/test.d/*.sh; do
    [ -e "$step" ] || continue
    echo "test: running $step"
    bash "$step"
done
