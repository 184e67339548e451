#!/usr/bin/env bash
# Static checks, run by `make lint` and by CI (scripts/test-all.sh counts it as one check):
# buf lint + buf breaking (against the last contract release, proto/releases/v*.binpb, cut by
# scripts/release-contracts.sh), TypeScript type checks, typescript-eslint (no-floating-promises,
# no-misused-promises), prettier (check mode), and for every Go module in the repository: gofmt,
# go vet and `go mod tidy -diff` (go.mod/go.sum in sync with the code); clang-format --dry-run --Werror
# on the engine's own C++ (engine-cpp/src, include, tests; style engine-cpp/.clang-format); no C++
# function over 80 lines (scripts/long-functions-cpp.sh, Universal Ctags; ESLint holds the
# TypeScript to the same limit).
# Needs `npm ci` and the generated code (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then export PATH="/usr/local/go/bin:$PATH"; fi
status=0
step() { echo "lint: $*"; }
fail() { echo "lint: FAILED: $*"; status=1; }

step "buf lint"
npx buf lint || fail "buf lint"

step "buf breaking"
shopt -s nullglob
releases=(proto/releases/v*.binpb)
shopt -u nullglob
if ((${#releases[@]})); then
  last=$(printf '%s\n' "${releases[@]}" | sort -V | tail -1)
  npx buf breaking proto --against "$last" || fail "buf breaking against the last release ($last)"
else
  echo "lint: no contract release in proto/releases yet (scripts/release-contracts.sh cuts one)"
fi

step "tsc (packages, tests, console)"
npx tsc -b || fail "tsc -b"
npx tsc -p tsconfig.tests.json || fail "tsc tests"
npx tsc -p console/tsconfig.json || fail "tsc console"

step "eslint"
npx eslint || fail "eslint"

step "prettier --check"
npx prettier --check . >/dev/null 2>&1 || { npx prettier --list-different . | head -20; fail "prettier (run: npx prettier --write .)"; }

step "gofmt + go vet + go mod tidy (every Go module)"
mapfile -t go_mods < <(git ls-files -- 'go.mod' '*/go.mod' | xargs -r -n1 dirname)
for mod in "${go_mods[@]}"; do
  files=$(cd "$mod" && git ls-files -- '*.go' | grep -v '^gen/' || true)
  if [[ -n "$files" ]]; then
    unformatted=$(cd "$mod" && gofmt -l $files)
    [[ -z "$unformatted" ]] || { echo "$unformatted"; fail "gofmt ($mod)"; }
    (cd "$mod" && go vet ./...) || fail "go vet ($mod)"
  fi
  # modules holding only a pinned tool (deploy/jaeger) have nothing to vet, but their go.sum is checked too
  (cd "$mod" && go mod tidy -diff) || fail "go mod tidy ($mod: run \`go mod tidy\` there)"
done

step "clang-format (engine-cpp/src, engine-cpp/include, engine-cpp/tests)"
bash scripts/format-cpp.sh --check || fail "clang-format (run: bash scripts/format-cpp.sh)"

step "C++ functions at most 80 lines (engine-cpp/src, engine-cpp/include, engine-cpp/tests)"
bash scripts/long-functions-cpp.sh || fail "long C++ functions (split them; list all: bash scripts/long-functions-cpp.sh --all)"

exit $status
