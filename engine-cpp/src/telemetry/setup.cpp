#include "telemetry/setup.hpp"

#include <cstdlib>
#include <stdexcept>

#include "telemetry/exporter.hpp"

namespace tda::telemetry {
namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  std::string s(v);
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return std::nullopt;
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

TelemetrySettings settings_from_env() {
  TelemetrySettings s;
  if (auto e = env("OTEL_EXPORTER_OTLP_ENDPOINT")) {
    if (e->rfind("http://", 0) != 0 && e->rfind("https://", 0) != 0)
      throw std::invalid_argument("OTEL_EXPORTER_OTLP_ENDPOINT: want http://host:port, got '" + *e + "'");
    s.otlp_endpoint = *e;
  }
  if (auto n = env("OTEL_SERVICE_NAME")) s.service_name = *n;
  if (auto h = env("TDA_ENGINE_HOST")) s.metrics_host = *h;
  if (auto h = env("TDA_ENGINE_METRICS_HOST")) s.metrics_host = *h;
  if (auto p = env("TDA_ENGINE_METRICS_PORT")) {
    char* end = nullptr;
    const long v = std::strtol(p->c_str(), &end, 10);
    if (end == p->c_str() || *end != '\0' || v < 0 || v > 65535)
      throw std::invalid_argument("TDA_ENGINE_METRICS_PORT: want a port in [0, 65535], got '" + *p + "'");
    s.metrics_port = static_cast<int>(v);
  }
  return s;
}

bool start_tracing(const TelemetrySettings& settings, const std::string& service_version) {
  if (settings.otlp_endpoint.empty()) return exporter() != nullptr;
  if (exporter() != nullptr) return true;
  ExporterOptions o;
  o.endpoint = settings.otlp_endpoint;
  o.service_name = settings.service_name;
  o.service_version = service_version;
  install_exporter(std::make_unique<SpanExporter>(o));
  return true;
}

void stop_tracing(int wait_ms) {
  if (SpanExporter* e = exporter()) e->flush(std::chrono::milliseconds(wait_ms));
  uninstall_exporter();
}

}  // namespace tda::telemetry
