#include "telemetry/span.hpp"

#include <chrono>
#include <random>

namespace tda::telemetry {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is not valid W3C
}

template <size_t N>
bool parse_hex(std::string_view text, std::array<uint8_t, N>& out) {
  if (text.size() != 2 * N) return false;
  bool nonzero = false;
  for (size_t i = 0; i < N; ++i) {
    const int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
    nonzero = nonzero || out[i] != 0;
  }
  return nonzero;
}

std::mt19937_64& rng() {
  // one generator per thread, seeded from the OS: ids never repeat across threads
  thread_local std::mt19937_64 gen([] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }());
  return gen;
}

template <size_t N>
std::array<uint8_t, N> random_id() {
  std::array<uint8_t, N> id{};
  do {
    for (size_t i = 0; i < N; i += 8) {
      uint64_t r = rng()();
      for (size_t j = 0; j < 8 && i + j < N; ++j, r >>= 8) id[i + j] = static_cast<uint8_t>(r);
    }
  } while (id == std::array<uint8_t, N>{});
  return id;
}

}  // namespace

bool SpanContext::valid() const { return trace_id != TraceId{} && span_id != SpanId{}; }

std::optional<SpanContext> parse_traceparent(std::string_view text) {
  // version 00 is 55 characters; later versions may append fields after a '-'
  if (text.size() < 55 || text.substr(0, 2) == "ff" || text[2] != '-' || text[35] != '-' || text[52] != '-')
    return std::nullopt;
  if (hex_value(text[0]) < 0 || hex_value(text[1]) < 0) return std::nullopt;
  if (text.substr(0, 2) == "00" && text.size() != 55) return std::nullopt;
  if (text.size() > 55 && text[55] != '-') return std::nullopt;
  SpanContext ctx;
  std::array<uint8_t, 1> flags{};
  if (!parse_hex(text.substr(3, 32), ctx.trace_id) || !parse_hex(text.substr(36, 16), ctx.span_id)) return std::nullopt;
  const int hi = hex_value(text[53]), lo = hex_value(text[54]);
  if (hi < 0 || lo < 0) return std::nullopt;
  flags[0] = static_cast<uint8_t>(hi << 4 | lo);
  ctx.flags = flags[0];
  return ctx;
}

std::string to_hex(const uint8_t* bytes, size_t size) {
  static const char digits[] = "0123456789abcdef";
  std::string out(2 * size, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  return out;
}

std::string format_traceparent(const SpanContext& ctx) {
  const uint8_t flags[1] = {ctx.flags};
  return "00-" + to_hex(ctx.trace_id) + "-" + to_hex(ctx.span_id) + "-" + to_hex(flags, 1);
}

TraceId random_trace_id() { return random_id<16>(); }
SpanId random_span_id() { return random_id<8>(); }

uint64_t now_unix_nanos() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

void SpanData::set(std::string key, AttributeValue value) {
  for (auto& a : attributes) {
    if (a.key == key) {
      a.value = std::move(value);
      return;
    }
  }
  attributes.push_back({std::move(key), std::move(value)});
}

void SpanData::record_error(const std::string& type, const std::string& message) {
  status = StatusCode::Error;
  status_message = message;
  events.push_back({"exception",
                    now_unix_nanos(),
                    {{"exception.type", AttributeValue{type}}, {"exception.message", AttributeValue{message}}}});
}

}  // namespace tda::telemetry
