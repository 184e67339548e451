# shellcheck shell=bash
# Shared helpers for deploy/local/*.sh. Source it; do not run it.
#   - TDA_ROOT: repository root (resolved from this file's location)
#   - loads deploy/.env: variables already set in the environment take precedence
#   - makes relative paths absolute (relative to TDA_ROOT)

TDA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export TDA_ROOT

# Expand ${NAME} references (only that form) using the current environment.
_tda_expand() {
  local s="$1" out="" name
  while [[ "$s" =~ ^([^$]*)\$\{([A-Za-z_][A-Za-z0-9_]*)\}(.*)$ ]]; do
    out+="${BASH_REMATCH[1]}"
    name="${BASH_REMATCH[2]}"
    out+="${!name-}"
    s="${BASH_REMATCH[3]}"
  done
  printf '%s' "$out$s"
}

# Load KEY=VALUE lines; keys already present in the environment are kept as they are.
tda_load_env() {
  local file="$1" line key val
  [[ -f "$file" ]] || return 0
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%$'\r'}"
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    [[ "$line" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    key="${BASH_REMATCH[2]}"
    val="${BASH_REMATCH[3]}"
    # strip one level of matching quotes
    if [[ "$val" =~ ^\"(.*)\"$ || "$val" =~ ^\'(.*)\'$ ]]; then val="${BASH_REMATCH[1]}"; fi
    if [[ -z "${!key+x}" ]]; then
      export "$key=$(_tda_expand "$val")"
    fi
  done <"$file"
}

tda_load_env "$TDA_ROOT/deploy/.env"

# Absolute path for a repo-relative path.
tda_abs() {
  case "$1" in
    /*) printf '%s' "$1" ;;
    *) printf '%s/%s' "$TDA_ROOT" "$1" ;;
  esac
}

# Fallbacks if .env lacks a key (keep in sync with deploy/.env).
: "${REDIS_HOST:=127.0.0.1}" "${REDIS_PORT:=6390}" "${KAFKA_HOST:=127.0.0.1}" "${KAFKA_PORT:=9192}"
: "${KAFKA_CONTROLLER_PORT:=9193}" "${TDA_ENGINE_PORT:=50061}" "${GATEWAY_PORT:=50070}"
: "${UPLOAD_PORT:=50071}" "${SCHEDULER_PORT:=50072}" "${REST_PORT:=8080}"
: "${REDIS_URL:=redis://$REDIS_HOST:$REDIS_PORT}" "${KAFKA_BROKERS:=$KAFKA_HOST:$KAFKA_PORT}"
: "${ENGINE_ADDRESSES:=127.0.0.1:$TDA_ENGINE_PORT}" "${UPLOAD_ADDRESS:=127.0.0.1:$UPLOAD_PORT}"
: "${SCHEDULER_ADDRESS:=127.0.0.1:$SCHEDULER_PORT}" "${GATEWAY_ADDRESS:=127.0.0.1:$GATEWAY_PORT}"
: "${KAFKA_TOPIC_PREFIX:=}"
: "${FLINK_REST_PORT:=8081}" "${FLINK_REST_URL:=http://127.0.0.1:$FLINK_REST_PORT}"
export FLINK_REST_PORT FLINK_REST_URL
export REDIS_HOST REDIS_PORT KAFKA_HOST KAFKA_PORT KAFKA_CONTROLLER_PORT TDA_ENGINE_PORT \
  GATEWAY_PORT UPLOAD_PORT SCHEDULER_PORT REST_PORT REDIS_URL KAFKA_BROKERS ENGINE_ADDRESSES \
  UPLOAD_ADDRESS SCHEDULER_ADDRESS GATEWAY_ADDRESS KAFKA_TOPIC_PREFIX

TDA_RUN_DIR="$(tda_abs "${TDA_RUN_DIR:-.run}")"
TDA_DATA_DIR="$(tda_abs "${TDA_DATA_DIR:-$TDA_RUN_DIR/data}")"
TDA_LOG_DIR="$(tda_abs "${TDA_LOG_DIR:-$TDA_RUN_DIR/logs}")"
TDA_PID_DIR="$(tda_abs "${TDA_PID_DIR:-$TDA_RUN_DIR/pids}")"
KAFKA_TOPICS_FILE="$(tda_abs "${KAFKA_TOPICS_FILE:-deploy/kafka/topics.dev.json}")"
if [[ -z "${TDA_CACHE_DIR:-}" ]]; then
  TDA_CACHE_DIR="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/tda-mesh"
fi
TDA_CACHE_DIR="$(tda_abs "$TDA_CACHE_DIR")"
export TDA_RUN_DIR TDA_DATA_DIR TDA_LOG_DIR TDA_PID_DIR KAFKA_TOPICS_FILE TDA_CACHE_DIR
export KAFKA_VERSION="${KAFKA_VERSION:-4.3.1}"
export TDA_KAFKA_HOME="${TDA_KAFKA_HOME:-$TDA_CACHE_DIR/kafka-$KAFKA_VERSION}"
export TDA_KAFKA_LIB="$TDA_KAFKA_HOME/lib"
export TDA_KAFKA_RUN_DIR="$TDA_RUN_DIR/kafka"

# Jaeger (the local trace collector and store): the version pinned in deploy/jaeger/go.mod,
# the binary cached under TDA_CACHE_DIR by deploy/jaeger/build.sh.
tda_jaeger_version() {
  sed -n 's#^[[:space:]]*github.com/jaegertracing/jaeger \(v[^ ]*\).*#\1#p' "$TDA_ROOT/deploy/jaeger/go.mod" | head -1
}
tda_jaeger_bin() {
  printf '%s' "${TDA_JAEGER_BIN:-$TDA_CACHE_DIR/jaeger-$(tda_jaeger_version)/jaeger}"
}
: "${OTLP_GRPC_PORT:=4317}" "${JAEGER_QUERY_PORT:=16686}" "${JAEGER_HOST:=127.0.0.1}"
export OTLP_GRPC_PORT JAEGER_QUERY_PORT JAEGER_HOST
export TDA_REDIS_RUN_DIR="$TDA_RUN_DIR/redis"

# ---- output -----------------------------------------------------------------
tda_log() { printf '[%s] %s\n' "${TDA_LOG_TAG:-tda}" "$*"; }
tda_err() { printf '[%s] ERROR: %s\n' "${TDA_LOG_TAG:-tda}" "$*" >&2; }
tda_die() { tda_err "$*"; exit 1; }

# ---- processes ----------------------------------------------------------------
# True if PID is a live (not zombie) process.
tda_alive() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  if [[ -r "/proc/$1/stat" ]]; then
    st="$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)"
    [[ "$st" != Z && "$st" != X ]] || return 1
  fi
  return 0
}

# Pid recorded for NAME if that process is alive, else nothing (and stale pid file removed).
# A recorded pid whose command line no longer contains TDA_PID_MATCH_<NAME> (pid reuse) is stale.
tda_pid_of() {
  local f="$TDA_PID_DIR/$1.pid" pid match
  [[ -f "$f" ]] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  if [[ -n "$pid" ]] && tda_alive "$pid"; then
    match="$(tda_pid_match "$1")"
    if [[ -z "$match" || ! -r "/proc/$pid/cmdline" ]] \
      || tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$match"; then
      printf '%s' "$pid"
      return 0
    fi
  fi
  rm -f "$f"
  return 1
}

# What a component's command line contains (guards against pid reuse).
tda_pid_match() {
  case "${1%-[0-9]*}" in   # engine-2, gateway-2, ... are instances of engine, gateway
    redis) echo redis-server ;;
    kafka) echo kafka.Kafka ;;
    engine) echo tda-engine ;;
    upload) echo services/upload ;;
    scheduler) echo services/scheduler ;;
    gateway) echo gateway/ ;;
    flink) echo io.tdamesh.flink ;;
    jaeger) echo jaeger ;;
    *) echo "" ;;
  esac
}

# tda_stop_pid NAME [TIMEOUT]: SIGTERM, wait, SIGKILL; removes the pid file.
# Returns 0 (stopped or not running) or 2 (had to be killed).
tda_stop_pid() {
  local name="$1" timeout="${2:-${TDA_STOP_TIMEOUT:-30}}" pid i
  if ! pid="$(tda_pid_of "$name")"; then
    tda_log "$name: not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    tda_alive "$pid" || break
    sleep 0.1
  done
  if tda_alive "$pid"; then
    tda_err "$name (pid $pid) did not stop in ${timeout}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
    rm -f "$TDA_PID_DIR/$name.pid"
    tda_log "$name: killed (pid $pid)"
    return 2
  fi
  rm -f "$TDA_PID_DIR/$name.pid"
  tda_log "$name: stopped (pid $pid)"
}

# True if something accepts TCP connections on host:port.
tda_port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# tda_wait_port NAME HOST PORT TIMEOUT [PID]: wait for a TCP listener; fail early if PID dies.
tda_wait_port() {
  local name="$1" host="$2" port="$3" timeout="$4" pid="${5:-}" i
  for ((i = 0; i < timeout * 5; i++)); do
    tda_port_open "$host" "$port" && return 0
    if [[ -n "$pid" ]] && ! tda_alive "$pid"; then
      tda_err "$name exited before listening on $host:$port"
      return 1
    fi
    sleep 0.2
  done
  tda_err "$name: nothing listening on $host:$port after ${timeout}s"
  return 1
}

# tda_spawn NAME LOGFILE CMD...: start CMD detached (own session), stdout+stderr to LOGFILE,
# pid (of CMD itself, via exec) in $TDA_PID_DIR/NAME.pid. Prints the pid.
tda_spawn() {
  local name="$1" logfile="$2" pidfile="$TDA_PID_DIR/$1.pid" i
  shift 2
  mkdir -p "$TDA_PID_DIR" "$(dirname "$logfile")"
  rm -f "$pidfile"
  # keep logs bounded: rotate once past 20 MB
  if [[ -f "$logfile" ]] && (($(stat -c %s "$logfile") > 20971520)); then
    mv -f "$logfile" "$logfile.1"
  fi
  printf '===== start %s =====\n' "$(date -u +%FT%TZ)" >>"$logfile"
  # shellcheck disable=SC2016  # expanded by the inner bash
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$logfile" 2>&1 &
  for ((i = 0; i < 50; i++)); do
    [[ -s "$pidfile" ]] && break
    sleep 0.05
  done
  [[ -s "$pidfile" ]] || tda_die "$name: could not start (no pid file)"
  tr -dc '0-9' <"$pidfile"
}

# Last lines of a log (only those after the last "===== start" marker), indented, to stderr.
tda_tail() {
  local file="$1" n="${2:-40}"
  [[ -f "$file" ]] || return 0
  printf -- '---- last lines of %s ----\n' "$file" >&2
  awk '/^===== start /{delete buf; c=0; next} {buf[c++]=$0} END{for(i=0;i<c;i++) print buf[i]}' "$file" \
    | tail -n "$n" | cut -c1-400 | sed 's/^/    /' >&2
  printf -- '----\n' >&2
}

# tda_cds_flags NAME TAG: JVM flags for a class-data-sharing archive NAME.jsa in $TDA_KAFKA_HOME:
# use it if present, else have this run write it at exit (to a private temp name; tda_cds_commit moves it in place).
# Halves the start-up time of the admin tools. JVM log output goes to stderr. TDA_KAFKA_CDS=0: off.
tda_cds_flags() {
  local jsa="$TDA_KAFKA_HOME/$1.jsa"
  printf '%s\n' -Xlog:disable -Xlog:all=error:stderr
  if [[ "${TDA_KAFKA_CDS:-1}" != 1 ]]; then
    return 0
  elif [[ -f "$jsa" ]]; then
    printf '%s\n' -XX:SharedArchiveFile="$jsa"
  elif [[ -w "$TDA_KAFKA_HOME" ]]; then
    printf '%s\n' -XX:ArchiveClassesAtExit="$jsa.tmp.$2"
  fi
}
tda_cds_commit() {
  local jsa="$TDA_KAFKA_HOME/$1.jsa" tmp="$TDA_KAFKA_HOME/$1.jsa.tmp.$2"
  if [[ -s "$tmp" && ! -f "$jsa" ]]; then mv -f "$tmp" "$jsa"; else rm -f "$tmp"; fi
}

# A short tag naming this run directory (several run dirs may share one TDA_KAFKA_HOME).
tda_run_tag() { printf '%s' "$TDA_RUN_DIR" | cksum | cut -d' ' -f1; }

# Run a Kafka tool class with the local jars (small heap, quiet logging).
tda_kafka_java() {
  local rc=0 flags tag="$BASHPID"
  mapfile -t flags < <(tda_cds_flags tools "$tag")
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "${flags[@]}" \
    -Dlog4j2.configurationFile="$TDA_ROOT/deploy/kafka/log4j2.properties" \
    -Dtda.kafka.log.level=WARN -Dtda.log.target=SYSTEM_ERR \
    -cp "$TDA_KAFKA_LIB/*" "$@" || rc=$?
  tda_cds_commit tools "$tag"
  return "$rc"
}
