#!/usr/bin/env bash
# cli_usage.sh NQ: the nq tool's command line: help, version, usage errors
# (exit 2), unsupported protocols, a timeout (exit 3) and the error format.
set -u
nq=$1
fails=0
passes=0

# expect CODE REGEX -- ARGS...: run nq ARGS, check exit code and output.
expect() {
    local code=$1 regex=$2
    shift 3
    local out rc
    out=$("$nq" "$@" 2>&1)
    rc=$?
    if [ "$rc" -ne "$code" ] || ! grep -qE -- "$regex" <<<"$out"; then
        echo "FAIL: nq $* -> exit $rc (want $code), output:"
        echo "$out" | head -5
        fails=$((fails + 1))
    else
        echo "ok: nq $* -> $code"
        passes=$((passes + 1))
    fi
}

expect 0 'exit codes: 0 ok, 1 runtime or network error, 2 usage error, 3 timeout' -- --help
expect 0 '^usage: nq server' -- server --help
expect 0 '^usage: nq server' -- client --help
expect 0 '^nq [0-9]+\.[0-9]+\.[0-9]+ ' -- --version
expect 2 '^usage:' --
expect 2 '^nq: frob: unknown command' -- frob
expect 2 '^nq: --protocol udp: unknown protocol' -- server --protocol udp
expect 2 '^nq: --port: .70000. is not a number' -- client --port 70000
expect 2 '^nq: --id xyz: expected 32 hex digits' -- client --id xyz
expect 2 '^nq: --codec json: expected raw or pickle' -- client --codec json
expect 2 '^nq: --tls: a server needs --key and --cert' -- server --tls
expect 2 'need --tls' -- client --ca x.pem
expect 2 '^nq: --echo: not an option of nq client' -- client --echo
expect 2 '^nq: --put: not an option of nq server' -- server --put x
expect 2 '^nq: --bogus: unknown option' -- client --bogus
expect 2 '^nq: --get: missing' -- client --get
expect 2 '^nq: --put-file /nonexistent' -- client --put-file /nonexistent/file
# Nothing listens on port 1 of loopback: the put cannot complete in time.
expect 3 '^nq: put: .*timed out' -- client --port 1 --put x --timeout 300
# A server key that is not a key: the library's status and detail.
expect 1 '^nq: server: TLS error \(.+\)' -- server --port 0 --tls --key "$0" --cert "$0"
# --protocol picks the transport (gRPC: the same TLS check, when built in).
expect 1 '^nq: server: (TLS error|not supported)' -- server --protocol grpc --port 0 --tls --key "$0" --cert "$0"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
