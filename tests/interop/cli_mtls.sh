#!/usr/bin/env bash
# cli_mtls.sh NQ CERTS [PROTOCOL]: mutual TLS with the nq tool. A server
# started with --client-ca echoes for a client presenting --key/--cert from
# the CA; a client with no certificate, or one from another CA, is refused
# (exit 3, its put never sent), the server's stderr says why and it never
# prints the refused message; usage errors for the new option.
set -u
nq=$1
certs=$2
protocol=${3:-tcp}
fails=0
passes=0
tmp=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "ok: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect CODE REGEX -- ARGS...: run nq ARGS, check exit code and output.
expect() {
    local code=$1 regex=$2
    shift 3
    local out rc
    out=$("$nq" "$@" 2>&1)
    rc=$?
    if [ "$rc" -ne "$code" ] || ! grep -qE -- "$regex" <<<"$out"; then
        fail "nq $* -> exit $rc (want $code), output:"
        echo "$out" | head -8
    else
        ok "nq $* -> $code"
    fi
}

# usage: --client-ca is a server option and needs --tls; a client
# certificate needs its key
expect 2 '^nq: --client-ca: not an option of nq client' -- client --tls --client-ca "$certs/ca.pem"
expect 2 'need --tls' -- server --client-ca "$certs/ca.pem"
expect 2 'a client certificate needs both' -- client --tls --key "$certs/client.key"
expect 2 'a client certificate needs both' -- client --tls --cert "$certs/client.pem"
# an unreadable client CA fails the server at start
expect 1 '^nq: server: TLS error \(.*client CA.*nonexistent' -- server --protocol "$protocol" \
    --port 0 --tls --key "$certs/server.key" --cert "$certs/server.pem" \
    --client-ca /nonexistent/ca.pem

"$nq" server --protocol "$protocol" --port 0 --tls --key "$certs/server.key" \
    --cert "$certs/server.pem" --client-ca "$certs/ca.pem" --echo \
    >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
port=
for _ in $(seq 1 200); do
    port=$(sed -n 's/^nq: listening on [^ ]*:\([0-9]*\) .*/\1/p' "$tmp/server.err")
    [ -n "$port" ] && break
    sleep 0.05
done
if [ -z "$port" ]; then
    fail "server did not start:"
    cat "$tmp/server.err"
    exit 1
fi
ok "server with --client-ca listening on port $port"

common=(--protocol "$protocol" --port "$port" --tls --ca "$certs/ca.pem")

# good client: its message goes there and back
expect 0 "^[0-9a-f]{32} 11 hello there$" -- client "${common[@]}" \
    --key "$certs/client.key" --cert "$certs/client.pem" --put "hello there" --get 1 \
    --timeout 20000

# no certificate: refused, says why (gRPC does not tell its client why)
no_cert='server requires a client certificate and we presented none'
other_ca='server rejected our client certificate \(TLS alert "unknown CA"\)'
if [ "$protocol" = grpc ]; then
    no_cert='put: not sent within --timeout'
    other_ca=$no_cert
fi
expect 3 "$no_cert" -- client "${common[@]}" --put "no cert" --timeout 1500
# another CA's certificate: refused, says why
expect 3 "$other_ca" -- client "${common[@]}" \
    --key "$certs/otherclient.key" --cert "$certs/otherclient.pem" --put "other ca" \
    --timeout 1500

# the server goes on serving good clients
expect 0 "^[0-9a-f]{32} 5 again$" -- client "${common[@]}" \
    --key "$certs/client.key" --cert "$certs/client.pem" --put again --get 1 --timeout 20000

server_expect() { # REGEX WHAT: the server's stderr (log) has REGEX
    if grep -qE -- "$1" "$tmp/server.err"; then ok "server log: $2"; else fail "server log lacks $2"; fi
}
if [ "$protocol" = tcp ]; then
    server_expect '127\.0\.0\.1:[0-9]+: TLS handshake failed: client presented no certificate' \
        "no certificate, with the client's address"
    server_expect '127\.0\.0\.1:[0-9]+: TLS handshake failed: client certificate verification failed: unable to get local issuer certificate' \
        "verification failure, with the client's address"
fi
if grep -qE 'no cert|other ca' "$tmp/server.out"; then
    fail "the server printed a refused client's message:"
    cat "$tmp/server.out"
else
    ok "no refused client's message reached the server"
fi
if [ "$(grep -cE '^[0-9a-f]{32} ' "$tmp/server.out")" -eq 2 ]; then
    ok "the server printed the two good messages"
else
    fail "the server printed:"
    cat "$tmp/server.out"
fi

if [ "$fails" -ne 0 ]; then
    echo "server stderr:"
    cat "$tmp/server.err"
fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
