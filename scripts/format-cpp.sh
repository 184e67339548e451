#!/usr/bin/env bash
# clang-format for the engine's own C++ sources (engine-cpp/include, src, tests; not third_party/,
# not the generated code in build/), with the style in engine-cpp/.clang-format.
# Usage: scripts/format-cpp.sh            format the files in place
#        scripts/format-cpp.sh --check    list the files that are not formatted; exit 1 if any
#        scripts/format-cpp.sh --count [--style FILE]
#                                         print how many lines formatting would change (per file
#                                         and in total) without touching anything; --style
#                                         measures another candidate style file
# Extra arguments after the mode (paths) restrict it to those files.
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT="${CLANG_FORMAT:-clang-format}"
command -v "$CLANG_FORMAT" >/dev/null || { echo "format-cpp: $CLANG_FORMAT not found (Debian: apt-get install clang-format)" >&2; exit 2; }

mode=format
style=file
case "${1:-}" in
  --check) mode=check; shift ;;
  --count) mode=count; shift
    if [[ "${1:-}" == "--style" ]]; then style="file:$(realpath "$2")"; shift 2; fi ;;
  -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

if (($#)); then
  files=("$@")
else
  mapfile -t files < <(git ls-files -- 'engine-cpp/include/*.hpp' 'engine-cpp/include/*.h' \
    'engine-cpp/src/*.cpp' 'engine-cpp/src/*.hpp' 'engine-cpp/tests/*.cpp' 'engine-cpp/tests/*.hpp')
fi
((${#files[@]})) || { echo "format-cpp: no files" >&2; exit 2; }

case "$mode" in
  format)
    "$CLANG_FORMAT" --style="$style" -i "${files[@]}"
    echo "format-cpp: formatted ${#files[@]} files" ;;
  check)
    bad=()
    for f in "${files[@]}"; do
      "$CLANG_FORMAT" --style="$style" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
    done
    if ((${#bad[@]})); then
      printf '%s\n' "${bad[@]}"
      echo "format-cpp: ${#bad[@]} of ${#files[@]} files need formatting (run: bash scripts/format-cpp.sh)" >&2
      exit 1
    fi
    echo "format-cpp: ${#files[@]} files formatted" ;;
  count)
    total=0 lines=0
    for f in "${files[@]}"; do
      n=$("$CLANG_FORMAT" --style="$style" "$f" | diff "$f" - | grep -c '^<' || true)
      lines=$((lines + $(wc -l < "$f")))
      ((n == 0)) || printf '%6d  %s\n' "$n" "$f"
      total=$((total + n))
    done
    echo "format-cpp: $total of $lines lines would change in ${#files[@]} files" ;;
esac
