#!/usr/bin/env bash
# The main job: a C server (`nq server`) on a free loopback port, and a C
# client (`nq client`) and a Python client (the reference net-queue from
# PyPI) exchanging messages with it, over TCP and then over TLS, with a
# transcript of who sent and received what. Exits non-zero if any exchange
# does not deliver exactly what was sent.
set -euo pipefail
cd "$(dirname "$0")/.."

NQ=${NQ:-build/src/cli/nq} # NQ=path overrides, e.g. for another build dir
PY=.venv-ref/bin/python
CERTS=${NQ_DEMO_CERTS:-build/demo-certs}
for f in "$NQ" "$PY"; do
    [ -x "$f" ] || { echo "demo: $f missing: run ./scripts/setup.sh first" >&2; exit 1; }
done
bash tests/support/make-certs.sh "$CERTS"

work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# Fixed ids, so the transcript can name each peer.
C_SERVER_ID=5e5e5e5e000040008000000000000001
C_CLIENT_ID=c1c1c1c1000040008000000000000002
PY_CLIENT_ID=79797979000040008000000000000003
REPLY="Hello from the C server"
failed=0

name_of() {
    case $1 in
        "$C_SERVER_ID") echo "C server" ;;
        "$C_CLIENT_ID") echo "C client" ;;
        "$PY_CLIENT_ID") echo "Python client" ;;
        *) echo "peer $1" ;;
    esac
}

# Lines of `nq` output: "<peer-hex> <len> <repr>" -> "<who> <verb> <repr>".
transcript() { # who verb file
    local peer len rest
    while read -r peer len rest; do
        printf '  %-14s %-9s %s   (%s bytes, from %s)\n' "$1" "$2" "$rest" "$len" \
            "$(name_of "$peer")"
    done < "$3"
}

expect() { # description, wanted, file
    if ! grep -qxF -- "$2" <(cut -d' ' -f3- "$3"); then
        echo "  FAILED: $1: no $2 in:" >&2
        cat "$3" >&2
        failed=1
    fi
}

round() { # tcp|tls
    local mode=$1 srv=() cli=() tls=()
    if [ "$mode" = tls ]; then
        srv=(--tls --key "$CERTS/server.key" --cert "$CERTS/server.pem")
        cli=(--tls --ca "$CERTS/ca.pem")
        tls=(--tls "$CERTS/ca.pem")
    fi
    echo
    echo "== over ${mode^^} =="
    "$NQ" server --port 0 --codec pickle --id "$C_SERVER_ID" --reply "$REPLY" \
        --count 3 --timeout 30000 "${srv[@]}" >"$work/server.out" 2>"$work/server.err" &
    server_pid=$!
    local port=
    for _ in $(seq 200); do
        port=$(sed -n 's/^nq: listening on .*:\([0-9]*\) .*/\1/p' "$work/server.err")
        [ -n "$port" ] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    [ -n "$port" ] || { echo "demo: the C server did not start:" >&2; cat "$work/server.err" >&2; exit 1; }
    echo "  C server       listens on 127.0.0.1:$port (codec pickle, replies \"$REPLY\")"

    # The C client: two messages, then the two replies.
    echo "  C client       sends     'Hello from the C client'"
    echo "  C client       sends     'How are you, server?'"
    if ! "$NQ" client --port "$port" --codec pickle --id "$C_CLIENT_ID" --timeout 20000 \
            "${cli[@]}" --put "Hello from the C client" --put "How are you, server?" \
            --get 2 >"$work/cclient.out"; then
        echo "  FAILED: the C client" >&2
        failed=1
    fi
    transcript "C client" receives "$work/cclient.out"
    expect "C client" "'$REPLY'" "$work/cclient.out"

    # The Python reference client, as its README does it. Its constructor
    # can race its own selector thread (ValueDuplicationError, a bug of the
    # reference, seen Python x Python over TLS): then it exits 75 and runs again.
    echo "  Python client  sends     'Hello from the Python client'"
    local rc=75 try
    for try in 1 2 3; do
        rc=0
        "$PY" - "$port" "$PY_CLIENT_ID" "${tls[@]}" >"$work/pyclient.out" <<'PYEOF' || rc=$?
import os, pickle, signal, sys, uuid
import net_queue as nq
signal.alarm(20)
port, ident = int(sys.argv[1]), uuid.UUID(sys.argv[2])
security = nq.SecurityOptions(cert=sys.argv[4]) if sys.argv[3:4] == ["--tls"] else None
opts = nq.CommunicatorOptions(id=ident, security=security,
                              netloc=nq.NetworkLocation("127.0.0.1", port))
try:
    queue = nq.new(nq.Protocol.TCP, nq.Purpose.CLIENT, opts)
except Exception as e:
    if type(e).__name__ != "ValueDuplicationError":
        raise
    print("(the reference client's constructor raced itself; trying again)", file=sys.stderr)
    os._exit(75)
with queue:
    queue.put("Hello from the Python client").result()
    message = queue.get()
print(message.peer.hex, len(pickle.dumps(message.data, protocol=5)), repr(message.data))
PYEOF
        [ "$rc" -eq 75 ] || break
    done
    if [ "$rc" -ne 0 ]; then
        echo "  FAILED: the Python client" >&2
        failed=1
    fi
    transcript "Python client" receives "$work/pyclient.out"
    expect "Python client" "'$REPLY'" "$work/pyclient.out"

    # The server leaves after the three messages (--count 3), once its clients are done;
    # after a failed client it would wait for its --timeout: stop it now.
    [ "$failed" -eq 0 ] || kill "$server_pid" 2>/dev/null || true
    if ! wait "$server_pid" && [ "$failed" -eq 0 ]; then
        echo "  FAILED: the C server:" >&2
        cat "$work/server.err" >&2
        failed=1
    fi
    server_pid=
    transcript "C server" received "$work/server.out"
    expect "C server" "'Hello from the C client'" "$work/server.out"
    expect "C server" "'How are you, server?'" "$work/server.out"
    expect "C server" "'Hello from the Python client'" "$work/server.out"
    if [ "$(wc -l < "$work/server.out")" -ne 3 ]; then
        echo "  FAILED: the C server should have received exactly 3 messages" >&2
        failed=1
    fi
}

round tcp
round tls
# Further exchanges (other transports, bindings): one script each; every
# one prints its own transcript and exits non-zero when a message is lost.
for step in scripts/demo.d/*.sh; do
    [ -e "$step" ] || continue
    echo
    bash "$step" || failed=1
done
echo
if [ "$failed" -ne 0 ]; then
    echo "demo: FAILED (see above)"
    exit 1
fi
echo "demo: every message arrived, over TCP, TLS, gRPC, MQTT, in process, and from every binding"
