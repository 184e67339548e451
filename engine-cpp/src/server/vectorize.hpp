// Vectorize: request validation (every size bounded) and the call on the worker pool.
#pragma once

#include <cstdint>

#include "server/distance.hpp"
#include "server/engine_service.hpp"

namespace tda::server {

// Most grid points of a Betti curve or landscape.
inline constexpr uint32_t kVectorizeMaxResolution = 10000;
// Most pixels per side of a persistence image.
inline constexpr uint32_t kVectorizeMaxImageSide = 512;
// Most landscape layers.
inline constexpr uint32_t kVectorizeMaxLayers = 100;
// Most values in one answer (all dimensions).
inline constexpr uint64_t kVectorizeMaxValues = 1u << 20;
// Most bars x grid points (landscape) or bars x pixels (image) of one call.
inline constexpr uint64_t kVectorizeMaxWork = 200000000;
// Most bars of one diagram.
inline constexpr uint64_t kVectorizeMaxBars = 1000000;

grpc::ServerUnaryReactor* vectorize(EngineContext& engine, grpc::CallbackServerContext* context,
                                    const tda::engine::v1::VectorizeRequest* request,
                                    tda::engine::v1::VectorizeResponse* response);

}  // namespace tda::server
