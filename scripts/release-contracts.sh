#!/usr/bin/env bash
# Cuts a release of the gRPC/event contracts: writes proto/releases/VERSION.binpb, a buf image
# of proto/ as it is now (imports included so that it resolves on its own, source info left out),
# to be committed. `make lint` (scripts/lint.sh) runs `buf breaking` against the newest image there
# on every run, from any clone (no git tags needed).
# Usage: scripts/release-contracts.sh vMAJOR.MINOR.PATCH
# The version must be newer than the last release; within the same major version the contracts
# must not break the last release (buf breaking), a new major version may.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-}"
[[ "$version" =~ ^v([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || { echo "usage: $0 vMAJOR.MINOR.PATCH" >&2; exit 2; }
major="${BASH_REMATCH[1]}"
dir=proto/releases
out="$dir/$version.binpb"
[[ ! -e "$out" ]] || { echo "release-contracts: $out exists already" >&2; exit 1; }
[[ -d build/proto-deps ]] || { echo "release-contracts: build/proto-deps missing: run scripts/gen-proto.sh (or scripts/build.sh) first" >&2; exit 1; }

shopt -s nullglob
releases=("$dir"/v*.binpb)
last=""
((${#releases[@]} == 0)) || last=$(printf '%s\n' "${releases[@]##*/}" | sed 's/\.binpb$//' | sort -V | tail -1)
if [[ -n "$last" ]]; then
  [[ "$(printf '%s\n%s\n' "$last" "$version" | sort -V | tail -1)" == "$version" ]] \
    || { echo "release-contracts: $version is not newer than the last release $last" >&2; exit 1; }
  last_major="${last#v}"; last_major="${last_major%%.*}"
  if [[ "$last_major" == "$major" ]]; then
    npx buf breaking proto --against "$dir/$last.binpb" \
      || { echo "release-contracts: the contracts break $last: that needs a new major version" >&2; exit 1; }
  else
    echo "release-contracts: new major version ($last -> $version): breaking changes allowed"
  fi
fi
npx buf lint
npx buf build proto --exclude-source-info -o "$out"
echo "release-contracts: wrote $out ($(wc -c < "$out") bytes; commit it)"
