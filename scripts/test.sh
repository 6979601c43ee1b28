#!/usr/bin/env bash
# The whole test suite, on the build made by scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ninja -C build -j2
ctest --test-dir build --output-on-failure -j2
