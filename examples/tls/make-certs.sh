#!/usr/bin/env bash
# The certificates of the TLS walkthrough (README.md), made with the
# openssl command line into DIR (default: ./certs):
#   ca.pem, ca.key                 a private CA
#   server.pem, server.key         the server's, for DNS:localhost and IP:127.0.0.1
#   client.pem, client.key         a client's, for mutual TLS (clientAuth)
#   other-ca.pem, other-ca.key     a second CA, to see what a wrong CA does
#   stranger.pem, stranger.key     a client certificate that other CA signed
set -euo pipefail
dir=${1:-certs}
mkdir -p "$dir"
cd "$dir"

# A CA: a self-signed certificate allowed to sign others. The key usage and
# the subject key identifier are what strict verifiers (Python 3.13's
# VERIFY_X509_STRICT) ask of a CA.
make_ca() { # name common-name
    openssl req -x509 -newkey rsa:2048 -nodes -days 365 \
        -keyout "$1.key" -out "$1.pem" -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" 2>/dev/null
}

# A leaf certificate signed by a CA: a key and a request, then the CA signs
# the request with the extensions that say what the certificate is for.
make_leaf() { # name common-name ca extendedKeyUsage [subjectAltName]
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
    {
        [ -z "${5:-}" ] || echo "subjectAltName=$5"
        echo "basicConstraints=CA:FALSE"
        echo "extendedKeyUsage=$4"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "subjectKeyIdentifier=hash"
        echo "authorityKeyIdentifier=keyid"
    } > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial \
        -days 365 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

make_ca ca "walkthrough CA"
# The server's certificate names what clients dial: the name localhost and
# the address 127.0.0.1 (the common name is not looked at).
make_leaf server localhost ca serverAuth "DNS:localhost,IP:127.0.0.1"
# A client certificate, for a server that requires one (mutual TLS).
make_leaf client "walkthrough client" ca clientAuth
# A second CA and a client it signed: trusted by nobody here.
make_ca other-ca "some other CA"
make_leaf stranger "stranger" other-ca clientAuth
chmod 600 ./*.key
echo "make-certs: CA, server, client, other CA and stranger certificates in $PWD"
