#!/usr/bin/env bash
# Starts the whole mesh on this machine: Redis + Kafka (start-infra.sh), Jaeger (the trace
# collector and store: OTLP/gRPC on OTLP_GRPC_PORT, query API on JAEGER_QUERY_PORT), then the C++ engine
# and the TS services (upload, scheduler, gateway) and the REST proxy (rest: build/bin/tda-rest,
# on REST_PORT, in front of GATEWAY_ADDRESS), each in the background with its log in
# $TDA_LOG_DIR/<name>.log and pid in $TDA_PID_DIR/<name>.pid; waits until each port accepts
# TCP connections. Idempotent: running components are left alone.
#
# Usage: deploy/local/start.sh [--no-infra] [COMPONENT...]
#   COMPONENT: jaeger engine upload scheduler gateway rest flink (default: all, in that order)
#   --no-infra  do not install/start Redis and Kafka
# Env: TDA_SKIP_MISSING=1 skips components that are not built instead of failing;
#      OTEL_EXPORTER_OTLP_ENDPOINT blank: no jaeger, and no process exports spans;
#      TDA_ENGINE_BIN (default engine-cpp/build/tda-engine), NODE_BIN (default node).
# Scale (one machine): TDA_ENGINES, TDA_UPLOADS, TDA_SCHEDULERS, TDA_GATEWAYS (default 1 each).
#      Instance 1 is `engine` etc. on 127.0.0.1; instance i>1 is `engine-i` on 127.0.0.i, same
#      port (pid/log files engine-i.*). With more than one, the addresses become lists:
#      ENGINE_ADDRESSES=127.0.0.1:P,127.0.0.2:P,... (the scheduler balances over all),
#      UPLOAD_ADDRESS / SCHEDULER_ADDRESS=ipv4:127.0.0.1:P,127.0.0.2:P (grpc-js fails over
#      between them); the REST proxy stays in front of gateway 1 (GATEWAY_ADDRESS).
# The components must be built first (engine: CMake into engine-cpp/build; TS: npm run build;
# rest: gateway/rest/build.sh — scripts/build.sh does all three).
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/lib.sh"
TDA_LOG_TAG=mesh

infra=1
components=()
for a in "$@"; do
  case "$a" in
    --no-infra) infra=0 ;;
    jaeger | engine | upload | scheduler | gateway | rest | flink) components+=("$a") ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) tda_die "unknown argument: $a (components: jaeger engine upload scheduler gateway rest flink)" ;;
  esac
done
if ((${#components[@]} == 0)); then
  components=(engine upload scheduler gateway rest flink)
  # the local trace store, unless tracing is switched off (blank endpoint)
  [[ -z "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ]] || components=(jaeger "${components[@]}")
fi

if ((infra)); then
  "$here/install.sh"
  "$here/start-infra.sh"
fi

mkdir -p "$TDA_DATA_DIR" "$TDA_LOG_DIR" "$TDA_PID_DIR"
# The key the mesh processes share to sign the tenant on internal hops (gateway ->
# upload/scheduler, scheduler -> upload): made once per run directory, never committed.
if [[ -z "${TDA_MESH_KEY:-}" ]]; then
  if [[ ! -s "$TDA_RUN_DIR/mesh-key" ]]; then
    (umask 077 && openssl rand -hex 32 >"$TDA_RUN_DIR/mesh-key")
  fi
  TDA_MESH_KEY="$(cat "$TDA_RUN_DIR/mesh-key")"
fi
export TDA_MESH_KEY
# Mutual TLS between the mesh processes (engine, upload, scheduler, gateway, Flink):
# certificates made once per run directory by make-certs.sh, or given as TDA_TLS_CA/
# TDA_TLS_CERT/TDA_TLS_KEY (then every process uses those). TDA_TLS_DISABLED=1: plaintext,
# which every process logs loudly. The REST proxy and clients use the gateway's public port.
tls_dir=""
if [[ "${TDA_TLS_DISABLED:-0}" == 1 ]]; then
  unset TDA_TLS_CA TDA_TLS_CERT TDA_TLS_KEY
  tda_err "TLS IS OFF (TDA_TLS_DISABLED=1): the mesh's internal hops are plaintext"
elif [[ -z "${TDA_TLS_CA:-}" ]]; then
  tls_dir="$(tda_abs "${TDA_TLS_DIR:-$TDA_RUN_DIR/tls}")"
  "$here/make-certs.sh" "$tls_dir"
fi
TDA_ENGINE_BIN="$(tda_abs "${TDA_ENGINE_BIN:-engine-cpp/build/tda-engine}")"
NODE_BIN="${NODE_BIN:-node}"
# instances per component (engine upload scheduler gateway); rest and flink run once
declare -A count=([engine]="${TDA_ENGINES:-1}" [upload]="${TDA_UPLOADS:-1}" [scheduler]="${TDA_SCHEDULERS:-1}" [gateway]="${TDA_GATEWAYS:-1}")
for c in "${!count[@]}"; do
  [[ "${count[$c]}" =~ ^[1-9][0-9]?$ ]] && ((count[$c] <= 50)) || tda_die "instances of $c: want 1..50, got '${count[$c]}'"
done
# host of instance i: 127.0.0.1 for the first, 127.0.0.i after (same port, no collisions)
inst_host() { if (($1 == 1)); then echo 127.0.0.1; else echo "127.0.0.$1"; fi; }
addr_list() { # COMPONENT PORT SCHEME: "h1:p,h2:p" (SCHEME "" ) or "ipv4:h1:p,h2:p"
  local i out=""
  for ((i = 1; i <= count[$1]; i++)); do out+="${out:+,}$(inst_host "$i"):$2"; done
  echo "$3$out"
}
((count[engine] == 1)) || ENGINE_ADDRESSES="$(addr_list engine "$TDA_ENGINE_PORT" "")"
((count[upload] == 1)) || UPLOAD_ADDRESS="$(addr_list upload "$UPLOAD_PORT" ipv4:)"
((count[scheduler] == 1)) || SCHEDULER_ADDRESS="$(addr_list scheduler "$SCHEDULER_PORT" ipv4:)"
export TDA_ENGINE_BIN TDA_DATA_DIR REDIS_URL KAFKA_BROKERS KAFKA_TOPIC_PREFIX ENGINE_ADDRESSES \
  UPLOAD_ADDRESS SCHEDULER_ADDRESS GATEWAY_ADDRESS TDA_ENGINE_PORT UPLOAD_PORT SCHEDULER_PORT \
  GATEWAY_PORT REST_PORT FLINK_REST_PORT FLINK_REST_URL OTLP_GRPC_PORT JAEGER_QUERY_PORT JAEGER_HOST
[[ -z "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ]] || export OTEL_EXPORTER_OTLP_ENDPOINT
[[ -z "${REST_TRACE_QUERY_URL:-}" ]] || export REST_TRACE_QUERY_URL

# name -> port variable, artifact, command
port_of() {
  case "${1%-[0-9]*}" in
    jaeger) echo "$JAEGER_QUERY_PORT" ;;
    engine) echo "$TDA_ENGINE_PORT" ;;
    upload) echo "$UPLOAD_PORT" ;;
    scheduler) echo "$SCHEDULER_PORT" ;;
    gateway) echo "$GATEWAY_PORT" ;;
    rest) echo "$REST_PORT" ;;
    flink) echo "$FLINK_REST_PORT" ;;
  esac
}
host_of() {
  local i="${1##*-}"
  if [[ "$1" == *-[0-9]* ]]; then inst_host "$i"; else echo 127.0.0.1; fi
}
artifact_of() {
  case "${1%-[0-9]*}" in
    jaeger) tda_jaeger_bin ;;
    engine) echo "$TDA_ENGINE_BIN" ;;
    upload) echo "$TDA_ROOT/services/upload/dist/main.js" ;;
    scheduler) echo "$TDA_ROOT/services/scheduler/dist/main.js" ;;
    gateway) echo "$TDA_ROOT/gateway/dist/main.js" ;;
    rest) echo "$TDA_ROOT/build/bin/tda-rest" ;;
    flink) echo "$TDA_ROOT/flink/target/tda-flink-job.jar" ;;
  esac
}

# Phase 1 spawns every component that is not running (they start in parallel: none needs
# another to be up to listen; the gateway and scheduler re-check upstream health on their
# own); phase 2 waits for each port.
declare -A spawned=() started_at=()
spawn_component() {
  local name="$1" port art pid log="$TDA_LOG_DIR/$1.log" cmd host envs=()
  port="$(port_of "$name")"
  host="$(host_of "$name")"
  art="$(artifact_of "$name")"
  if pid="$(tda_pid_of "$name")"; then
    tda_port_open "$host" "$port" \
      || tda_die "$name: pid $pid runs but nothing listens on $host:$port (run deploy/local/stop.sh)"
    tda_log "$name: already running (pid $pid, $host:$port)"
    return 0
  fi
  if [[ ! -f "$art" ]]; then
    if [[ "${TDA_SKIP_MISSING:-0}" == 1 ]]; then
      tda_log "$name: not built ($art), skipped"
      return 0
    fi
    if [[ "$name" == jaeger ]]; then
      # tracing is optional: the mesh runs without a collector (spans are dropped)
      tda_err "jaeger: not built ($art; scripts/bootstrap.sh or deploy/jaeger/build.sh builds it): traces are not collected"
      return 0
    fi
    tda_die "$name: not built: $art is missing (build it first, or TDA_SKIP_MISSING=1)"
  fi
  if tda_port_open "$host" "$port"; then
    tda_die "$name: port $host:$port is in use by another process"
  fi
  # instances after the first listen on their own loopback address (metrics too)
  [[ "$host" == 127.0.0.1 ]] || envs=(TDA_HOST="$host" TDA_ENGINE_HOST="$host")
  # each mesh process kind has its own certificate (the REST proxy is a client of the public port)
  local kind="${name%-[0-9]*}"
  if [[ -n "$tls_dir" && "$kind" =~ ^(engine|upload|scheduler|gateway|flink)$ ]]; then
    envs+=(TDA_TLS_CA="$tls_dir/ca.crt" TDA_TLS_CERT="$tls_dir/$kind.crt" TDA_TLS_KEY="$tls_dir/$kind.key")
  fi
  case "${name%-[0-9]*}" in
    jaeger)
      # memory storage: traces live as long as the process (deploy/jaeger/config.yaml)
      tda_port_open 127.0.0.1 "$OTLP_GRPC_PORT" && tda_die "jaeger: OTLP port 127.0.0.1:$OTLP_GRPC_PORT is in use by another process"
      cmd=("$art" --config "file:$TDA_ROOT/deploy/jaeger/config.yaml")
      ;;
    engine)
      [[ -x "$art" ]] || tda_die "engine: $art is not executable"
      cmd=("$art" serve --port "$port")
      [[ "$host" == 127.0.0.1 ]] || cmd+=(--host "$host")
      # Prometheus /metrics of the engine, on the instance's own address (blank: off)
      envs+=(TDA_ENGINE_METRICS_PORT="${TDA_ENGINE_METRICS_PORT-9473}")
      ;;
    rest)
      # Reads REST_PORT and GATEWAY_ADDRESS from the environment exported above (its /health
      # asks the gateway, which reports its own dependencies).
      [[ -x "$art" ]] || tda_die "rest: $art is not executable"
      cmd=("$art")
      ;;
    flink)
      # The job's jar in a MiniCluster (one JVM); Flink's own jars from flink/target/lib.
      # Resumes from the newest retained checkpoint under FLINK_CHECKPOINT_DIR.
      cmd=(env FLINK_LOCAL=true FLINK_CHECKPOINT_DIR="$(tda_abs "${FLINK_CHECKPOINT_DIR:-.run/flink/checkpoints}")"
        java "-Xmx${FLINK_HEAP:-1g}" -XX:+UseG1GC -cp "$art:$TDA_ROOT/flink/target/lib/*" io.tdamesh.flink.StreamFeaturesJob)
      ;;
    gateway)
      # --heap-growing-percent=100: V8 lets the old space grow to twice the heap live after a
      # full collection (its own factor, up to 4x, left the gateway's RSS climbing under load
      # with the live heap flat; see the README's soak row). Same flag in compose and k8s.
      cmd=("$NODE_BIN" --enable-source-maps --heap-growing-percent=100 "$art")
      ;;
    upload)
      # --min-semi-space-size=16: the young generation at its full size (2 x 16 MiB, V8's
      # default maximum) from the start. Lightly loaded, V8 shrank it to 2 x 2 MiB and grew it
      # back in cycles of 100-200 s, moving the RSS by ~17 MiB with the live heap flat (see the
      # README's soak row). Same flag in compose and k8s.
      cmd=("$NODE_BIN" --enable-source-maps --min-semi-space-size=16 "$art")
      ;;
    *) cmd=("$NODE_BIN" --enable-source-maps "$art") ;;
  esac
  ((${#envs[@]} == 0)) || cmd=(env "${envs[@]}" "${cmd[@]}")
  spawned[$name]="$(cd "$TDA_ROOT" && tda_spawn "$name" "$TDA_LOG_DIR/$name.log" "${cmd[@]}")"
  started_at[$name]=$SECONDS
}

wait_component() {
  local name="$1" port host pid="${spawned[$1]:-}" log="$TDA_LOG_DIR/$1.log" failed=0
  [[ -n "$pid" ]] || return 0
  port="$(port_of "$name")"
  host="$(host_of "$name")"
  if ! tda_wait_port "$name" "$host" "$port" "${TDA_SERVICE_START_TIMEOUT:-60}" "$pid"; then
    tda_tail "$log" 30
    failed=1
  else
    tda_log "$name: started (pid $pid, $host:$port, ready in $((SECONDS - started_at[$name]))s)"
  fi
  return "$failed"
}

# every instance: engine, engine-2, ..., upload, upload-2, ...
instances=()
for c in "${components[@]}"; do
  instances+=("$c")
  for ((i = 2; i <= ${count[$c]:-1}; i++)); do instances+=("$c-$i"); done
done
for c in "${instances[@]}"; do
  spawn_component "$c"
done
failed=()
for c in "${instances[@]}"; do
  wait_component "$c" || failed+=("$c")
done
if ((${#failed[@]})); then
  tda_die "failed to start: ${failed[*]} (logs in $TDA_LOG_DIR; deploy/local/stop.sh stops the rest)"
fi
# Listening is not serving: the gateway reports SERVING once its upstreams (and
# theirs) answer their health checks, which is when the first call can succeed.
if [[ " ${components[*]} " == *" gateway "* ]]; then
  if ! (cd "$TDA_ROOT" && "$NODE_BIN" -e '
      require("@tda/common").waitForHealthy(process.argv[1], "", Number(process.argv[2]) * 1000)
        .then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });' \
      "127.0.0.1:${GATEWAY_PORT}" "${TDA_SERVICE_START_TIMEOUT:-60}"); then
    tda_die "the gateway did not report SERVING (logs in $TDA_LOG_DIR)"
  fi
  tda_log "gateway: SERVING"
fi
tda_log "up: gateway 127.0.0.1:${GATEWAY_PORT}, REST http://127.0.0.1:${REST_PORT} (logs: ${TDA_LOG_DIR#"$TDA_ROOT"/})"
if tda_pid_of jaeger >/dev/null; then
  tda_log "traces: OTLP/gRPC ${OTEL_EXPORTER_OTLP_ENDPOINT}, query API http://127.0.0.1:${JAEGER_QUERY_PORT}/api/traces/<trace id>"
fi
