#!/usr/bin/env bash
# Generates TypeScript from proto/ (buf + the local ts-proto plugin).
# google/api and google/rpc protos come from the installed npm package
# google-proto-files and are copied into build/proto-deps first.
set -euo pipefail
cd "$(dirname "$0")/.."
src=node_modules/google-proto-files/google
dst=build/proto-deps/google
rm -rf build/proto-deps
mkdir -p "$dst/api" "$dst/rpc"
cp "$src/api/annotations.proto" "$src/api/http.proto" "$src/api/httpbody.proto" \
   "$src/api/field_behavior.proto" "$dst/api/"
cp "$src/rpc/status.proto" "$src/rpc/error_details.proto" "$src/rpc/code.proto" "$dst/rpc/"
# the standard gRPC health protocol, as bundled with grpc-health-check
mkdir -p build/proto-deps/grpc/health/v1
cp node_modules/grpc-health-check/proto/health/v1/health.proto build/proto-deps/grpc/health/v1/
rm -rf services/common/src/gen
npx buf generate
# status/error_details and health are needed by the services even though no tda proto imports them
npx buf generate build/proto-deps --path build/proto-deps/google/rpc --path build/proto-deps/grpc/health
