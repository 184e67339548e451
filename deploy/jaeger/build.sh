#!/usr/bin/env bash
# Builds the Jaeger binary pinned as a Go tool in deploy/jaeger/go.mod into
# ${TDA_CACHE_DIR}/jaeger-<version>/jaeger (outside the work tree, like the Kafka jars):
# the first build takes several minutes on 2 cores; later runs return at once until the
# version in go.mod changes. Prints the binary's path on the last line.
# Usage: deploy/jaeger/build.sh [--force]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../local/lib.sh"
TDA_LOG_TAG=jaeger
here="$TDA_ROOT/deploy/jaeger"

if [[ -z "${GO:-}" ]]; then
  if command -v go >/dev/null 2>&1; then GO=go
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  else tda_die "Go >= 1.26 not found (the REST proxy needs it too); set GO="
  fi
fi
version="$(tda_jaeger_version)"
[[ -n "$version" ]] || tda_die "no github.com/jaegertracing/jaeger requirement in deploy/jaeger/go.mod"
out="$(tda_jaeger_bin)"
if [[ "${1:-}" != "--force" && -x "$out" ]]; then
  tda_log "jaeger $version: ok ($out)"
  echo "$out"
  exit 0
fi
mkdir -p "$(dirname "$out")"
exec 9>"$(dirname "$out")/.lock"
flock 9
if [[ "${1:-}" != "--force" && -x "$out" ]]; then echo "$out"; exit 0; fi
tda_log "jaeger $version: building (go build, a few minutes the first time)"
(cd "$here" && nice "$GO" build -buildvcs=false -o "$out.tmp" github.com/jaegertracing/jaeger/cmd/jaeger)
mv -f "$out.tmp" "$out"
tda_log "jaeger $version: built $out ($(du -m "$out" | cut -f1) MB)"
echo "$out"
