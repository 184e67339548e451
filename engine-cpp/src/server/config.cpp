#include "server/config.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>
#include <vector>

#include "common/flags.hpp"

namespace tda::server {
namespace {

constexpr double kDefaultMemoryFraction = 0.75;

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

uint64_t parse_unsigned(const std::string& name, const std::string& text, uint64_t min, uint64_t max) {
  const std::string t = trim(text);
  if (t.empty() || !std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c); }))
    throw ConfigError(name + ": expected a whole number, got '" + text + "'");
  errno = 0;
  const unsigned long long v = std::strtoull(t.c_str(), nullptr, 10);
  if (errno == ERANGE || v < min || v > max)
    throw ConfigError(name + ": " + t + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return v;
}

// Value of a "key:   123 kB" line of a /proc file, in bytes.
uint64_t proc_kb_field(const char* path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() && line[key.size()] == ':') {
      std::istringstream fields(line.substr(key.size() + 1));
      uint64_t kb = 0;
      if (fields >> kb) return kb * 1024;
    }
  }
  return 0;
}

}  // namespace

std::optional<std::string> process_env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || trim(v).empty()) return std::nullopt;
  return std::string(v);
}

uint64_t mem_available_bytes() { return proc_kb_field("/proc/meminfo", "MemAvailable"); }

uint64_t peak_rss_bytes() { return proc_kb_field("/proc/self/status", "VmHWM"); }

uint64_t parse_byte_size(const std::string& text) {
  const std::string t = trim(text);
  size_t pos = 0;
  while (pos < t.size() && (std::isdigit(static_cast<unsigned char>(t[pos])) || t[pos] == '.')) ++pos;
  if (pos == 0) throw ConfigError("expected a size like 4G, 512MiB or 75%, got '" + text + "'");
  double number = 0;
  try {
    number = std::stod(t.substr(0, pos));
  } catch (const std::exception&) {
    throw ConfigError("bad number in size '" + text + "'");
  }
  std::string unit = trim(t.substr(pos));
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));

  double bytes = 0;
  if (unit == "%") {
    if (number <= 0 || number > 100) throw ConfigError("percentage must be in (0, 100]: '" + text + "'");
    const uint64_t available = mem_available_bytes();
    if (available == 0) throw ConfigError("cannot read MemAvailable for '" + text + "'");
    bytes = static_cast<double>(available) * number / 100.0;
  } else {
    double scale = 1;
    if (unit.empty() || unit == "B") scale = 1;
    else if (unit == "K" || unit == "KB" || unit == "KIB") scale = 1024.0;
    else if (unit == "M" || unit == "MB" || unit == "MIB") scale = 1024.0 * 1024;
    else if (unit == "G" || unit == "GB" || unit == "GIB") scale = 1024.0 * 1024 * 1024;
    else if (unit == "T" || unit == "TB" || unit == "TIB") scale = 1024.0 * 1024 * 1024 * 1024;
    else throw ConfigError("unknown size unit '" + unit + "' in '" + text + "' (use K, M, G, T or %)");
    bytes = number * scale;
  }
  if (!(bytes >= 1) || bytes > 9.0e18) throw ConfigError("size out of range: '" + text + "'");
  return static_cast<uint64_t>(bytes);
}

std::string server_usage() {
  return "usage: tda-engine serve [options]\n"
         "  --host HOST            listen address (env TDA_ENGINE_HOST, default 127.0.0.1)\n"
         "  --port N               listen port, 0 = any free port (env TDA_ENGINE_PORT, default 50061)\n"
         "  --threads N            default threads per computation (env TDA_ENGINE_THREADS,\n"
         "                         default: hardware concurrency)\n"
         "  --memory-limit SIZE    bytes the engine may reserve for jobs, e.g. 4G, 512MiB, 75%\n"
         "                         (env TDA_ENGINE_MEMORY_LIMIT, default 75% of MemAvailable)\n"
         "  --max-concurrent N     computations running at once (env TDA_ENGINE_MAX_CONCURRENT, default 2)\n"
         "  --queue-depth N        admitted jobs waiting for a worker (env TDA_ENGINE_QUEUE_DEPTH, default 8)\n"
         "  --input-idle-seconds N  a call whose spec or input stops arriving this long gives back\n"
         "                         its slot (env TDA_ENGINE_INPUT_IDLE_SECONDS, default 10)\n"
         "  --max-calls-per-caller N  open Compute calls per caller address (env\n"
         "                         TDA_ENGINE_MAX_CALLS_PER_CALLER, default 2 x (max-concurrent + queue-depth))\n"
         "  --estimate-scale X     admission reserves X times the core's memory estimate (env\n"
         "                         TDA_ENGINE_ESTIMATE_SCALE, default 1; 0 < X <= 1000); the runtime\n"
         "                         memory guard still stops a job that outgrows the engine's limit\n"
         "  --tls-ca FILE          CA (PEM) that signs the mesh's certificates; with --tls-cert and\n"
         "                         --tls-key every caller must present a certificate it signed\n"
         "                         (mutual TLS; env TDA_TLS_CA, TDA_TLS_CERT, TDA_TLS_KEY). Without\n"
         "                         them the port is plaintext and says so in the log\n"
         "  --tls-cert FILE        this engine's certificate chain (PEM)\n"
         "  --tls-key FILE         its private key (PEM)\n"
         "  --help                 this text\n";
}

namespace {

// One setting: its flag (without dashes), its environment variable, the raw
// value in force and where it came from (the variable or "--flag", for messages).
struct Setting {
  const char* flag;
  const char* env;
  std::optional<std::string> value;
  std::string source;
};

// Every setting, with its value from the environment where set.
std::vector<Setting> settings_from_env(const EnvReader& env) {
  std::vector<Setting> settings = {
      {"host", "TDA_ENGINE_HOST", std::nullopt, ""},
      {"port", "TDA_ENGINE_PORT", std::nullopt, ""},
      {"threads", "TDA_ENGINE_THREADS", std::nullopt, ""},
      {"memory-limit", "TDA_ENGINE_MEMORY_LIMIT", std::nullopt, ""},
      {"max-concurrent", "TDA_ENGINE_MAX_CONCURRENT", std::nullopt, ""},
      {"queue-depth", "TDA_ENGINE_QUEUE_DEPTH", std::nullopt, ""},
      {"input-idle-seconds", "TDA_ENGINE_INPUT_IDLE_SECONDS", std::nullopt, ""},
      {"max-calls-per-caller", "TDA_ENGINE_MAX_CALLS_PER_CALLER", std::nullopt, ""},
      {"estimate-scale", "TDA_ENGINE_ESTIMATE_SCALE", std::nullopt, ""},
      {"tls-ca", "TDA_TLS_CA", std::nullopt, ""},
      {"tls-cert", "TDA_TLS_CERT", std::nullopt, ""},
      {"tls-key", "TDA_TLS_KEY", std::nullopt, ""},
  };
  for (auto& s : settings) {
    if (auto v = env(s.env)) {
      s.value = *v;
      s.source = s.env;
    }
  }
  return settings;
}

// The flags (through the shared parser, common/flags.hpp); they win over the
// environment. Sets *help when --help was given.
void apply_flags(int argc, char** argv, int first, std::vector<Setting>& settings, bool* help) {
  std::vector<flags::Flag> known;
  for (const auto& s : settings) known.push_back({s.flag});
  flags::Parsed f;
  try {
    f = flags::parse(std::vector<std::string>(argv + first, argv + argc), known);
  } catch (const flags::FlagError& e) {
    if (e.problem == flags::FlagError::Problem::MissingValue)
      throw ConfigError("option '" + e.flag + "' needs a value");
    throw ConfigError(e.what());
  }
  for (const std::string& u : f.unknown) {
    if (u.rfind("--", 0) == 0) throw ConfigError("unknown option '" + flags::option_name(u) + "'\n" + server_usage());
    throw ConfigError("unexpected argument '" + u + "'");
  }
  if (!f.positional.empty()) throw ConfigError("unexpected argument '" + f.positional.front() + "'");
  if (help) *help = f.help;
  for (auto& s : settings) {
    const auto given = f.values.find(s.flag);
    if (given == f.values.end()) continue;
    s.value = given->second;
    s.source = std::string("--") + s.flag;
  }
}

double parse_estimate_scale(const Setting& s) {
  const std::string t = trim(*s.value);
  char* end = nullptr;
  const double x = t.empty() ? 0 : std::strtod(t.c_str(), &end);
  if (t.empty() || *end != '\0' || !(x > 0 && x <= 1000))
    throw ConfigError(s.source + ": expected a number in (0, 1000], got '" + *s.value + "'");
  return x;
}

// Parses one setting's value into c; throws ConfigError.
void apply_setting(const Setting& s, ServerConfig& c) {
  const std::string name(s.flag);
  if (name == "host") {
    c.host = trim(*s.value);
    if (c.host.empty()) throw ConfigError("empty host");
  } else if (name == "port") {
    c.port = static_cast<int>(parse_unsigned(s.source, *s.value, 0, 65535));
  } else if (name == "threads") {
    c.threads = static_cast<unsigned>(parse_unsigned(s.source, *s.value, 1, 1024));
  } else if (name == "memory-limit") {
    c.memory_limit = parse_byte_size(*s.value);
  } else if (name == "max-concurrent") {
    c.max_concurrent = static_cast<unsigned>(parse_unsigned(s.source, *s.value, 1, 1024));
  } else if (name == "queue-depth") {
    c.queue_depth = static_cast<unsigned>(parse_unsigned(s.source, *s.value, 0, 100000));
  } else if (name == "input-idle-seconds") {
    c.input_idle_seconds = static_cast<unsigned>(parse_unsigned(s.source, *s.value, 1, 3600));
  } else if (name == "max-calls-per-caller") {
    c.max_calls_per_caller = static_cast<unsigned>(parse_unsigned(s.source, *s.value, 1, 100000));
  } else if (name == "estimate-scale") {
    c.estimate_scale = parse_estimate_scale(s);
  } else if (name == "tls-ca") {
    c.tls_ca = trim(*s.value);
  } else if (name == "tls-cert") {
    c.tls_cert = trim(*s.value);
  } else if (name == "tls-key") {
    c.tls_key = trim(*s.value);
  }
}

// The settings given, in order; every message starts with the setting's source.
ServerConfig config_from_settings(const std::vector<Setting>& settings) {
  ServerConfig c;
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  c.threads = hw;
  for (const auto& s : settings) {
    if (!s.value) continue;
    try {
      apply_setting(s, c);
    } catch (const ConfigError& e) {
      const std::string msg = e.what();
      if (msg.rfind(s.source, 0) == 0) throw;
      throw ConfigError(s.source + ": " + msg);
    }
  }
  return c;
}

// Mutual TLS needs all three files or none.
void check_tls(const ServerConfig& c) {
  const int tls_given = !c.tls_ca.empty() + !c.tls_cert.empty() + !c.tls_key.empty();
  if (tls_given != 0 && tls_given != 3)
    throw ConfigError(
        "mutual TLS needs all of --tls-ca, --tls-cert and --tls-key (TDA_TLS_CA, TDA_TLS_CERT, TDA_TLS_KEY)");
}

// Without a memory limit: a fraction of MemAvailable.
void default_memory_limit(ServerConfig& c) {
  if (c.memory_limit != 0) return;
  const uint64_t available = mem_available_bytes();
  if (available == 0) throw ConfigError("cannot read MemAvailable; set --memory-limit");
  c.memory_limit = static_cast<uint64_t>(static_cast<double>(available) * kDefaultMemoryFraction);
}

}  // namespace

ServerConfig parse_server_config(int argc, char** argv, int first, const EnvReader& env, bool* help) {
  std::vector<Setting> settings = settings_from_env(env);
  apply_flags(argc, argv, first, settings, help);
  ServerConfig c = config_from_settings(settings);
  check_tls(c);
  default_memory_limit(c);
  return c;
}

}  // namespace tda::server
