#!/usr/bin/env bash
# transport_boundary.sh SRC: a transport includes no core header but
# core/transport.h (its whole contract with the core, docs/design.md).
# Transports converted so far are listed; the rest still include
# core/comm_internal.h (see docs/design.md, "transport boundary").
set -u
src=$1
fails=0
for dir in tcp tls inproc; do
    for f in "$src/$dir"/*.[ch]; do
        while IFS= read -r line; do
            hdr=$(sed -E 's/.*"(core\/[^"]+)".*/\1/' <<<"$line")
            if [ "$hdr" != "core/transport.h" ]; then
                echo "FAIL: $f includes $hdr (a transport includes only core/transport.h)"
                fails=$((fails + 1))
            fi
        done < <(grep -E '^#include "core/' "$f")
    done
done
# and no transport writes the communicator's fields (mqtt and grpc too,
# though they still include core/comm_internal.h: docs/design.md)
if grep -nE '\b(c|t->c|k->c|g->c)->[a-z_]+(\.[a-z_]+)? *=[^=]' "$src"/tcp/*.c "$src"/tls/*.c \
        "$src"/inproc/*.c "$src"/mqtt/*.c "$src"/grpc/*.c; then
    echo "FAIL: a transport writes a communicator field (above)"
    fails=$((fails + 1))
fi
[ "$fails" -eq 0 ] && echo "ok: tcp, tls and inproc include only core/transport.h; no transport writes the communicator"
exit $((fails > 0))
