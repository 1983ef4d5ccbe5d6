#!/bin/sh
# Makes a test certificate authority and certificates signed by it, for TLS on
# 127.0.0.1 / localhost (LIBPROCESS_SSL_*):
#
#   scripts/test-ca.sh DIR
#
# writes into DIR:
#   ca.pem, ca.key          the CA (LIBPROCESS_SSL_CA_FILE=DIR/ca.pem)
#   server.pem, server.key  for 127.0.0.1 and localhost, usable as client too
#                           (LIBPROCESS_SSL_CERT_FILE / LIBPROCESS_SSL_KEY_FILE)
#   client.pem, client.key  a client-only certificate
#   rogue-ca.pem, rogue.pem, rogue.key  a certificate for the same names from another CA
#                           (what a server must refuse)
# Keys are EC P-256; everything is valid for 30 days. Needs the openssl command.
set -eu
dir=${1:?usage: $0 DIR}
mkdir -p "$dir"
cd "$dir"
days=30

ext=$(mktemp)
trap 'rm -f "$ext" ./*.csr ./*.srl' EXIT

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # name subject
    new_key "$1.key"
    openssl req -x509 -new -key "$1.key" -sha256 -days $days -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.pem"
}

leaf() { # name ca usage
    new_key "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr"
    cat >"$ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=$3
subjectAltName=IP:127.0.0.1,DNS:localhost
EXT
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
        -days $days -sha256 -extfile "$ext" -out "$1.pem" 2>/dev/null
}

ca ca "mesos-rs test CA"
leaf server ca serverAuth,clientAuth
leaf client ca clientAuth
ca rogue-ca "rogue CA"
leaf rogue rogue-ca serverAuth,clientAuth
chmod 600 ./*.key
echo "$dir: ca.pem server.pem/.key client.pem/.key rogue.pem/.key"
