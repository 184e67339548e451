// The engine's telemetry settings (environment only, read once at start):
//   OTEL_EXPORTER_OTLP_ENDPOINT  OTLP/gRPC collector, e.g. http://127.0.0.1:4317; blank = no export
//   OTEL_SERVICE_NAME            service.name of the spans (default "engine")
//   TDA_ENGINE_METRICS_PORT      Prometheus GET /metrics on this port; blank = off, 0 = any free port
//   TDA_ENGINE_METRICS_HOST      its listen address (default TDA_ENGINE_HOST, else 127.0.0.1)
//   TDA_ENGINE_LOG_FORMAT        json (default: one JSON object per line, with trace_id/span_id) | text
#pragma once

#include <optional>
#include <string>

namespace tda::telemetry {

struct TelemetrySettings {
  std::string otlp_endpoint;
  std::string service_name = "engine";
  std::optional<int> metrics_port;
  std::string metrics_host = "127.0.0.1";
};

// Throws std::invalid_argument naming the variable for a bad value.
TelemetrySettings settings_from_env();

// Installs the span exporter once per process when an endpoint is set (later
// calls keep the first); returns whether spans are exported.
bool start_tracing(const TelemetrySettings& settings, const std::string& service_version);
// Sends what is queued (at most `wait_ms`) and removes the exporter.
void stop_tracing(int wait_ms);

}  // namespace tda::telemetry
