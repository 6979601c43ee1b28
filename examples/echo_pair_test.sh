#!/usr/bin/env bash
# echo_pair_test.sh BINDIR MODE [CERTS]: run echo_server on a free loopback
# port (mqtt*: through a private mosquitto; *tls: TLS with the test
# certificates), run echo_client against it, check the printed replies,
# then stop the server with SIGTERM and check that it exits 0 within its
# close bound. MODE: tcp, tls, grpc, grpc_tls, mqtt, mqtt_tls, or usage
# (the exit codes of bad command lines and of a missing server).
set -euo pipefail
bin=$1 mode=$2 certs=${3:-}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$tmp"/*.log; do [ -e "$f" ] && sed "s|^|$(basename "$f"): |" "$f" >&2; done; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ "$mode" = usage ]; then
    expect_rc() { local want=$1; shift; local rc=0; "$@" >"$tmp/out.log" 2>&1 || rc=$?
                  [ "$rc" = "$want" ] || fail "$* exited $rc, expected $want"; }
    expect_rc 2 "$bin/echo_client"                         # no message
    expect_rc 2 "$bin/echo_client" --protocol udp hi
    expect_rc 2 "$bin/echo_client" --port 70000 hi
    expect_rc 2 "$bin/echo_client" --username u hi       # tcp has no login
    expect_rc 2 "$bin/echo_server" --tls-cert only.pem
    expect_rc 2 "$bin/echo_server" --bogus 1
    grep -q '^usage: echo_server' "$tmp/out.log" || fail "no usage line"
    # nobody on that port: the client gives up after its deadline, exit 1, with the reason
    expect_rc 1 timeout 60 "$bin/echo_client" --port "$(free_port)" hi
    grep -q '^echo_client: put: ' "$tmp/out.log" || fail "no error text for a missing server"
    echo "usage errors exit 2, a missing server exits 1: $(tail -1 "$tmp/out.log")"
    exit 0
fi

server_args=(--port 0) client_args=() proto=tcp
case $mode in
    tcp) ;;
    tls|grpc_tls)
        server_args+=(--tls-cert "$certs/server.pem" --tls-key "$certs/server.key")
        client_args+=(--ca "$certs/ca.pem")
        [ "$mode" = tls ] || proto=grpc ;;
    grpc) proto=grpc ;;
    mqtt|mqtt_tls)
        mosq=$(command -v mosquitto || echo /usr/sbin/mosquitto)
        [ -x "$mosq" ] || fail "mosquitto is not installed (apt-get install mosquitto; scripts/setup.sh installs it)"
        bport=$(free_port)
        printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$bport" >"$tmp/mosquitto.conf"
        if [ "$mode" = mqtt_tls ]; then # the broker verified by both peers against the test CA
            printf 'cafile %s\ncertfile %s\nkeyfile %s\n' "$certs/ca.pem" "$certs/server.pem" \
                "$certs/server.key" >>"$tmp/mosquitto.conf"
            client_args+=(--ca "$certs/ca.pem")
        fi
        [ "$(id -u)" = 0 ] && echo "user root" >>"$tmp/mosquitto.conf"
        "$mosq" -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.log" 2>&1 &
        pids+=($!)
        for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$bport") 2>/dev/null && break; sleep 0.1; done
        proto=mqtt server_args=(--port "$bport" "${client_args[@]}") ;;
    *) fail "unknown mode $mode" ;;
esac

# made here: the background job opens them later, and the first look may come first
: >"$tmp/server.out.log"; : >"$tmp/server.log"
"$bin/echo_server" --protocol "$proto" "${server_args[@]}" >"$tmp/server.out.log" 2>"$tmp/server.log" &
server=$!
pids+=("$server")
port=
for _ in $(seq 100); do
    port=$(sed -n 's/^echo_server: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/server.log")
    [ -n "$port" ] && break
    kill -0 "$server" 2>/dev/null || fail "echo_server exited before listening"
    sleep 0.1
done
[ -n "$port" ] && [ "$port" != 0 ] || fail "echo_server never said where it listens"
if [ "$proto" = mqtt ]; then sleep 0.5; fi # MQTT keeps nothing for a server not yet subscribed

got=$(timeout 60 "$bin/echo_client" --protocol "$proto" --port "$port" "${client_args[@]}" \
      hello "two words" "" "$(printf 'x%.0s' $(seq 3000))" 2>"$tmp/client.log") || fail "echo_client failed"
want=$(printf 'hello\ntwo words\n\n%s' "$(printf 'x%.0s' $(seq 3000))")
[ "$got" = "$want" ] || fail "echo_client printed '$got'"
grep -q "bytes back to" "$tmp/server.out.log" || fail "echo_server did not report its echoes"

kill -TERM "$server"
rc=0
timeout 15 tail --pid="$server" -f /dev/null || fail "echo_server still running 15 s after SIGTERM"
wait "$server" || rc=$?
[ "$rc" = 0 ] || fail "echo_server exited $rc after SIGTERM"
echo "$mode: 4 messages echoed on port $port, server closed cleanly on SIGTERM"
