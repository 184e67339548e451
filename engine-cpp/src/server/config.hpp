// Server settings: command-line flags with environment fallbacks.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace tda::server {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 50061;                   // 0 picks a free port (tests)
  unsigned threads = 1;               // default worker threads per computation
  uint64_t memory_limit = 0;          // bytes the engine may reserve for running jobs
  unsigned max_concurrent = 2;        // computations running at once
  unsigned queue_depth = 8;           // admitted jobs waiting for a worker (incl. uploading)
  int max_message_bytes = 64 << 20;   // gRPC receive limit (chunks are ~1 MiB)
  unsigned input_idle_seconds = 10;   // a call whose spec or input stops arriving this long ends
  unsigned max_calls_per_caller = 0;  // open Compute calls per caller address; 0: 2 x (max_concurrent + queue_depth)
  double estimate_scale = 1.0;  // operator knob: admission reserves estimate x this (the runtime guard still holds)
  // Mutual TLS (PEM files): with all three set, every caller must present a
  // certificate signed by tls_ca; with none, the port is plaintext (logged loudly).
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  bool tls() const { return !tls_ca.empty(); }
};

// The per-caller limit in force (max_calls_per_caller, or its default).
inline unsigned calls_per_caller_limit(const ServerConfig& c) {
  return c.max_calls_per_caller > 0 ? c.max_calls_per_caller : 2 * (c.max_concurrent + c.queue_depth);
}

// Thrown for a bad flag or environment value; the message names it.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using EnvReader = std::function<std::optional<std::string>(const char*)>;

// Reads the process environment; blank values count as unset.
std::optional<std::string> process_env(const char* name);

// Parses the flags that follow "serve" (argv[first..argc)). Flags win over the
// environment (TDA_ENGINE_PORT, TDA_ENGINE_HOST, TDA_ENGINE_THREADS,
// TDA_ENGINE_MEMORY_LIMIT, TDA_ENGINE_MAX_CONCURRENT, TDA_ENGINE_QUEUE_DEPTH).
// Sets *help when --help was given.
ServerConfig parse_server_config(int argc, char** argv, int first, const EnvReader& env, bool* help);

std::string server_usage();

// "4G", "512MiB", "1.5GB", "123456", "75%" (of MemAvailable) -> bytes.
uint64_t parse_byte_size(const std::string& text);

// MemAvailable from /proc/meminfo in bytes (0 when unreadable).
uint64_t mem_available_bytes();

// Peak resident set size of this process (VmHWM), bytes; 0 when unreadable.
uint64_t peak_rss_bytes();

}  // namespace tda::server
