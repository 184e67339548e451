#!/usr/bin/env bash
# Static checks, run by `make lint` and by CI (scripts/test-all.sh counts it as one check):
# buf lint + buf breaking (against the last release tag v*), TypeScript type checks,
# typescript-eslint (no-floating-promises, no-misused-promises), prettier (check mode),
# gofmt + go vet for the Go modules. Needs `npm ci` and the generated code (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then export PATH="/usr/local/go/bin:$PATH"; fi
status=0
step() { echo "lint: $*"; }
fail() { echo "lint: FAILED: $*"; status=1; }

step "buf lint"
npx buf lint || fail "buf lint"

step "buf breaking"
tag=$(git tag --list 'v*' --sort=-v:refname 2>/dev/null | head -1 || true)
if [[ -n "$tag" ]]; then
  npx buf breaking proto --against ".git#tag=${tag},subdir=proto" || fail "buf breaking against $tag"
else
  echo "lint: no release tag (v*) yet: no earlier contract to compare against"
fi

step "tsc (packages, tests, console)"
npx tsc -b || fail "tsc -b"
npx tsc -p tsconfig.tests.json || fail "tsc tests"
npx tsc -p console/tsconfig.json || fail "tsc console"

step "eslint"
npx eslint || fail "eslint"

step "prettier --check"
npx prettier --check . >/dev/null 2>&1 || { npx prettier --list-different . | head -20; fail "prettier (run: npx prettier --write .)"; }

step "gofmt + go vet"
for mod in gateway/rest deploy/validate; do
  [[ -f "$mod/go.mod" ]] || continue
  files=$(cd "$mod" && git ls-files '*.go' | grep -v '^gen/' || true)
  if [[ -n "$files" ]]; then
    unformatted=$(cd "$mod" && gofmt -l $files)
    [[ -z "$unformatted" ]] || { echo "$unformatted"; fail "gofmt ($mod)"; }
  fi
  (cd "$mod" && go vet ./...) || fail "go vet ($mod)"
done

exit $status
