// The whole input of a command line (a file or stdin) as one string, read in
// blocks of 64 KiB (not character by character through istreambuf_iterator),
// into one allocation when the stream can tell its size.
#pragma once

#include <istream>
#include <string>

namespace tda::cli {

inline std::string read_all(std::istream& in) {
  std::string text;
  // a file: its size first, one allocation (a pipe cannot tell: tellg fails)
  const std::streampos start = in.tellg();
  if (start != std::streampos(-1) && in.seekg(0, std::ios::end)) {
    const std::streampos end = in.tellg();
    in.seekg(start);
    if (end > start) text.reserve(static_cast<size_t>(end - start));
  }
  in.clear();
  char block[1 << 16];
  while (in.read(block, sizeof block) || in.gcount() > 0) text.append(block, static_cast<size_t>(in.gcount()));
  return text;
}

}  // namespace tda::cli
