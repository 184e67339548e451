// tda.engine.v1.EngineService on the gRPC callback API.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "server/config.hpp"
#include "server/worker_pool.hpp"
#include "tda/engine/v1/engine.grpc.pb.h"

namespace tda::server {

class ComputeReactor;

// State shared by every call: limits, the worker pool, the memory ledger and
// the set of live Compute calls (for progress heartbeats and shutdown).
class EngineContext {
 public:
  explicit EngineContext(const ServerConfig& config);
  ~EngineContext();

  const ServerConfig& config() const { return config_; }
  WorkerPool& pool() { return pool_; }
  MemoryLedger& memory() { return memory_; }
  bool shutting_down() const { return shutting_down_.load(); }

  // Marks the engine as stopping and cancels every live computation.
  void begin_shutdown();
  // Runs what is still queued (cancelled jobs end at once) and joins workers.
  void stop_workers();

  // Registers a live call of `caller` (its address without the port); false
  // when that caller already had max_calls_per_caller open (the call is still
  // registered and must end at once).
  bool register_call(ComputeReactor* call, const std::string& caller);
  void unregister_call(ComputeReactor* call, const std::string& caller);

 private:
  void ticker_loop();

  const ServerConfig config_;
  WorkerPool pool_;
  MemoryLedger memory_;
  std::atomic<bool> shutting_down_{false};

  std::mutex calls_mu_;
  std::set<ComputeReactor*> calls_;
  std::map<std::string, unsigned> calls_per_caller_;

  std::mutex ticker_mu_;
  std::condition_variable ticker_cv_;
  bool ticker_stop_ = false;
  std::thread ticker_;
};

class EngineServiceImpl final : public tda::engine::v1::EngineService::CallbackService {
 public:
  explicit EngineServiceImpl(EngineContext& context) : context_(context) {}

  grpc::ServerBidiReactor<tda::engine::v1::ComputeRequest, tda::engine::v1::ComputeResponse>* Compute(
      grpc::CallbackServerContext* context) override;

  grpc::ServerUnaryReactor* Estimate(grpc::CallbackServerContext* context,
                                     const tda::engine::v1::EstimateRequest* request,
                                     tda::engine::v1::EstimateResponse* response) override;

  grpc::ServerUnaryReactor* GetInfo(grpc::CallbackServerContext* context,
                                    const tda::engine::v1::GetInfoRequest* request,
                                    tda::engine::v1::GetInfoResponse* response) override;

  grpc::ServerUnaryReactor* DiagramDistance(grpc::CallbackServerContext* context,
                                            const tda::engine::v1::DiagramDistanceRequest* request,
                                            tda::engine::v1::DiagramDistanceResponse* response) override;

  grpc::ServerUnaryReactor* Vectorize(grpc::CallbackServerContext* context,
                                      const tda::engine::v1::VectorizeRequest* request,
                                      tda::engine::v1::VectorizeResponse* response) override;

 private:
  EngineContext& context_;
};

}  // namespace tda::server
