// DiagramDistance: request validation and the call on the worker pool.
#pragma once

#include <cstdint>

#include "server/engine_service.hpp"

namespace tda::server {

// Most bars of one side in one dimension (any distance).
inline constexpr uint64_t kDistanceMaxBars = 20000;
// Most finite bars of one side in one dimension when the Wasserstein distance
// is asked for: the exact assignment takes O(n^2 (n + m)) time, n * m memory.
inline constexpr uint64_t kWassersteinMaxBars = 2000;
// Most diagrams on one side (dimensions 0..kDistanceMaxDiagrams-1).
inline constexpr uint32_t kDistanceMaxDiagrams = 64;

grpc::ServerUnaryReactor* diagram_distance(EngineContext& engine, grpc::CallbackServerContext* context,
                                           const tda::engine::v1::DiagramDistanceRequest* request,
                                           tda::engine::v1::DiagramDistanceResponse* response);

}  // namespace tda::server
