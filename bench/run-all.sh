#!/usr/bin/env bash
# The quick set of every benchmark (each prints figures next to its anchor,
# measured in the same run). Full runs: see each script's --help / header.
set -uo pipefail
cd "$(dirname "$0")/.."
bash deploy/local/start-infra.sh >/dev/null
py=python3
echo "== Rips: engine vs ripser and giotto-ph (1 thread, then 2)"
$py bench/rips_bench.py --quick --threads 1
$py bench/rips_bench.py --quick --threads 2
echo "== Alpha: engine vs GUDHI (10k points)"
$py bench/alpha_bench.py --sizes 10000
echo "== Uploads through the gateway vs a plain grpc-js stream (256 MB binary, 64 MB CSV)"
node bench/upload_bench.js 256 64
echo "== Scheduler: tiny jobs end to end, and the floor the packages set under such a job"
node bench/scheduler_bench.js
node bench/job_transport_floor.js
echo "== Gateway overhead on GetJob"
node bench/gateway_bench.js 5
echo "== Engines scale out: CPU-heavy jobs/s with 1, 2, 3 engines (deploy/local layouts)"
node bench/engine_scaling_bench.js 8 500
