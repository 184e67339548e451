#include "telemetry/log_context.hpp"

namespace tda::telemetry {
namespace {
thread_local const LogContext* t_current = nullptr;
}

const LogContext* current_log_context() { return t_current; }

LogScope::LogScope(const LogContext* ctx) : previous_(t_current) { t_current = ctx; }
LogScope::~LogScope() { t_current = previous_; }

}  // namespace tda::telemetry
