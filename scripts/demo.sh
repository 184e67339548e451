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
node examples/ts-client/demo.js "${1:-examples/data/torus_800.csv}" --max-dim "${MAX_DIM:-2}" \
  --threshold "${THRESHOLD:-1.0}" --max-bars "${MAX_BARS:-8}" --algorithms "${ALGORITHMS:-rips,alpha}" \
  --gateway "127.0.0.1:${GATEWAY_PORT:-50070}"
# The live stream: a noisy circle that turns into two circles, windowed by the Flink job;
# prints each window's Betti numbers and the alert at the change.
node examples/stream-demo/demo.js --gateway "127.0.0.1:${GATEWAY_PORT:-50070}" --brokers "${KAFKA_BROKERS:-127.0.0.1:9192}"
