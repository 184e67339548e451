#!/usr/bin/env bash
# Makes the mesh's mutual-TLS material in DIR (default: $TDA_RUN_DIR/tls): a CA and,
# signed by it, one certificate + key per mesh process kind (engine, upload,
# scheduler, gateway, flink). Every certificate names its kind and "tda-mesh"
# (the name clients check: peers are reached by address, engine pods by IP), plus
# localhost/127.0.0.1. Keys are PKCS#8 PEM (what grpc-js, gRPC C++ and grpc-java
# all read), mode 600. Existing files are kept while they have more than 7 days
# left; the CA key stays in DIR (local development only: deploy/k8s takes its
# certificates from Secrets).
#   deploy/local/make-certs.sh [DIR]
#   TDA_TLS_DAYS (default 365), TDA_TLS_KINDS (default "engine upload scheduler gateway flink")
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir="$(tda_abs "${1:-$TDA_RUN_DIR/tls}")"
days="${TDA_TLS_DAYS:-365}"
read -r -a kinds <<<"${TDA_TLS_KINDS:-engine upload scheduler gateway flink}"
command -v openssl >/dev/null || tda_die "openssl is needed to make the mesh's certificates"
mkdir -p "$dir"
chmod 700 "$dir"

fresh() { [[ -s "$1" ]] && openssl x509 -in "$1" -noout -checkend $((7 * 86400)) >/dev/null 2>&1; }

made=0
if ! fresh "$dir/ca.crt" || [[ ! -s "$dir/ca.key" ]]; then
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key" 2>/dev/null)
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days "$days" -subj "/O=tda-mesh/CN=tda-mesh local CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$dir/ca.crt"
  rm -f "$dir"/*.srl
  for k in "${kinds[@]}"; do rm -f "$dir/$k.crt"; done # signed by the old CA
  made=1
fi
for k in "${kinds[@]}"; do
  if fresh "$dir/$k.crt" && [[ -s "$dir/$k.key" ]] && openssl verify -CAfile "$dir/ca.crt" "$dir/$k.crt" >/dev/null 2>&1; then continue; fi
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$k.key" 2>/dev/null)
  ext="$(mktemp)"
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=DNS:tda-mesh,DNS:$k,DNS:tda-$k,DNS:localhost,IP:127.0.0.1" >"$ext"
  openssl req -new -key "$dir/$k.key" -subj "/O=tda-mesh/CN=$k" 2>/dev/null |
    openssl x509 -req -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -sha256 -days "$days" -extfile "$ext" -out "$dir/$k.crt" 2>/dev/null
  rm -f "$ext"
  made=1
done
rm -f "$dir"/*.srl
((made)) && tda_log "tls: certificates in $dir (CA + ${kinds[*]})" || true
