#!/usr/bin/env bash
# The main job's MQTT exchange: a private mosquitto on a free loopback
# port, a C server (`nq server --protocol mqtt`), a C client and a Python
# reference client (net-queue from PyPI, its MQTT transport), all default
# pickle, exchanging messages through the broker. Prints a transcript;
# exits non-zero if a message is lost or changed.
set -euo pipefail
cd "$(dirname "$0")/../.."

NQ=${NQ:-build/src/cli/nq}
PY=.venv-ref/bin/python
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
for f in "$NQ" "$PY" "$MOSQUITTO"; do
    [ -x "$f" ] || { echo "demo mqtt: $f missing: run ./scripts/setup.sh first" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
log_dest file $work/mosquitto.log
log_type subscribe
log_type notice
CONF
[ "$(id -u)" = 0 ] && echo "user root" >> "$work/mosquitto.conf"
"$MOSQUITTO" -c "$work/mosquitto.conf" > "$work/mosquitto.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break
    sleep 0.05
done
echo "== MQTT: mosquitto on 127.0.0.1:$port"

C_SERVER_ID=5e5e5e5e000040008000000000000001
C_CLIENT_ID=c1c1c1c1000040008000000000000002
PY_CLIENT_ID=79797979000040008000000000000003

"$NQ" server --protocol mqtt --port "$port" --id "$C_SERVER_ID" --codec pickle --echo --count 4 \
    --timeout 30000 > "$work/server.out" 2> "$work/server.err" &
server_pid=$!
pids+=($server_pid)
# a publish made before the server subscribed would reach nobody (MQTT
# keeps nothing for an absent subscriber): wait for its SUBSCRIBE
for _ in $(seq 200); do
    grep -q "c2s/+" "$work/mosquitto.log" 2>/dev/null && break
    sleep 0.05
done
echo "C server $C_SERVER_ID subscribed to c2s/+"

"$NQ" client --protocol mqtt --port "$port" --id "$C_CLIENT_ID" --codec pickle \
    --put "Hello from the C client" --put "second C message" --get 2 --timeout 30000 \
    > "$work/cclient.out" 2> "$work/cclient.err"
cat > "$work/pyclient.py" <<'PYEOF'
import sys, uuid
import net_queue as nq
o = nq.CommunicatorOptions(netloc=nq.NetworkLocation("127.0.0.1", int(sys.argv[1])),
                           id=uuid.UUID(hex=sys.argv[2]))
c = nq.new(nq.Protocol.MQTT, nq.Purpose.CLIENT, o)
# The reference client's put can race the server's ini (KeyError in
# _put_commit, the put never completes: docs/reference-deviations.md
# mqtt-client-commit-race); commit under the session's current id instead.
commit = c._put_commit
def put_commit(peer, size):
    try:
        return commit(peer, size)
    except KeyError:
        return commit(c._comms.inverse[c._comm], size)
c._put_commit = put_commit
for m in ("Hello from the Python client", b"second Python message"):
    c.put(m).result()
for _ in range(2):
    m = c.get()
    print(m.peer.hex, repr(m.data))
c.close()
PYEOF
timeout 60 "$PY" "$work/pyclient.py" "$port" "$PY_CLIENT_ID" > "$work/pyclient.out" 2> "$work/pyclient.err" ||
    { echo "Python client failed:"; cat "$work/pyclient.err"; exit 1; }
wait "$server_pid" || { echo "C server failed:"; cat "$work/server.err"; exit 1; }

echo "-- C server received:"; sed 's/^/   /' "$work/server.out"
echo "-- C client received (echoes):"; sed 's/^/   /' "$work/cclient.out"
echo "-- Python client received (echoes):"; sed 's/^/   /' "$work/pyclient.out"

failed=0
expect() { grep -qF -- "$2" "$1" || { echo "MISSING in $(basename "$1"): $2"; failed=1; }; }
expect "$work/server.out" "$C_CLIENT_ID 38 'Hello from the C client'"
expect "$work/server.out" "$C_CLIENT_ID 31 'second C message'"
expect "$work/server.out" "$PY_CLIENT_ID 43 'Hello from the Python client'"
expect "$work/server.out" "$PY_CLIENT_ID 36 b'second Python message'"
expect "$work/cclient.out" "$C_SERVER_ID 38 'Hello from the C client'"
expect "$work/cclient.out" "$C_SERVER_ID 31 'second C message'"
expect "$work/pyclient.out" "$C_SERVER_ID 'Hello from the Python client'"
expect "$work/pyclient.out" "$C_SERVER_ID b'second Python message'"
if [ $failed = 0 ]; then echo "MQTT exchange: all 8 messages delivered as sent"; else exit 1; fi
