#!/usr/bin/env bash
# Installs what the local infrastructure needs, idempotently and quietly:
#   - Debian packages (only those missing): redis-server (+ redis-cli), jq, Java 17 JRE, Maven
#   - Kafka ${KAFKA_VERSION} jars (kafka_2.13 + kafka-tools + runtime deps) resolved by Maven
#     into ${TDA_CACHE_DIR}/kafka-${KAFKA_VERSION}/lib (outside the work tree; reruns are instant)
# Usage: deploy/local/install.sh [--force]   (--force re-resolves the Kafka jars)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TDA_LOG_TAG=install

force=0
[[ "${1:-}" == "--force" ]] && force=1

# ---- Debian packages ------------------------------------------------------------
# command -> package
declare -A want=(
  [redis-server]=redis-server
  [redis-cli]=redis-tools
  [jq]=jq
  [java]=default-jre-headless
  [mvn]=maven
  [setsid]=util-linux
)
missing=()
for cmd in "${!want[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${want[$cmd]}")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi
  tda_log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null || tda_die "apt-get update failed"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || tda_die "apt-get install ${missing[*]} failed"
  # Debian's package may start a system-wide redis on 6379; we run our own on $REDIS_PORT.
else
  tda_log "system packages: ok"
fi

jv="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)"
[[ -n "$jv" && "$jv" -ge 17 ]] || tda_die "Kafka ${KAFKA_VERSION} needs Java >= 17 (found: ${jv:-none})"

# ---- Kafka jars -------------------------------------------------------------------
stamp="$TDA_KAFKA_HOME/.complete"
if [[ $force -eq 0 && -f "$stamp" ]] && compgen -G "$TDA_KAFKA_LIB/kafka_2.13-${KAFKA_VERSION}.jar" >/dev/null; then
  tda_log "kafka ${KAFKA_VERSION}: ok ($(find "$TDA_KAFKA_LIB" -name "*.jar" | wc -l) jars in $TDA_KAFKA_LIB)"
  exit 0
fi

tda_log "kafka ${KAFKA_VERSION}: resolving jars with Maven into $TDA_KAFKA_LIB"
tmp="$TDA_KAFKA_HOME/lib.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
mvn_log="$TDA_KAFKA_HOME/mvn.log"
# shellcheck disable=SC2086  # TDA_MVN_ARGS is a list of extra Maven flags
if ! mvn -B -q -f "$TDA_ROOT/deploy/kafka/pom.xml" ${TDA_MVN_ARGS:-} \
  -Dkafka.version="$KAFKA_VERSION" \
  dependency:copy-dependencies -DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
  tda_tail "$mvn_log" 30
  tda_die "could not resolve Kafka ${KAFKA_VERSION} (see $mvn_log); set KAFKA_VERSION to a served 4.x version"
fi
[[ -f "$tmp/kafka_2.13-${KAFKA_VERSION}.jar" && -f "$tmp/kafka-tools-${KAFKA_VERSION}.jar" ]] \
  || tda_die "Maven finished but kafka jars are missing in $tmp"
rm -rf "$TDA_KAFKA_LIB"
rm -f "$TDA_KAFKA_HOME"/*.jsa "$TDA_KAFKA_HOME"/*.jsa.tmp.*   # class-data archives of the old jars
mv "$tmp" "$TDA_KAFKA_LIB"
trap - EXIT
date -u +%FT%TZ >"$stamp"
tda_log "kafka ${KAFKA_VERSION}: $(find "$TDA_KAFKA_LIB" -name "*.jar" | wc -l) jars installed"
