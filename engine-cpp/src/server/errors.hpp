// All gRPC error statuses of the engine are built here, with google.rpc details
// packed into the status (BadRequest for bad input, ErrorInfo for limits).
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include <grpcpp/support/status.h>

namespace tda::server {

// Domain reported in google.rpc.ErrorInfo.
inline constexpr const char* kErrorDomain = "tda.engine";

struct FieldViolation {
  std::string field;        // e.g. "spec.n"
  std::string description;  // human readable
};

// Thrown by request validation; turned into a status by errors::to_status.
class RequestError : public std::exception {
 public:
  RequestError(std::string message, std::vector<FieldViolation> violations)
      : message_(std::move(message)), violations_(std::move(violations)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  const std::vector<FieldViolation>& violations() const { return violations_; }

 private:
  std::string message_;
  std::vector<FieldViolation> violations_;
};

namespace errors {

// INVALID_ARGUMENT + google.rpc.BadRequest with the given field violations.
grpc::Status invalid_argument(const std::string& message, const std::vector<FieldViolation>& violations = {});
grpc::Status invalid_argument(const RequestError& error);

// RESOURCE_EXHAUSTED + ErrorInfo{reason: MEMORY_LIMIT_EXCEEDED, metadata:
// requested_bytes, available_bytes, limit_bytes}. Retrying later can succeed
// when requested_bytes <= limit_bytes.
grpc::Status memory_limit_exceeded(uint64_t requested_bytes, uint64_t available_bytes, uint64_t limit_bytes);

// RESOURCE_EXHAUSTED + ErrorInfo{reason: MEMORY_LIMIT_EXCEEDED, metadata:
// phase=running, needed_bytes, allowed_bytes (the job's budget), limit_bytes}:
// the runtime guard stopped an admitted job that outgrew its budget. Final: the
// job needs more than this engine could give it.
grpc::Status memory_limit_exceeded_running(uint64_t needed_bytes, uint64_t allowed_bytes, uint64_t limit_bytes);

// RESOURCE_EXHAUSTED + ErrorInfo{reason: ENGINE_BUSY, metadata: running,
// queued, max_concurrent, queue_depth}.
grpc::Status engine_busy(uint64_t max_concurrent, uint64_t queue_depth);

// RESOURCE_EXHAUSTED + ErrorInfo{reason: OUT_OF_MEMORY}: an allocation failed
// although the job had been admitted.
grpc::Status out_of_memory();

// UNIMPLEMENTED + ErrorInfo{reason: ALGORITHM_NOT_IMPLEMENTED}.
grpc::Status algorithm_unimplemented(const std::string& algorithm);

// DEADLINE_EXCEEDED + ErrorInfo{reason: INPUT_STALLED}: the spec or the
// input stopped arriving for `idle_seconds`.
grpc::Status input_stalled(int idle_seconds);

// RESOURCE_EXHAUSTED + ErrorInfo{reason: TOO_MANY_CALLS}: this caller address
// already holds its share of the engine's Compute calls.
grpc::Status too_many_calls(uint64_t limit);

// CANCELLED (client cancel or deadline).
grpc::Status cancelled();

// UNAVAILABLE + ErrorInfo{reason: SHUTTING_DOWN}: the engine stops; retry elsewhere.
grpc::Status shutting_down();

// INTERNAL with a generic message; the cause is logged by the caller, never sent.
grpc::Status internal();

}  // namespace errors
}  // namespace tda::server
