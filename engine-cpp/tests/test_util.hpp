// Helpers shared by the core tests: fixtures, running commands, barcode text.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <vector>

#include "tda/core/rips.hpp"

namespace tda::test {

inline std::string fixture(const std::string& name) { return std::string(TDA_FIXTURES_DIR) + "/" + name; }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CommandResult {
  int exit_code = -1;
  std::string out;
};

// Runs a shell command, capturing stdout.
inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[65536];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, got);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Barcodes as per-dimension sorted lists of Ripser's interval text (" [b,d)").
using Barcodes = std::map<int, std::vector<std::string>>;

inline Barcodes parse_ripser_output(const std::string& text) {
  Barcodes b;
  std::istringstream in(text);
  std::string line;
  int dim = -1;
  while (std::getline(in, line)) {
    if (line.rfind("persistence intervals in dim ", 0) == 0) {
      dim = std::stoi(line.substr(29));
      b[dim];
    } else if (line.rfind(" [", 0) == 0 && dim >= 0) {
      b[dim].push_back(line);
    }
  }
  for (auto& [d, v] : b) std::sort(v.begin(), v.end());
  return b;
}

inline std::string format_value(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(static_cast<float>(v)));
  return buf;
}

inline Barcodes to_barcodes(const core::RipsResult& r, int shown_dims) {
  Barcodes b;
  for (int d = 0; d <= shown_dims && d < static_cast<int>(r.diagrams.size()); ++d) {
    auto& v = b[d];
    for (const core::Interval& iv : r.diagrams[d])
      v.push_back(std::isinf(iv.death) ? " [" + format_value(iv.birth) + ", )"
                                       : " [" + format_value(iv.birth) + "," + format_value(iv.death) + ")");
    std::sort(v.begin(), v.end());
  }
  return b;
}

}  // namespace tda::test
