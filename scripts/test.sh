#!/usr/bin/env bash
# The whole test suite, on the build made by scripts/setup.sh. Ends with the
# number of tests per ctest label (passed / failed / skipped / not run) and
# exits non-zero unless every registered test ran and passed: a skipped or
# not-run test fails the suite unless tests/skip-allowlist.txt names it
# with a reason (docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ninja -C build -j2

out=$PWD/build/Testing/suite
rm -rf "$out"
mkdir -p "$out"
# Whole outputs of passed tests too, so that skipped inner cases (cmocka,
# pytest, cargo) are seen by the summary.
ctest_run=(ctest --test-dir build --output-on-failure -j2 --test-output-size-passed 4000000
           --test-output-size-failed 4000000)
rc=0
# Our own tests get no second chance. Tests that run the Python reference
# get one retry: its 2.6.4 client has a start-up race (bidict
# ValueDuplicationError in its constructor, seen about once in 30 runs) that
# is not ours to fix; a failure twice in a row still fails the suite.
"${ctest_run[@]}" -LE interop --output-junit "$out/own.xml" || rc=1
"${ctest_run[@]}" -L interop --repeat until-pass:2 --output-junit "$out/interop.xml" || rc=1

# Per-area suites that are not ctest tests (each exits non-zero on failure).
for step in scripts/test.d/*.sh; do
    [ -e "$step" ] || continue
    echo "test: running $step"
    bash "$step" || { echo "test: $step FAILED"; rc=1; }
done

ctest --test-dir build --show-only=json-v1 >"$out/tests.json"
python3 scripts/test-summary.py "$out/tests.json" tests/skip-allowlist.txt \
    "$out/own.xml" "$out/interop.xml" || rc=1
exit "$rc"
