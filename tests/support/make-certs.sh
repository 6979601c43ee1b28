#!/usr/bin/env bash
# Test PKI: a CA, a server certificate for localhost/127.0.0.1/::1, one for
# a wrong host name, a second CA (for "bad CA"), a self-signed server
# certificate, and client certificates (mutual TLS) signed by the CA
# (client.pem) and by the second CA (otherclient.pem). Written to $1
# (default ./certs).
set -euo pipefail
out=${1:-certs}
mkdir -p "$out"
cd "$out"
# the marker names the PKI's version: a tree made by an older script (without
# the client certificates) has another marker and is made again
marker=done-2-client-certs
[ -f "$marker" ] && exit 0
days=3650
# Python 3.13 verifies strictly (VERIFY_X509_STRICT): CAs need key usage,
# leaf certificates need an authority key identifier.
ca_ext=(-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
        -addext "subjectKeyIdentifier=hash")
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days $days \
  -subj "/CN=netqueue test CA" "${ca_ext[@]}" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days $days \
  -subj "/CN=netqueue other CA" "${ca_ext[@]}" 2>/dev/null
sign() { # name subject san [ca [extendedKeyUsage]]
  local ca=${4:-ca} eku=${5:-serverAuth}
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=%s\nkeyUsage=critical,digitalSignature,keyEncipherment\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' "$3" "$eku" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial -out "$1.pem" \
    -days $days -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
sign server "/CN=localhost" "DNS:localhost,IP:127.0.0.1,IP:::1"
sign wronghost "/CN=wrong.example" "DNS:wrong.example"
# client certificates for mutual TLS
sign client "/CN=netqueue test client" "DNS:client.example" ca clientAuth
sign otherclient "/CN=netqueue other client" "DNS:otherclient.example" other-ca clientAuth
openssl req -x509 -newkey rsa:2048 -nodes -keyout selfsigned.key -out selfsigned.pem -days $days \
  -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
echo "garbage, not PEM" > garbage.pem
rm -f done done-* # older markers
touch "$marker"
