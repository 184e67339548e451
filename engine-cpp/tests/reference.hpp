// Runs the GUDHI reference (test/reference/gudhi_ref.py, PyPI gudhi 3.13 in
// the Python that scripts/bootstrap.sh prepares) on a JSON request.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>

#include "test_util.hpp"

namespace tda::test {

// TDA_REF_PYTHON, else the bootstrap's environment under the cache directory.
inline std::string reference_python() {
  if (const char* p = std::getenv("TDA_REF_PYTHON"); p && *p) return p;
  std::string cache;
  if (const char* c = std::getenv("TDA_CACHE_DIR"); c && *c) {
    cache = c;
  } else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
    cache = std::string(x) + "/tda-mesh";
  } else {
    const char* h = std::getenv("HOME");
    cache = std::string(h ? h : "/tmp") + "/.cache/tda-mesh";
  }
  return cache + "/pyref/bin/python";
}

// The reference's stdout for `request`; exit_code != 0 when it failed.
inline CommandResult run_reference(const std::string& request) {
  char path[] = "/tmp/tda-ref-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return {};
  close(fd);
  {
    std::ofstream out(path);
    out << request;
  }
  CommandResult r = run_command("'" + reference_python() + "' '" + std::string(TDA_REFERENCE_DIR) +
                                "/gudhi_ref.py' < '" + path + "'");
  std::remove(path);
  return r;
}

inline std::string json_number(double v) {
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// The value after `"key": ` at or after `from`; "inf" is +infinity, null NaN. Moves `from` past it.
inline double json_field(const std::string& text, const std::string& key, size_t& from) {
  const std::string k = "\"" + key + "\": ";
  const size_t at = text.find(k, from);
  if (at == std::string::npos) throw std::runtime_error("reference output lacks " + key + ": " + text);
  size_t p = at + k.size();
  from = p;
  if (text.compare(p, 5, "\"inf\"") == 0) return std::numeric_limits<double>::infinity();
  if (text.compare(p, 4, "null") == 0) return std::numeric_limits<double>::quiet_NaN();
  return std::strtod(text.c_str() + p, nullptr);
}

}  // namespace tda::test
