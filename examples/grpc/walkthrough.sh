#!/usr/bin/env bash
# The gRPC walkthrough of README.md, run for real: a plain gRPC server and
# client, then TLS with the certificates of examples/tls (a client with the
# wrong CA, a plaintext client at a TLS server), then mutual TLS. Free
# loopback ports, a temporary folder, everything stopped at the end.
#   NQ=/path/to/nq examples/grpc/walkthrough.sh      (default: nq on PATH)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../walkthrough-lib.sh"

step "1. A plain gRPC server and client"
start_server plain --protocol grpc --port 0 --echo
client_ok hello --protocol grpc --port "$PORT" --put hello --get 1
client_ok world --protocol grpc --port "$PORT" --put hello --put world --get 2
server_received plain 3
stop_server plain

step "2. Certificates (examples/tls/make-certs.sh)"
bash "$here/../tls/make-certs.sh" "$work/certs"
cd "$work/certs"

step "3. gRPC over TLS"
start_server tls --protocol grpc --tls --key server.key --cert server.pem --port 0 --echo
client_ok hello --protocol grpc --tls --ca ca.pem --port "$PORT" --put hello --get 1

step "4. A client with the wrong CA: gRPC refuses the server, the put fails after the connect timeout"
client_fails 1 'certificate verify failed' \
    --protocol grpc --tls --ca other-ca.pem --port "$PORT" --put hello --connect-timeout 1000
grep -q 'channel failing to connect' "$work/client.err" || die "the client did not say its channel failed to connect"

step "5. A plaintext client at the TLS server: refused the same way"
client_fails 1 'channel failing to connect' \
    --protocol grpc --port "$PORT" --put hello --connect-timeout 1000
server_said tls 'wrong version number'
server_received tls 1
stop_server tls

step "6. Mutual TLS over gRPC"
start_server mtls --protocol grpc --tls --key server.key --cert server.pem --client-ca ca.pem --port 0 --echo
client_ok hello --protocol grpc --tls --ca ca.pem --key client.key --cert client.pem --port "$PORT" --put hello --get 1
client_fails 1 'channel failing to connect' \
    --protocol grpc --tls --ca ca.pem --port "$PORT" --put hello --connect-timeout 1000
server_said mtls 'peer did not return a certificate'
server_received mtls 1
stop_server mtls

step "done: gRPC plain, TLS and mutual TLS work, and refused connections fail as described"
