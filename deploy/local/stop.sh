#!/usr/bin/env bash
# Stops the mesh started by start.sh: the Flink job, REST proxy, gateway, scheduler, upload, engine, jaeger (SIGTERM, wait,
# SIGKILL), then Redis and Kafka.
# Usage: deploy/local/stop.sh [--keep-infra] [--clean]
#   --keep-infra  leave Redis and Kafka running
#   --clean       also delete .run state (Redis/Kafka data, logs, datasets) — see stop-infra.sh
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/lib.sh"
TDA_LOG_TAG=mesh

keep_infra=0
infra_args=()
for a in "$@"; do
  case "$a" in
    --keep-infra) keep_infra=1 ;;
    --clean) infra_args+=(--clean) ;;
    -h | --help) sed -n '2,6p' "$0"; exit 0 ;;
    *) tda_die "unknown argument: $a" ;;
  esac
done

# every instance (engine, engine-2, ...; see start.sh), the second ones first
for c in flink rest gateway scheduler upload engine jaeger; do
  for f in "$TDA_PID_DIR/$c"-[0-9]*.pid; do
    [[ -e "$f" ]] || continue
    f="${f##*/}"
    tda_stop_pid "${f%.pid}" "${TDA_STOP_TIMEOUT:-30}" || true
  done
  tda_stop_pid "$c" "${TDA_STOP_TIMEOUT:-30}" || true
done
if ((keep_infra)); then
  ((${#infra_args[@]} == 0)) || tda_die "--clean needs the infrastructure stopped (drop --keep-infra)"
  exit 0
fi
"$here/stop-infra.sh" "${infra_args[@]}"
