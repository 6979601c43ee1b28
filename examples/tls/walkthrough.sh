#!/usr/bin/env bash
# The TLS walkthrough of README.md, run for real: certificates, a TLS server
# and client, a client with the wrong CA, then mutual TLS with a client
# certificate, without one and with one from another CA. Everything runs on
# free loopback ports in a temporary folder and is stopped at the end.
#   NQ=/path/to/nq examples/tls/walkthrough.sh      (default: nq on PATH)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../walkthrough-lib.sh"

step "1. Certificates: a CA, a server certificate, a client certificate"
show "examples/tls/make-certs.sh certs"
bash "$here/make-certs.sh" "$work/certs"
cd "$work/certs"
openssl x509 -in server.pem -noout -subject -ext subjectAltName
openssl verify -CAfile ca.pem server.pem client.pem

step "2. A TLS server, and a client that verifies it against the CA"
start_server tls --tls --key server.key --cert server.pem --port 0 --echo
client_ok hello --tls --ca ca.pem --port "$PORT" --put hello --get 1
# The certificate names localhost too, so dialling the name works as well.
client_ok hello --tls --ca ca.pem --host localhost --port "$PORT" --put hello --get 1

step "3. A client with the wrong CA: verification fails, its put fails after the connect timeout"
client_fails 1 'certificate verify failed: unable to get local issuer certificate' \
    --tls --ca other-ca.pem --port "$PORT" --put hello --connect-timeout 1000
server_said tls 'the client rejected our certificate \(TLS alert "unknown CA"\)'
server_received tls 2
stop_server tls

step "4. Mutual TLS: the server requires client certificates signed by the CA"
start_server mtls --tls --key server.key --cert server.pem --client-ca ca.pem --port 0 --echo
client_ok hello --tls --ca ca.pem --key client.key --cert client.pem --port "$PORT" --put hello --get 1

step "5. Mutual TLS: a client without a certificate is refused"
client_fails 1 'the server requires a client certificate and we presented none' \
    --tls --ca ca.pem --port "$PORT" --put hello --connect-timeout 1000
server_said mtls 'client presented no certificate'

step "6. Mutual TLS: a client certificate from another CA is refused"
client_fails 1 'the server rejected our client certificate \(TLS alert "unknown CA"\)' \
    --tls --ca ca.pem --key stranger.key --cert stranger.pem --port "$PORT" --put hello --connect-timeout 1000
server_said mtls 'client certificate verification failed: unable to get local issuer certificate'
# The refused clients never became peers: only the good client's message
# was delivered.
server_received mtls 1
stop_server mtls

step "done: TLS and mutual TLS work, and wrong certificates are refused as described"
