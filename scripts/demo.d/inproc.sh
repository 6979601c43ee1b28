#!/usr/bin/env bash
# The in-process transport: a server and two clients inside one C program
# (examples/inproc_chat.c). No Python peer here: the reference has no
# in-process transport, and none can join another process's memory.
set -euo pipefail
cd "$(dirname "$0")/../.."
exe=${NQ_INPROC_CHAT:-build/examples/inproc_chat}
[ -x "$exe" ] || { echo "demo: $exe missing: run ./scripts/setup.sh first" >&2; exit 1; }
"$exe"
