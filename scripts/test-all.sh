#!/usr/bin/env bash
# Runs every test: the engine's GoogleTest suites (ctest), the REST proxy's go tests and all jest projects
# (unit tests and the end-to-end suites against real Redis, Kafka and engine
# processes). Installs and builds what is missing first, starts Redis and Kafka
# if they are not running, and ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
set -e
bash scripts/bootstrap.sh
bash scripts/build.sh
bash deploy/local/start-infra.sh
set +e
mkdir -p .run

passed=0; failed=0

echo "== engine: ctest"
ctest --test-dir engine-cpp/build --output-on-failure -j2 2>&1 | tee .run/ctest.log | grep -Ev '^\s+Start|Test +#' || true
if line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' .run/ctest.log); then
  total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  f=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$line")
  passed=$((passed + total - f)); failed=$((failed + f))
else
  echo "ctest did not run"; failed=$((failed + 1))
fi

command -v go >/dev/null 2>&1 || export PATH="/usr/local/go/bin:$PATH"
# go_suite NAME DIR: go test -json in DIR, counted per top-level test
go_suite() {
  local name="$1" dir="$2" log=".run/go-test-$1"
  (cd "$dir" && go test -count=1 -json ./... > "$OLDPWD/$log.json" 2> "$OLDPWD/$log.err")
  read -r gp gf < <(node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return {}; } });
    const tests = lines.filter((e) => e.Test && !e.Test.includes("/"));
    const pass = tests.filter((e) => e.Action === "pass").length, fail = tests.filter((e) => e.Action === "fail").length;
    const pkgFail = lines.filter((e) => !e.Test && e.Action === "fail").length;
    console.log(pass, lines.length === 0 ? 1 : fail + (fail === 0 ? pkgFail : 0));' "$log.json")
  echo "go test ($name): ${gp} passed, ${gf} failed"
  [ "${gf}" -eq 0 ] || { grep -E '"Action":"output"' "$log.json" | grep -E -- '--- FAIL|FAIL|_test.go' | head -20; tail -5 "$log.err"; }
  passed=$((passed + gp)); failed=$((failed + gf))
}

echo "== REST proxy: go test"
go_suite rest gateway/rest

echo "== deploy: kustomize overlays vs API + CRD schemas, compose, Dockerfiles (go test)"
go_suite deploy deploy/validate

echo "== lint: buf lint + breaking, tsc (packages, tests, console), typescript-eslint, gofmt + go vet"
if bash scripts/lint.sh; then passed=$((passed + 1)); else echo "lint failed"; failed=$((failed + 1)); fi

echo "== TypeScript: jest"
npx jest --ci --json --outputFile=.run/jest.json "$@"
if [ -f .run/jest.json ]; then
  read -r jp jf < <(node -e 'const r=require("./.run/jest.json"); console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites)')
  passed=$((passed + jp)); failed=$((failed + jf))
else
  echo "jest did not run"; failed=$((failed + 1))
fi

echo "== Flink job: maven (surefire)"
# the Java tests read the run's addresses (KAFKA_BROKERS, ...) from deploy/.env, as the services do
( source deploy/local/lib.sh && mvn -B -f flink/pom.xml surefire:test ) 2>&1 | tee .run/flink-test.log | grep -E 'Tests run:|FAIL|ERROR\]' | grep -v -- ' -- in ' || true
if line=$(grep -E '^\[(INFO|WARNING|ERROR)\] Tests run: [0-9]+, Failures: [0-9]+, Errors: [0-9]+, Skipped: [0-9]+$' .run/flink-test.log | tail -1); then
  read -r mt mf me ms < <(sed -E 's/.*Tests run: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+), Skipped: ([0-9]+)/\1 \2 \3 \4/' <<<"$line")
  passed=$((passed + mt - mf - me - ms)); failed=$((failed + mf + me))
else
  echo "flink tests did not run"; failed=$((failed + 1))
fi

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
