#!/usr/bin/env bash
# Compares tda-engine's CLI with Debian's ripser on the larger benchmark inputs
# (too slow for unit tests) and reports time and peak memory of both.
#
# usage: tests/compare_ripser.sh <tda-engine binary> <datasets dir> [case-filter]
# The datasets dir is the layout described in the datasets README
# (ripser-examples/, ph-roadmap/, ripser-plusplus/).
set -u
ENGINE=${1:?engine binary}
DATA=${2:?datasets dir}
FILTER=${3:-}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# name | reference binary | file | args
CASES=(
  "o3_1024|ripser|ripser-examples/o3_1024.txt|--format point-cloud --threshold 1.8 --dim 3"
  "fractal-r|ripser|ph-roadmap/fractal_9_5_2_random_edge_list.txt_0.19795_distmat.txt|--format distance --dim 2"
  "random16-d4|ripser|ph-roadmap/random_point_cloud_50_16_.txt|--format point-cloud --dim 4"
  "random16-d7|ripser|ph-roadmap/random_point_cloud_50_16_.txt|--format point-cloud --dim 7"
  "celegans|ripser|ripser-plusplus/celegans.distance_matrix|--format distance --dim 2"
  "vicsek|ripser|ripser-plusplus/Vicsek300_300_of_300.distance_matrix|--format distance --dim 2"
  "rp2_600-z2|ripser|ripser-examples/rp2_600.lower_distance_matrix.csv|--format lower-distance --dim 2"
  "rp2_600-z3|ripser-coeff|ripser-examples/rp2_600.lower_distance_matrix.csv|--format lower-distance --dim 2 --modulus 3"
  "dragon2000|ripser|ph-roadmap/dragon_vrip.ply.txt_2000_.txt|--format point-cloud --dim 1"
)

# canonical form: per dimension, sorted interval lines
canon() { awk '/^persistence intervals in dim/{d=$5} /^ \[/{print d, $0}' "$1" | LC_ALL=C sort; }

printf '%-12s %-6s %-6s %22s %22s\n' case text multiset "ripser" "tda-engine"
for c in "${CASES[@]}"; do
  IFS='|' read -r name ref file args <<<"$c"
  [[ -n "$FILTER" && "$name" != *$FILTER* ]] && continue
  /usr/bin/time -f "%e s %U u %M KB" -o "$TMP/rt" "/usr/bin/$ref" $args "$DATA/$file" >"$TMP/r.out" 2>/dev/null
  /usr/bin/time -f "%e s %U u %M KB" -o "$TMP/tt" "$ENGINE" $args "$DATA/$file" >"$TMP/t.out" 2>"$TMP/t.err"
  text=DIFF; cmp -s "$TMP/r.out" "$TMP/t.out" && text=same
  ms=DIFF; [[ "$(canon "$TMP/r.out")" == "$(canon "$TMP/t.out")" ]] && ms=equal
  printf '%-12s %-6s %-6s %22s %22s\n' "$name" "$text" "$ms" "$(tail -1 "$TMP/rt")" "$(tail -1 "$TMP/tt")"
done
