#!/usr/bin/env bash
# Stops the local Kafka and Redis started by start-infra.sh (SIGTERM, wait, SIGKILL).
# Usage: deploy/local/stop-infra.sh [--clean]
#   --clean  also delete Redis/Kafka data, logs and $TDA_DATA_DIR (the whole $TDA_RUN_DIR)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TDA_LOG_TAG=infra

clean=0
for a in "$@"; do
  case "$a" in
    --clean) clean=1 ;;
    -h | --help) sed -n '2,5p' "$0"; exit 0 ;;
    *) tda_die "unknown argument: $a" ;;
  esac
done

# Kafka first (its controlled shutdown can take a few seconds), then Redis.
# A first broker run also writes its class-data archive at exit: allow for that.
rc=0
tda_stop_pid kafka "${TDA_KAFKA_STOP_TIMEOUT:-60}" || rc=$?
if ((rc == 0)); then
  tda_cds_commit broker "$(tda_run_tag)"
else
  rm -f "$TDA_KAFKA_HOME/broker.jsa.tmp.$(tda_run_tag)"   # may be half-written
fi
# Redis: SIGTERM makes it write its data and exit (it refuses to exit if that write fails:
# then SIGKILL after the timeout; the AOF is still there).
tda_stop_pid redis "${TDA_STOP_TIMEOUT:-30}" || true

if ((clean)); then
  case "$TDA_RUN_DIR" in
    "" | / | "$TDA_ROOT" | "$HOME") tda_die "refusing to delete TDA_RUN_DIR=$TDA_RUN_DIR" ;;
  esac
  rm -rf "$TDA_REDIS_RUN_DIR" "$TDA_KAFKA_RUN_DIR" "$TDA_LOG_DIR"
  if [[ "$TDA_DATA_DIR" == "$TDA_RUN_DIR"/* ]]; then rm -rf "$TDA_DATA_DIR"; fi
  rmdir "$TDA_PID_DIR" "$TDA_RUN_DIR" 2>/dev/null || true
  tda_log "cleaned $TDA_RUN_DIR"
fi
