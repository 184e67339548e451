#!/usr/bin/env bash
# Lists the engine's C++ functions (engine-cpp/include, src, tests; lambdas and test bodies
# count as functions) longer than a limit, from their first to their last line as Universal Ctags
# sees them (Debian: universal-ctags). Run by scripts/lint.sh, which fails if any is listed: a long
# function is split into named steps instead (the TypeScript packages have the same limit, ESLint's
# max-lines-per-function in eslint.config.mjs).
# Usage: scripts/long-functions-cpp.sh [--max N] [--all]
#          --max N  the limit in lines (default 80)
#          --all    print every function's length (longest first) and do not fail
set -euo pipefail
cd "$(dirname "$0")/.."
max=80
all=0
while (($#)); do
  case "$1" in
    --max) max="$2"; shift 2 ;;
    --all) all=1; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "long-functions-cpp: unknown argument $1" >&2; exit 2 ;;
  esac
done
CTAGS="${CTAGS:-ctags}"
"$CTAGS" --version 2>/dev/null | grep -q '^Universal Ctags' ||
  { echo "long-functions-cpp: Universal Ctags not found (Debian: apt-get install universal-ctags)" >&2; exit 2; }

mapfile -t files < <(git ls-files -- 'engine-cpp/include/*.hpp' 'engine-cpp/include/*.h' \
  'engine-cpp/src/*.cpp' 'engine-cpp/src/*.hpp' 'engine-cpp/tests/*.cpp' 'engine-cpp/tests/*.hpp')
((${#files[@]})) || { echo "long-functions-cpp: no files" >&2; exit 2; }

# one line per function definition: file, first line, last line, name (tab-separated; names
# such as "operator <" hold spaces)
listing=$("$CTAGS" -x --language-force=C++ --kinds-C++=f --fields=+ne --_xformat='%F	%n	%e	%N' "${files[@]}" |
  awk -F'\t' '$3 != "" { printf "%d\t%s:%d\t%s\n", $3 - $2 + 1, $1, $2, $4 }' | sort -t$'\t' -k1,1nr -k2,2)

if ((all)); then
  printf '%s\n' "$listing"
  exit 0
fi
long=$(awk -F'\t' -v max="$max" '$1 > max' <<<"$listing")
if [[ -n "$long" ]]; then
  printf '%s\n' "$long"
  echo "long-functions-cpp: $(wc -l <<<"$long") C++ functions over $max lines (split them into named steps)" >&2
  exit 1
fi
echo "long-functions-cpp: no C++ function over $max lines ($(wc -l <<<"$listing") functions)"
