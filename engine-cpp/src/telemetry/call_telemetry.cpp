#include "telemetry/call_telemetry.hpp"

#include <algorithm>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "telemetry/exporter.hpp"
#include "telemetry/metrics.hpp"

namespace tda::telemetry {
namespace {

std::string metadata_value(const grpc::CallbackServerContext* call, const char* key) {
  const auto& md = call->client_metadata();
  auto it = md.find(key);
  return it == md.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

const char* code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    default:
      return "UNKNOWN";
  }
}

// ErrorInfo.reason packed in the status details, or "".
std::string error_reason(const grpc::Status& status) {
  google::rpc::Status details;
  if (status.error_details().empty() || !details.ParseFromString(status.error_details())) return {};
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info.reason();
  }
  return {};
}

const char* stage_name(int stage) {
  switch (static_cast<tda::core::Stage>(stage)) {
    case tda::core::Stage::Loading:
      return "engine.prepare";
    case tda::core::Stage::Distances:
      return "engine.distances";
    case tda::core::Stage::Dim0:
      return "engine.dim0";
    case tda::core::Stage::Assembly:
      return "engine.assemble";
    default:
      return "engine.reduce";
  }
}

}  // namespace

SpanData server_span(const grpc::CallbackServerContext* call, const char* method) {
  SpanData span;
  span.name = method;
  span.kind = SpanKind::Server;
  span.start_ns = now_unix_nanos();
  if (auto parent = parse_traceparent(metadata_value(call, "traceparent"))) {
    span.context.trace_id = parent->trace_id;
    span.context.flags = parent->flags;
    span.context.tracestate = metadata_value(call, "tracestate");
    span.parent_span_id = parent->span_id;
    span.has_parent = true;
  } else {
    span.context.trace_id = random_trace_id();
    span.context.flags = 1;
  }
  span.context.span_id = random_span_id();
  const std::string method_name(method);
  const auto slash = method_name.rfind('/');
  span.set("rpc.system", std::string("grpc"));
  span.set("rpc.service", method_name.substr(0, slash));
  span.set("rpc.method", method_name.substr(slash + 1));
  span.set("net.peer.address", call->peer());
  return span;
}

RpcSpan::RpcSpan(const grpc::CallbackServerContext* call, const char* method) : span_(server_span(call, method)) {
  log_.trace_id = to_hex(span_.context.trace_id);
  log_.span_id = to_hex(span_.context.span_id);
}

RpcSpan::~RpcSpan() {
  if (span_.end_ns == 0) span_.end_ns = now_unix_nanos();
  if (!span_.context.sampled() || exporter() == nullptr) return;
  std::vector<SpanData> out;
  out.push_back(std::move(span_));
  export_spans(std::move(out));
}

void RpcSpan::finish(const grpc::Status& status) {
  span_.set("rpc.grpc.status_code", static_cast<int64_t>(status.error_code()));
  if (status.ok()) {
    span_.status = StatusCode::Ok;
  } else {
    const std::string reason = error_reason(status);
    span_.record_error(reason.empty() ? code_name(status.error_code()) : reason, status.error_message());
  }
  span_.end_ns = now_unix_nanos();
}

CallTelemetry::CallTelemetry(const grpc::CallbackServerContext* call, const char* method) {
  SpanData span = server_span(call, method);
  log_.trace_id = to_hex(span.context.trace_id);
  log_.span_id = to_hex(span.context.span_id);
  spans_.reserve(12);
  spans_.push_back(std::move(span));
}

CallTelemetry::~CallTelemetry() {
  std::vector<SpanData> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (bytes_reported_ != 0) engine_metrics().add_bytes_in_use(-bytes_reported_);
    const uint64_t now = now_unix_nanos();
    for (auto& s : spans_) {
      if (s.end_ns == 0) s.end_ns = now;
    }
    // an unsampled parent: keep the ids (logs), send nothing
    if (!spans_.front().context.sampled() || exporter() == nullptr) return;
    out = std::move(spans_);
  }
  export_spans(std::move(out));
}

size_t CallTelemetry::open_span(const char* name, size_t parent, uint64_t start_ns) {
  SpanData span;
  span.name = name;
  span.start_ns = start_ns ? start_ns : now_unix_nanos();
  span.context.trace_id = spans_.front().context.trace_id;
  span.context.flags = spans_.front().context.flags;
  span.context.span_id = random_span_id();
  span.parent_span_id = spans_[parent].context.span_id;
  span.has_parent = true;
  spans_.push_back(std::move(span));
  return spans_.size() - 1;
}

void CallTelemetry::close_span(size_t& index) {
  if (index != 0 && spans_[index].end_ns == 0) spans_[index].end_ns = now_unix_nanos();
  index = 0;
}

void CallTelemetry::job(const std::string& job_id, bool alpha, uint64_t points, uint32_t dim, int max_dim,
                        uint32_t threads) {
  std::lock_guard<std::mutex> lock(mu_);
  alpha_ = alpha;
  threads_ = threads;
  SpanData& call = spans_.front();
  if (!job_id.empty()) call.set("tda.job_id", job_id);
  call.set("tda.algorithm", std::string(alpha ? "alpha" : "rips"));
  call.set("tda.points", static_cast<int64_t>(points));
  call.set("tda.ambient_dim", static_cast<int64_t>(dim));
  call.set("tda.max_dim", static_cast<int64_t>(max_dim));
  call.set("tda.threads", static_cast<int64_t>(threads));
}

void CallTelemetry::estimated(uint64_t start_ns, uint64_t memory_bytes, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t i = open_span("engine.estimate", 0, start_ns);
  spans_[i].set("tda.estimate.memory_bytes", static_cast<int64_t>(memory_bytes));
  spans_[i].set("tda.estimate.seconds", seconds);
  close_span(i);
}

void CallTelemetry::admitted(uint64_t reserved_bytes, uint64_t input_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  phase_ = Phase::Receiving;
  spans_.front().set("tda.bytes_reserved", static_cast<int64_t>(reserved_bytes));
  load_ = open_span("engine.load_points", 0);
  spans_[load_].set("tda.input_bytes", static_cast<int64_t>(input_bytes));
  for (const auto& a : spans_.front().attributes) {
    if (a.key == "tda.points" || a.key == "tda.ambient_dim") spans_[load_].set(a.key, a.value);
  }
}

void CallTelemetry::input_complete() {
  std::lock_guard<std::mutex> lock(mu_);
  phase_ = Phase::Queued;
  close_span(load_);
  queue_ = open_span("engine.queue", 0);
}

void CallTelemetry::run_started() {
  std::lock_guard<std::mutex> lock(mu_);
  phase_ = Phase::Running;
  close_span(queue_);
  compute_ = open_span("engine.compute", 0);
  spans_[compute_].set("tda.threads", static_cast<int64_t>(threads_));
}

void CallTelemetry::close_stage() {
  if (stage_ == 0) return;
  SpanData& s = spans_[stage_];
  if (stage_columns_total_ > 0) s.set("tda.columns", static_cast<int64_t>(stage_columns_total_));
  if (stage_columns_done_ > 0) s.set("tda.columns_reduced", static_cast<int64_t>(stage_columns_done_));
  s.set("tda.bytes_in_use", static_cast<int64_t>(stage_bytes_));
  close_span(stage_);
}

void CallTelemetry::progress(const tda::core::ProgressInfo& info) {
  std::lock_guard<std::mutex> lock(mu_);
  const int kind = static_cast<int>(info.stage);
  if (info.stage == tda::core::Stage::Done) {
    close_stage();
    stage_kind_ = kind;
  } else if (compute_ != 0 && (kind != stage_kind_ || ((info.stage == tda::core::Stage::Reduction ||
                                                        info.stage == tda::core::Stage::Assembly) &&
                                                       info.dimension != stage_dim_))) {
    close_stage();
    stage_kind_ = kind;
    stage_dim_ = info.dimension;
    stage_columns_done_ = stage_columns_total_ = stage_bytes_ = 0;
    stage_ = open_span(stage_name(kind), compute_);
    SpanData& s = spans_[stage_];
    if (info.stage == tda::core::Stage::Reduction) {
      s.name = "engine.reduce dim " + std::to_string(info.dimension);
      reduce_spans_.emplace_back(info.dimension, stage_);
    } else if (info.stage == tda::core::Stage::Assembly) {
      s.name = "engine.assemble dim " + std::to_string(info.dimension);
    } else if (info.stage == tda::core::Stage::Dim0) {
      reduce_spans_.emplace_back(0, stage_);
    }
    s.set("tda.dimension", static_cast<int64_t>(std::max(0, info.dimension)));
    s.set("tda.threads", static_cast<int64_t>(threads_));
  }
  stage_columns_done_ = std::max(stage_columns_done_, info.columns_done);
  stage_columns_total_ = std::max(stage_columns_total_, info.columns_total);
  stage_bytes_ = std::max(stage_bytes_, info.bytes_in_use);
  if (info.stage != tda::core::Stage::Done) {
    const int64_t delta = static_cast<int64_t>(info.bytes_in_use) - bytes_reported_;
    if (delta != 0) {
      engine_metrics().add_bytes_in_use(delta);
      bytes_reported_ += delta;
    }
  }
}

void CallTelemetry::run_finished(const grpc::Status& error, const std::vector<size_t>& bars, uint64_t columns_reduced,
                                 uint64_t peak_bytes, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  phase_ = Phase::Finished;
  close_stage();
  if (bytes_reported_ != 0) {
    engine_metrics().add_bytes_in_use(-bytes_reported_);
    bytes_reported_ = 0;
  }
  if (compute_ == 0) return;
  SpanData& c = spans_[compute_];
  if (error.ok()) {
    size_t total = 0;
    for (size_t d = 0; d < bars.size(); ++d) {
      total += bars[d];
      for (const auto& [dim, index] : reduce_spans_) {
        if (dim == static_cast<int>(d)) spans_[index].set("tda.result.bars", static_cast<int64_t>(bars[d]));
      }
    }
    c.set("tda.result.bars", static_cast<int64_t>(total));
    c.set("tda.result.dimensions", static_cast<int64_t>(bars.size()));
    c.set("tda.columns_reduced", static_cast<int64_t>(columns_reduced));
    c.set("tda.peak_bytes", static_cast<int64_t>(peak_bytes));
    engine_metrics().job_duration(alpha_ ? Algorithm::Alpha : Algorithm::Rips, seconds);
  } else {
    c.record_error(code_name(error.error_code()), error.error_message());
  }
  close_span(compute_);
}

void CallTelemetry::ended(const grpc::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ended_) return;
  ended_ = true;
  SpanData& call = spans_.front();
  call.set("rpc.grpc.status_code", static_cast<int64_t>(status.error_code()));
  EngineMetrics& m = engine_metrics();
  const std::string reason = status.ok() ? std::string() : error_reason(status);
  if (!status.ok()) {
    call.record_error(reason.empty() ? code_name(status.error_code()) : reason, status.error_message());
    if (!reason.empty()) call.set("tda.error.reason", reason);
  } else {
    call.status = StatusCode::Ok;
  }
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      m.job_ended(Outcome::Completed);
      break;
    case grpc::StatusCode::CANCELLED:
      m.job_ended(Outcome::Cancelled);
      m.cancelled(phase_ == Phase::Queued                                 ? CancelPhase::Queued
                  : phase_ == Phase::Running || phase_ == Phase::Finished ? CancelPhase::Running
                                                                          : CancelPhase::Receiving);
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::UNIMPLEMENTED:
      m.job_ended(Outcome::Invalid);
      break;
    case grpc::StatusCode::UNAVAILABLE:
      m.job_ended(Outcome::Unavailable);
      if (phase_ == Phase::Spec) m.refused(Refusal::ShuttingDown);
      break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      if (reason == "ENGINE_BUSY") {
        m.job_ended(Outcome::Refused);
        m.refused(Refusal::Busy);
        break;
      }
      if (reason == "MEMORY_LIMIT_EXCEEDED") {
        m.job_ended(Outcome::Refused);
        m.refused(Refusal::Memory);
        break;
      }
      m.job_ended(Outcome::Failed);
      break;
    default:
      m.job_ended(Outcome::Failed);
      break;
  }
  // a refused or rejected call never reaches a later stage
  close_span(load_);
  close_span(queue_);
}

void CallTelemetry::done() {
  std::lock_guard<std::mutex> lock(mu_);
  if (spans_.front().end_ns == 0) spans_.front().end_ns = now_unix_nanos();
}

}  // namespace tda::telemetry
