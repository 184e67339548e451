#!/usr/bin/env bash
# Builds everything: protobuf code generation, the TypeScript packages and the
# C++ engine (engine-cpp/build/tda-engine).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "build: proto + TypeScript"
npm run --silent gen
npx tsc -b
echo "build: engine (cmake)"
cmake -S engine-cpp -B engine-cpp/build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build engine-cpp/build -j"$(nproc)" -- --no-print-directory 2>&1 | grep -Ev '^\[|^-- |Consolidate compiler|^gmake' || true
test -x engine-cpp/build/tda-engine
