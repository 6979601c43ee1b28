#!/usr/bin/env bash
# with-python.sh PYTHON ARGS...: exec PYTHON ARGS. A missing PYTHON (the
# reference venv .venv-ref) fails the test with the set-up command that
# makes it: interop tests never skip (docs/testing.md).
py=$1
shift
if [ ! -x "$py" ]; then
    echo "MISSING PREREQUISITE: the Python $py (the reference venv .venv-ref with net-queue 2.6.4)" >&2
    echo "  provide it with: ./scripts/setup.sh" >&2
    exit 1
fi
exec "$py" "$@"
