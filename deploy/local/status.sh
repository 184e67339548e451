#!/usr/bin/env bash
# Prints the state of each local component (pid, port, answering or not). Exit 1 if any
# component that has a pid file is not answering.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TDA_LOG_TAG=status

bad=0
check() {
  local name="$1" host="$2" port="$3" pid state
  if pid="$(tda_pid_of "$name")"; then
    if tda_port_open "$host" "$port"; then state="up"; else state="NOT ANSWERING"; bad=1; fi
    printf '%-10s %-14s pid %-7s %s:%s\n' "$name" "$state" "$pid" "$host" "$port"
  else
    printf '%-10s %-14s %-11s %s:%s\n' "$name" "stopped" "" "$host" "$port"
  fi
}
check redis "$REDIS_HOST" "$REDIS_PORT"
check kafka "$KAFKA_HOST" "$KAFKA_PORT"
check jaeger 127.0.0.1 "$JAEGER_QUERY_PORT"
check engine 127.0.0.1 "$TDA_ENGINE_PORT"
check upload 127.0.0.1 "$UPLOAD_PORT"
check scheduler 127.0.0.1 "$SCHEDULER_PORT"
check gateway 127.0.0.1 "$GATEWAY_PORT"
check flink 127.0.0.1 "$FLINK_REST_PORT"
# further instances of a scaled layout (start.sh TDA_ENGINES=3 ...): NAME-i on 127.0.0.i
for f in "$TDA_PID_DIR"/*-[0-9]*.pid; do
  [[ -e "$f" ]] || continue
  n="${f##*/}"; n="${n%.pid}"; i="${n##*-}"
  case "${n%-*}" in
    engine) p="$TDA_ENGINE_PORT" ;; upload) p="$UPLOAD_PORT" ;; scheduler) p="$SCHEDULER_PORT" ;;
    gateway) p="$GATEWAY_PORT" ;; *) continue ;;
  esac
  check "$n" "127.0.0.$i" "$p"
done
exit "$bad"
