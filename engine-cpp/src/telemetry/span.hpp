// Spans as the engine records them: W3C ids, attributes, events and status, in a
// plain struct the exporter turns into OTLP. No OpenTelemetry SDK: the engine
// writes OTLP itself (see exporter.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tda::telemetry {

using TraceId = std::array<uint8_t, 16>;
using SpanId = std::array<uint8_t, 8>;

// The W3C trace context of a span: what `traceparent`/`tracestate` carry.
struct SpanContext {
  TraceId trace_id{};
  SpanId span_id{};
  uint8_t flags = 0;  // bit 0: sampled
  std::string tracestate;

  bool valid() const;
  bool sampled() const { return (flags & 1) != 0; }
};

// "00-<32 hex>-<16 hex>-<2 hex>" (lower case, non-zero ids); nullopt otherwise.
std::optional<SpanContext> parse_traceparent(std::string_view text);
std::string format_traceparent(const SpanContext& ctx);
std::string to_hex(const uint8_t* bytes, size_t size);
template <size_t N>
std::string to_hex(const std::array<uint8_t, N>& id) {
  return to_hex(id.data(), N);
}
TraceId random_trace_id();
SpanId random_span_id();

// Wall clock, nanoseconds since the Unix epoch (OTLP's time base).
uint64_t now_unix_nanos();

using AttributeValue = std::variant<int64_t, double, bool, std::string>;
struct Attribute {
  std::string key;
  AttributeValue value;
};

enum class SpanKind : int { Internal = 1, Server = 2, Client = 3 };
enum class StatusCode : int { Unset = 0, Ok = 1, Error = 2 };

struct SpanEvent {
  std::string name;
  uint64_t time_ns = 0;
  std::vector<Attribute> attributes;
};

struct SpanData {
  SpanContext context;
  SpanId parent_span_id{};
  bool has_parent = false;
  std::string name;
  SpanKind kind = SpanKind::Internal;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;  // 0 while open
  std::vector<Attribute> attributes;
  std::vector<SpanEvent> events;
  StatusCode status = StatusCode::Unset;
  std::string status_message;

  void set(std::string key, AttributeValue value);
  // Status ERROR and an "exception" event (OpenTelemetry's convention for errors).
  void record_error(const std::string& type, const std::string& message);
};

}  // namespace tda::telemetry
