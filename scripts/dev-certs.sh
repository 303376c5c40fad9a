#!/usr/bin/env bash
# A development CA and certificates for a local cluster or tests, laid out as cert-manager writes a Secret:
#   DIR/ca/{ca.crt,ca.key}   the CA (keep ca.key away from silos and clients)
#   DIR/silo/                tls.crt, tls.key, ca.crt: a silo (OU=silo; server and client auth; localhost, 127.0.0.1)
#   DIR/operator/            a client that may submit, cancel and delete (OU=operator)
#   DIR/reader/              a client that may only query (OU=reader)
# Usage: scripts/dev-certs.sh DIR [DAYS]   (an existing CA in DIR/ca is reused, so rerunning issues new leaves)
# Production: issue the same layout with cert-manager (docs/security.md).
set -euo pipefail
dir=${1:?usage: scripts/dev-certs.sh DIR [DAYS]}
days=${2:-30}
command -v openssl >/dev/null || { echo "error: openssl is needed (apt-get install -y openssl)" >&2; exit 2; }
mkdir -p "$dir/ca"
umask 077
if [[ ! -f $dir/ca/ca.key ]]; then
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days "$days" \
    -subj "/O=distributed/CN=distributed development CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$dir/ca/ca.key" -out "$dir/ca/ca.crt" 2>/dev/null
fi
leaf() { # name unit usages [subjectAltName]
  local out=$dir/$1
  mkdir -p "$out"
  local ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=$3"
  [[ -n ${4:-} ]] && ext+=$'\n'"subjectAltName=$4"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/O=distributed/OU=$2/CN=$1" \
    -keyout "$out/tls.key" -out "$out/tls.csr" 2>/dev/null
  openssl x509 -req -in "$out/tls.csr" -CA "$dir/ca/ca.crt" -CAkey "$dir/ca/ca.key" -CAcreateserial -days "$days" \
    -extfile <(printf '%s\n' "$ext") -out "$out/tls.crt" 2>/dev/null
  rm -f "$out/tls.csr"
  cp "$dir/ca/ca.crt" "$out/ca.crt"
}
leaf silo silo serverAuth,clientAuth "DNS:localhost,IP:127.0.0.1"
leaf operator operator clientAuth
leaf reader reader clientAuth
echo "certificates in $dir: silo/, operator/, reader/ (CA in $dir/ca)"
