#!/usr/bin/env bash
# The main job: installs what is missing, builds everything, starts Redis,
# Kafka, the engine and the services on loopback, uploads a bundled point cloud
# through the gateway and prints its persistence diagram, Betti numbers and
# trace id; then runs the live-stream demo through the Flink job (examples/stream-demo).
# The mesh keeps running afterwards (stop it with `make stop`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/build.sh
bash deploy/local/start.sh
# 800 noisy points on a torus; at scale 1.0 its Rips complex has the torus's
# Betti numbers (1, 2, 1). Only the 8 longest bars per dimension are printed.
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
node examples/ts-client/demo.js "${1:-examples/data/torus_800.csv}" --max-dim "${MAX_DIM:-2}" \
  --threshold "${THRESHOLD:-1.0}" --max-bars "${MAX_BARS:-8}" --algorithms "${ALGORITHMS:-rips,alpha}" \
  --gateway "127.0.0.1:${GATEWAY_PORT:-50070}" | tee "$out"
# The run's trace in the local Jaeger (deploy/.env: OTEL_EXPORTER_OTLP_ENDPOINT, JAEGER_QUERY_PORT).
# Spans arrive in batches: wait until every process's are there (at most ~20 s).
( source deploy/local/lib.sh
  trace_id="$(sed -n 's/^trace id: \([0-9a-f]\{32\}\).*/\1/p' "$out" | tail -1)"
  if [[ -n "$trace_id" ]] && tda_pid_of jaeger >/dev/null; then
    url="http://127.0.0.1:${JAEGER_QUERY_PORT}/api/traces/${trace_id}"
    summary=""
    for _ in $(seq 1 40); do
      summary="$(curl -sf "$url" | node -e '
        let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
          const t = JSON.parse(s).data?.[0]; if (!t) return;
          const services = [...new Set(t.spans.map((x) => t.processes[x.processID].serviceName))].sort();
          console.log(`${t.spans.length} spans from ${services.join(", ")}`);
          if (!services.includes("engine") || !services.includes("scheduler")) process.exitCode = 3;
        });' 2>/dev/null)" && [[ -n "$summary" ]] && break
      sleep 0.5
    done
    echo "trace: ${url}${summary:+  (${summary})}"
    echo "       (Jaeger's query API; the web console draws it at http://127.0.0.1:${REST_PORT}/ from GET /api/v1/tda/jobs/<job id>/trace)"
  fi )
# The live stream: a noisy circle that turns into two circles, windowed by the Flink job;
# prints each window's Betti numbers and the alert at the change.
node examples/stream-demo/demo.js --gateway "127.0.0.1:${GATEWAY_PORT:-50070}" --brokers "${KAFKA_BROKERS:-127.0.0.1:9192}"
