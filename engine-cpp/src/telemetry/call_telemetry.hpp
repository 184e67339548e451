// Tracing, metrics and log context of one Compute call, kept apart from the
// call's logic: the reactor tells it what happens (admitted, input complete,
// running, progress, finished, ended) and it keeps the spans
//
//   tda.engine.v1.EngineService/Compute   (SERVER; parent: the caller's traceparent)
//     engine.estimate                     (memory and time estimate at admission)
//     engine.load_points                  (spec accepted -> all points received)
//     engine.queue                        (waiting for a worker)
//     engine.compute                      (the core run)
//       engine.distances / engine.dim0 / engine.reduce dim <d>   (the core's stages)
//
// with their attributes (points, columns, bytes, threads, result sizes), records
// errors on them, and hands them to the exporter once the call is gone (its
// destructor). Recording costs a few small allocations per stage; with no
// collector nothing is sent. The metrics (outcomes, durations, refusals,
// cancellations, bytes in use) are updated at the same points.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "tda/core/persistence.hpp"
#include "telemetry/log_context.hpp"
#include "telemetry/span.hpp"

namespace tda::telemetry {

// A SERVER span for `method`: a child of the W3C context in the call's metadata
// (traceparent/tracestate), or the root of a new trace without one.
SpanData server_span(const grpc::CallbackServerContext* call, const char* method);

// The span of a unary call (Estimate, GetInfo): recorded while the handler runs,
// exported when it goes out of scope.
class RpcSpan {
 public:
  RpcSpan(const grpc::CallbackServerContext* call, const char* method);
  ~RpcSpan();
  RpcSpan(const RpcSpan&) = delete;
  RpcSpan& operator=(const RpcSpan&) = delete;

  SpanData& span() { return span_; }
  const LogContext* log_context() const { return &log_; }
  // Status code attribute; an error status and exception event when not OK.
  void finish(const grpc::Status& status);

 private:
  SpanData span_;
  LogContext log_;
};

class CallTelemetry {
 public:
  // Starts the call span, a child of the W3C context in the call's metadata
  // (traceparent/tracestate), or the root of a new trace without one.
  CallTelemetry(const grpc::CallbackServerContext* call, const char* method);
  ~CallTelemetry();  // ends what is open and exports the call's spans

  CallTelemetry(const CallTelemetry&) = delete;
  CallTelemetry& operator=(const CallTelemetry&) = delete;

  // For tda::server::log_line (see LogScope).
  const LogContext* log_context() const { return &log_; }
  const SpanContext& context() const { return spans_.front().context; }

  void job(const std::string& job_id, bool alpha, uint64_t points, uint32_t dim, int max_dim, uint32_t threads);
  // The estimate that ran from `start_ns` until now.
  void estimated(uint64_t start_ns, uint64_t memory_bytes, double seconds);
  void admitted(uint64_t reserved_bytes, uint64_t input_bytes);
  void input_complete();
  void run_started();
  void progress(const tda::core::ProgressInfo& info);
  // The core returned (bars per dimension) or threw (`error` not OK).
  void run_finished(const grpc::Status& error, const std::vector<size_t>& bars, uint64_t columns_reduced,
                    uint64_t peak_bytes, double seconds);
  // The call's final status (once).
  void ended(const grpc::Status& status);
  // gRPC is done with the call.
  void done();

 private:
  size_t open_span(const char* name, size_t parent, uint64_t start_ns = 0);
  void close_span(size_t& index);
  void close_stage();

  std::mutex mu_;
  std::vector<SpanData> spans_;  // [0] is the call span
  LogContext log_;
  bool alpha_ = false;
  uint32_t threads_ = 1;
  size_t load_ = 0, queue_ = 0, compute_ = 0, stage_ = 0;  // 0 = not open
  int stage_kind_ = -1, stage_dim_ = -1;
  uint64_t stage_columns_done_ = 0, stage_columns_total_ = 0, stage_bytes_ = 0;
  std::vector<std::pair<int, size_t>> reduce_spans_;  // dimension -> span index
  int64_t bytes_reported_ = 0;                        // this call's share of bytes in use
  enum class Phase { Spec, Receiving, Queued, Running, Finished } phase_ = Phase::Spec;
  bool ended_ = false;
};

}  // namespace tda::telemetry
