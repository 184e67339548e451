// Parsing of Ripser's text input formats.
//
// Numbers are read the way `stream >> float` followed by `stream.ignore()` reads
// them in libstdc++: skip whitespace, take the longest [sign] digits [. digits]
// [e [sign] digits] prefix, convert it with strtof (it must be consumed entirely
// and must not overflow), then drop exactly one following character. Reading
// stops at the first failure.
#pragma once

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tda/core/types.hpp"

namespace tda::core::io {

class NumberScanner {
 public:
  explicit NumberScanner(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  // Reads the next number; false at the end or at the first malformed token.
  bool next(value_t& out) {
    if (failed_) return false;
    while (p_ != end_ && is_space(*p_)) ++p_;
    token_.clear();
    bool digits = false;
    if (p_ != end_ && (*p_ == '+' || *p_ == '-')) token_.push_back(*p_++);
    while (p_ != end_ && is_digit(*p_)) {
      token_.push_back(*p_++);
      digits = true;
    }
    if (p_ != end_ && *p_ == '.') {
      token_.push_back(*p_++);
      while (p_ != end_ && is_digit(*p_)) {
        token_.push_back(*p_++);
        digits = true;
      }
    }
    if (digits && p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      token_.push_back(*p_++);
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) token_.push_back(*p_++);
      while (p_ != end_ && is_digit(*p_)) token_.push_back(*p_++);
    }
    if (token_.empty()) return fail();
    char* stop = nullptr;
    const float v = std::strtof(token_.c_str(), &stop);
    if (stop != token_.c_str() + token_.size() || std::isinf(v)) return fail();
    out = v;
    if (p_ != end_) ++p_;  // the separator
    return true;
  }

 private:
  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  bool fail() {
    failed_ = true;
    return false;
  }

  const char* p_;
  const char* end_;
  bool failed_ = false;
  std::string token_;
};

// Splits like repeated std::getline: '\n' terminates a line; a final line without
// newline counts; nothing after a final newline.
template <class F>
void for_each_line(std::string_view text, F&& f) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    f(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
}

inline std::vector<value_t> read_numbers(std::string_view text) {
  std::vector<value_t> v;
  NumberScanner s(text);
  value_t x;
  while (s.next(x)) v.push_back(x);
  return v;
}

// n with n(n-1)/2 == count; throws if count is not a triangular number.
inline size_t points_from_triangle(size_t count) {
  size_t n = static_cast<size_t>((1.0 + std::sqrt(1.0 + 8.0 * static_cast<double>(count))) / 2.0);
  while (n > 1 && n * (n - 1) / 2 > count) --n;
  while ((n + 1) * n / 2 <= count) ++n;
  if (n * (n - 1) / 2 != count)
    throw InvalidInput("number of distances (" + std::to_string(count) + ") is not n(n-1)/2 for any n");
  return n;
}

struct PointCloud {
  std::vector<value_t> coords;  // row-major
  size_t n = 0;
  size_t dim = 0;
};

// One point per line; lines without numbers are skipped; rows must agree in length.
inline PointCloud parse_point_cloud(std::string_view text) {
  PointCloud pc;
  size_t line_no = 0;
  for_each_line(text, [&](std::string_view line) {
    ++line_no;
    NumberScanner s(line);
    size_t count = 0;
    value_t x;
    while (s.next(x)) {
      pc.coords.push_back(x);
      ++count;
    }
    if (count == 0) return;
    if (pc.n == 0) pc.dim = count;
    else if (count != pc.dim)
      throw InvalidInput("point on line " + std::to_string(line_no) + " has " + std::to_string(count) +
                         " coordinates, expected " + std::to_string(pc.dim));
    ++pc.n;
  });
  if (pc.n == 0) throw InvalidInput("no points in input");
  return pc;
}

struct LowerMatrix {
  std::vector<value_t> lower;  // strict lower triangle, row by row
  size_t n = 1;
};

// Full matrix: line i contributes its first i entries (the part below the diagonal).
inline LowerMatrix parse_distance_matrix(std::string_view text) {
  LowerMatrix m;
  size_t i = 0;
  for_each_line(text, [&](std::string_view line) {
    NumberScanner s(line);
    value_t x;
    for (size_t j = 0; j < i && s.next(x); ++j) m.lower.push_back(x);
    ++i;
  });
  m.n = points_from_triangle(m.lower.size());
  return m;
}

inline LowerMatrix parse_lower_distance(std::string_view text) {
  LowerMatrix m;
  m.lower = read_numbers(text);
  m.n = points_from_triangle(m.lower.size());
  return m;
}

// Strict upper triangle row by row: d(0,1), d(0,2), ..., d(1,2), ...
inline LowerMatrix parse_upper_distance(std::string_view text) {
  std::vector<value_t> upper = read_numbers(text);
  LowerMatrix m;
  m.n = points_from_triangle(upper.size());
  const size_t n = m.n;
  m.lower.resize(upper.size());
  size_t pos = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) m.lower[j * (j - 1) / 2 + i] = upper[pos++];
  return m;
}

}  // namespace tda::core::io
