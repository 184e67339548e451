#!/usr/bin/env bash
# Builds the REST proxy (grpc-gateway) into build/bin/tda-rest.
#
#   gateway/rest/build.sh          generate (if inputs changed) + build
#   gateway/rest/build.sh test     the same, then go vet + go test
#   gateway/rest/build.sh clean    remove generated code and build outputs
#
# Needs: Go >= 1.26 (on PATH, or GO=/path/to/go), `npm ci` (buf CLI) and
# `npm run gen` (google/api protos in build/proto-deps). Go modules come from
# the module proxy on first use. Generation is skipped when the protos, the
# buf template and go.mod/go.sum are unchanged since the last run; `go build`
# is incremental by itself, so a no-op run takes a second or two.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if [[ -z "${GO:-}" ]]; then
  if command -v go >/dev/null 2>&1; then GO=go
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go   # the official tarball's default location
  else echo "build.sh: Go not found; install Go >= 1.26 or set GO=" >&2; exit 1
  fi
fi
BUF="${BUF:-$root/node_modules/.bin/buf}"
tools="$root/build/rest-tools"
gen="$here/gen"
spec="$here/internal/openapi/spec"
stamp="$tools/gen.stamp"

case "${1:-build}" in
  clean)
    rm -rf "$gen" "$spec" "$tools" "$root/build/bin/tda-rest"
    exit 0 ;;
  build|test) ;;
  *) echo "usage: $0 [build|test|clean]" >&2; exit 2 ;;
esac

[[ -x "$BUF" ]] || { echo "build.sh: buf not found at node_modules/.bin/buf; run 'npm ci' first" >&2; exit 1; }
[[ -f build/proto-deps/google/api/annotations.proto ]] || {
  echo "build.sh: build/proto-deps is missing; run 'npm run gen' first" >&2; exit 1; }

inputs_hash() {
  {
    find proto/tda/gateway proto/tda/common proto/tda/jobs proto/tda/upload build/proto-deps/google/api \
      -name '*.proto' -type f | LC_ALL=C sort
    printf '%s\n' gateway/rest/buf.gen.yaml gateway/rest/go.mod gateway/rest/go.sum buf.yaml
  } | while read -r f; do printf '%s ' "$f"; sha256sum < "$f"; done | sha256sum | cut -d' ' -f1
}

# One build at a time (parallel make targets share the outputs).
mkdir -p "$tools"
if command -v flock >/dev/null 2>&1; then exec 9>"$tools/.lock"; flock 9; fi

want="$(inputs_hash)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [[ "$want" != "$have" || ! -d "$gen" || ! -f "$spec/tda.swagger.json" ]]; then
  echo "build.sh: generating Go code and OpenAPI from proto/"
  mkdir -p "$tools/bin"
  # The protoc plugins are the `tool` dependencies pinned in go.mod.
  (cd "$here" && nice "$GO" build -buildvcs=false -o "$tools/bin/" tool)
  rm -rf "$gen" "$spec"
  "$BUF" generate --template gateway/rest/buf.gen.yaml
  printf '%s\n' "$want" > "$stamp"
fi

# The web console (console/dist, built by `npm run build -w console`) is
# embedded when present; without it the proxy still builds and answers its
# routes with a 404 saying how to build it.
site="$here/internal/console/site"
find "$site" -mindepth 1 ! -name .gitkeep -delete
if [[ -f console/dist/index.html ]]; then
  cp -R console/dist/. "$site/"
else
  echo "build.sh: console/dist is not built: tda-rest will not serve the web console (npm run build -w console)"
fi

mkdir -p build/bin
(cd "$here" && nice "$GO" build -buildvcs=false -o ../../build/bin/tda-rest ./cmd/tda-rest)
echo "build.sh: built build/bin/tda-rest"

if [[ "${1:-build}" == test ]]; then
  (cd "$here" && "$GO" vet ./... && nice "$GO" test -count=1 ./...)
fi
