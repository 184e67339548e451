#include "server/log.hpp"

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>

#include "telemetry/log_context.hpp"

namespace tda::server {
namespace {

// TDA_ENGINE_LOG_FORMAT=text keeps the plain "<time> tda-engine <message>" lines.
bool json_lines() {
  static const bool json = [] {
    const char* v = std::getenv("TDA_ENGINE_LOG_FORMAT");
    return v == nullptr || std::strcmp(v, "text") != 0;
  }();
  return json;
}

void append_json_string(std::string& out, const char* s) {
  out += '"';
  for (const char* p = s; *p; ++p) {
    const unsigned char c = static_cast<unsigned char>(*p);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", c);
          out += esc;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

const char* level_of(const char* message) {
  if (std::strncmp(message, "error", 5) == 0 || std::strstr(message, " failed") != nullptr) return "error";
  if (std::strstr(message, " ended: ") != nullptr || std::strstr(message, "forcing") != nullptr) return "warn";
  return "info";
}

}  // namespace

void log_line(const char* format, ...) {
  static std::mutex mu;  // serializes whole lines; shared by every server in the process

  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);

  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));

  char message[2048];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof message, format, args);
  va_end(args);

  if (!json_lines()) {
    std::lock_guard<std::mutex> lock(mu);
    std::fprintf(stderr, "%s tda-engine %s\n", stamp, message);
    std::fflush(stderr);
    return;
  }
  // one JSON object per line, the fields the TS services' pino lines have
  std::string line;
  line.reserve(256);
  line += "{\"time\":\"";
  line += stamp;
  line += "\",\"level\":\"";
  line += level_of(message);
  line += "\",\"service\":\"engine\",\"msg\":";
  append_json_string(line, message);
  if (const auto* ctx = tda::telemetry::current_log_context()) {
    line += ",\"trace_id\":\"" + ctx->trace_id + "\",\"span_id\":\"" + ctx->span_id + "\"";
  }
  line += "}\n";
  std::lock_guard<std::mutex> lock(mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace tda::server
