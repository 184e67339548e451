#!/usr/bin/env bash
# Builds everything: protobuf code generation, the TypeScript packages and the
# C++ engine (engine-cpp/build/tda-engine), the web console (console/dist), the Go REST proxy
# (build/bin/tda-rest, with the console embedded) and the Flink job (flink/target/tda-flink-job.jar,
# Flink's jars in flink/target/lib).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "build: proto + TypeScript"
npm run --silent gen
npx tsc -b
echo "build: engine (cmake)"
launcher=(); command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S engine-cpp -B engine-cpp/build -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build engine-cpp/build -j"$(nproc)" -- --no-print-directory 2>&1 | grep -Ev '^\[|^-- |Consolidate compiler|^gmake' || true
test -x engine-cpp/build/tda-engine
echo "build: web console (esbuild)"
npm run --silent build -w console
echo "build: REST proxy (go)"
if ! command -v go >/dev/null 2>&1 && [[ -z "${GO:-}" && -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
bash gateway/rest/build.sh
test -x build/bin/tda-rest
echo "build: Flink job (maven)"
mvn -B -q -f flink/pom.xml package -DskipTests
test -f flink/target/tda-flink-job.jar
