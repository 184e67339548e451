# tda-mesh — the entry points. `make demo` and `make test` work on a fresh machine.
.PHONY: demo test build lint bench chaos start stop clean bootstrap

demo:        ## build everything, start the mesh, compute a persistence diagram through it
	bash scripts/demo.sh

test:        ## install, build, start Redis + Kafka, run every test; prints "N passed, N failed"
	bash scripts/test-all.sh

bootstrap:   ## install Debian packages, npm dependencies and Kafka jars (only what is missing)
	bash scripts/bootstrap.sh

build:       ## protobuf codegen, TypeScript, C++ engine, web console, REST proxy
	bash scripts/build.sh

lint:        ## buf lint + breaking, tsc, typescript-eslint, prettier --check, gofmt + go vet (scripts/lint.sh)
	bash scripts/lint.sh

bench:       ## benchmarks against their anchors (see "Benchmarks" in README.md)
	bash bench/run-all.sh

chaos:       ## the reliability suite (long: ~20 min; not part of `make test`): bench/chaos.js; CHAOS_ARGS="--soak-seconds 120" shortens the soak
	node bench/chaos.js all $(CHAOS_ARGS)

start:       ## start Redis, Kafka, engine and services in the background
	bash deploy/local/start.sh

stop:        ## stop everything started by `make start`
	bash deploy/local/stop.sh

clean:
	rm -rf build engine-cpp/build services/*/dist gateway/dist .run
