#!/usr/bin/env bash
# cli_stats.sh NQ: `--stats N` prints the communicator's statistics on
# stderr every N seconds and once at exit, with figures that match what was
# sent; the put progress line shows on a terminal only.
set -u
nq=$1
tmp=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
check() { # check WHAT FILE REGEX
    if grep -qE -- "$3" "$2"; then
        echo "ok: $1"
    else
        echo "FAIL: $1: no line matching '$3' in:"
        sed 's/^/  | /' "$2" | head -20
        fails=$((fails + 1))
    fi
}

if "$nq" server --stats 0 >/dev/null 2>"$tmp/usage"; then
    echo "FAIL: --stats 0 accepted"; fails=$((fails + 1))
else
    check "--stats 0 is a usage error" "$tmp/usage" "^nq: --stats: '0' is not a number"
fi

"$nq" server --port 0 --echo --stats 1 >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
port=
for _ in $(seq 100); do
    port=$(grep -oE 'listening on 127\.0\.0\.1:[0-9]+' "$tmp/server.err" | grep -oE '[0-9]+$')
    [ -n "$port" ] && break
    sleep 0.05
done
if [ -z "$port" ]; then
    echo "FAIL: the server did not say where it listens"; cat "$tmp/server.err"; exit 1
fi

# 2 messages of 5 bytes out, their 2 echoes in. Not a terminal: no progress.
"$nq" client --port "$port" --put hello --put-file "$0" --get 2 --stats 1 \
    >"$tmp/client.out" 2>"$tmp/client.err"
size=$(stat -c %s "$0")
check "client final line" "$tmp/client.err" \
    "^nq: stats \(final\): uptime_ms=[0-9]+ msgs_in=2 \([0-9.]+/s\) bytes_in=$((5 + size)) .*msgs_out=2 \([0-9.]+/s\) bytes_out=$((5 + size)) .*puts_ok=2"
if grep -q 'nq: put ' "$tmp/client.err"; then
    echo "FAIL: progress shown though stderr is not a terminal"; fails=$((fails + 1))
else
    echo "ok: no progress off a terminal"
fi

# The server's periodic line comes within about a second and a half.
for _ in $(seq 40); do
    grep -q '^nq: stats: .*msgs_in=2 ' "$tmp/server.err" && break
    sleep 0.05
done
check "server periodic line" "$tmp/server.err" \
    "^nq: stats: uptime_ms=[0-9]+ msgs_in=2 \([0-9.]+/s\) bytes_in=$((5 + size)) .*msgs_out=2 .*sessions_live=0 .*sessions_opened=1"
kill -INT "$server_pid"
wait "$server_pid"
rc=$?
server_pid=
[ "$rc" -eq 0 ] || { echo "FAIL: server exit $rc"; fails=$((fails + 1)); }
check "server final line" "$tmp/server.err" \
    "^nq: stats \(final\): .*msgs_in=2 .*bytes_out=$((5 + size)) "

# On a terminal (script(1) gives one), a put that waits shows its progress:
# the server comes a second after the client started.
if ! command -v script >/dev/null; then
    echo "FAIL: script(1) not found: install the Debian package bsdutils"; exit 1
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
head -c 3000000 /dev/zero >"$tmp/big"
( sleep 1; exec "$nq" server --port "$port" --quiet --count 1 >/dev/null 2>&1 ) &
server_pid=$!
script -qec "'$nq' client --port $port --put-file '$tmp/big' 2>&1" "$tmp/typescript" >/dev/null
rc=$?
wait "$server_pid"
server_pid=
[ "$rc" -eq 0 ] || { echo "FAIL: client on a terminal: exit $rc"; fails=$((fails + 1)); }
check "progress on a terminal" "$tmp/typescript" "nq: put $tmp/big: [0-9.]+ (B|KiB|MiB) / 2\.9 MiB \([0-9]+%\)"
# the last progress line is followed by the sequence that clears it
if python3 - "$tmp/typescript" <<'PY'
import sys
text = open(sys.argv[1], "rb").read()
last = text.rfind(b"nq: put ")
sys.exit(0 if last >= 0 and b"\r\x1b[K" in text[last:] else 1)
PY
then
    echo "ok: progress cleared at the end"
else
    echo "FAIL: the progress line is not cleared at the end"; fails=$((fails + 1))
fi

echo "$fails failed"
[ "$fails" -eq 0 ]
