// The trace context that log lines written on this thread belong to: set by a
// scope around a call's work, read by tda::server::log_line.
#pragma once

#include <string>

namespace tda::telemetry {

struct LogContext {
  std::string trace_id;  // 32 hex
  std::string span_id;   // 16 hex
};

// nullptr outside any scope.
const LogContext* current_log_context();

class LogScope {
 public:
  explicit LogScope(const LogContext* ctx);
  ~LogScope();
  LogScope(const LogScope&) = delete;
  LogScope& operator=(const LogScope&) = delete;

 private:
  const LogContext* previous_;
};

}  // namespace tda::telemetry
