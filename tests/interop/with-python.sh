#!/usr/bin/env bash
# with-python.sh PYTHON ARGS...: exec PYTHON ARGS, or exit 77 (ctest: skipped)
# when PYTHON does not exist. Under CI a missing interpreter is a set-up
# failure, not a skip, so that interop tests never silently vanish there.
py=$1
shift
if [ ! -x "$py" ]; then
    if [ -n "${CI:-}" ]; then
        echo "FAILED: $py not found; scripts/setup.sh should have made it" >&2
        exit 1
    fi
    echo "SKIPPED: $py not found (run scripts/setup.sh to make it)"
    exit 77
fi
exec "$py" "$@"
