#include "server/errors.hpp"

#include <map>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace tda::server::errors {
namespace {

// Serializes a google.rpc.Status carrying `details` into the binary details of
// a grpc::Status (the grpc-status-details-bin trailer).
template <typename... Details>
grpc::Status make_status(grpc::StatusCode code, const std::string& message, const Details&... details) {
  google::rpc::Status rich;
  rich.set_code(static_cast<int32_t>(code));
  rich.set_message(message);
  (rich.add_details()->PackFrom(details), ...);
  return grpc::Status(code, message, rich.SerializeAsString());
}

google::rpc::ErrorInfo error_info(const std::string& reason, const std::map<std::string, std::string>& metadata = {}) {
  google::rpc::ErrorInfo info;
  info.set_reason(reason);
  info.set_domain(kErrorDomain);
  for (const auto& [key, value] : metadata) (*info.mutable_metadata())[key] = value;
  return info;
}

}  // namespace

grpc::Status invalid_argument(const std::string& message, const std::vector<FieldViolation>& violations) {
  google::rpc::BadRequest bad_request;
  for (const auto& v : violations) {
    auto* out = bad_request.add_field_violations();
    out->set_field(v.field);
    out->set_description(v.description);
  }
  return make_status(grpc::StatusCode::INVALID_ARGUMENT, message, bad_request);
}

grpc::Status memory_limit_exceeded_running(uint64_t needed_bytes, uint64_t allowed_bytes, uint64_t limit_bytes) {
  const std::string message = "the job needed " + std::to_string(needed_bytes) +
                              " bytes while running, more than the " + std::to_string(allowed_bytes) +
                              " bytes it could get on this engine (limit " + std::to_string(limit_bytes) + ")";
  return make_status(grpc::StatusCode::RESOURCE_EXHAUSTED, message,
                     error_info("MEMORY_LIMIT_EXCEEDED", {{"phase", "running"},
                                                          {"needed_bytes", std::to_string(needed_bytes)},
                                                          {"allowed_bytes", std::to_string(allowed_bytes)},
                                                          {"requested_bytes", std::to_string(needed_bytes)},
                                                          {"limit_bytes", std::to_string(limit_bytes)}}));
}

grpc::Status invalid_argument(const RequestError& error) { return invalid_argument(error.what(), error.violations()); }

grpc::Status memory_limit_exceeded(uint64_t requested_bytes, uint64_t available_bytes, uint64_t limit_bytes) {
  const std::string message = "estimated memory " + std::to_string(requested_bytes) + " bytes exceeds the " +
                              std::to_string(available_bytes) + " bytes available on this engine (limit " +
                              std::to_string(limit_bytes) + ")";
  return make_status(grpc::StatusCode::RESOURCE_EXHAUSTED, message,
                     error_info("MEMORY_LIMIT_EXCEEDED", {{"requested_bytes", std::to_string(requested_bytes)},
                                                          {"available_bytes", std::to_string(available_bytes)},
                                                          {"limit_bytes", std::to_string(limit_bytes)}}));
}

grpc::Status engine_busy(uint64_t max_concurrent, uint64_t queue_depth) {
  return make_status(grpc::StatusCode::RESOURCE_EXHAUSTED, "engine busy: all workers and queue slots are taken",
                     error_info("ENGINE_BUSY", {{"max_concurrent", std::to_string(max_concurrent)},
                                                {"queue_depth", std::to_string(queue_depth)}}));
}

grpc::Status out_of_memory() {
  return make_status(grpc::StatusCode::RESOURCE_EXHAUSTED, "the engine ran out of memory during the computation",
                     error_info("OUT_OF_MEMORY"));
}

grpc::Status algorithm_unimplemented(const std::string& algorithm) {
  return make_status(grpc::StatusCode::UNIMPLEMENTED,
                     "algorithm " + algorithm + " is not implemented by this engine yet",
                     error_info("ALGORITHM_NOT_IMPLEMENTED", {{"algorithm", algorithm}}));
}

grpc::Status input_stalled(int idle_seconds) {
  return make_status(grpc::StatusCode::DEADLINE_EXCEEDED, "no input arrived for " + std::to_string(idle_seconds) + " s",
                     error_info("INPUT_STALLED", {{"idle_seconds", std::to_string(idle_seconds)}}));
}

grpc::Status too_many_calls(uint64_t limit) {
  return make_status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     "too many open Compute calls from this caller (at most " + std::to_string(limit) + ")",
                     error_info("TOO_MANY_CALLS", {{"limit", std::to_string(limit)}}));
}

grpc::Status cancelled() { return grpc::Status(grpc::StatusCode::CANCELLED, "computation cancelled"); }

grpc::Status shutting_down() {
  return make_status(grpc::StatusCode::UNAVAILABLE, "engine is shutting down", error_info("SHUTTING_DOWN"));
}

grpc::Status internal() { return grpc::Status(grpc::StatusCode::INTERNAL, "internal engine error"); }

}  // namespace tda::server::errors
