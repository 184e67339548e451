// Binomial coefficients and the combinatorial number system.
//
// A simplex with vertices v_k > ... > v_0 is encoded as sum_i C(v_i, i + 1).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "tda/core/types.hpp"

namespace tda::core {

class BinomialTable {
 public:
  static constexpr index_t kSaturated = std::numeric_limits<index_t>::max();

  BinomialTable() = default;
  // Table of C(v, k) for 0 <= v <= n and 0 <= k <= max_k; values that do not
  // fit in index_t are stored as kSaturated.
  BinomialTable(index_t n, int max_k)
      : stride_(n + 1), max_k_(max_k), table_(static_cast<size_t>((max_k + 1) * (n + 1)), 0) {
    for (int k = 0; k <= max_k; ++k) {
      index_t* row = table_.data() + k * stride_;
      const index_t* prev = k > 0 ? table_.data() + (k - 1) * stride_ : nullptr;
      for (index_t v = 0; v <= n; ++v) {
        if (k == 0) {
          row[v] = 1;
        } else if (v < k) {
          row[v] = 0;
        } else {
          index_t a = prev[v - 1], b = row[v - 1];
          row[v] = (a == kSaturated || b == kSaturated || a > kSaturated - b) ? kSaturated : a + b;
        }
      }
    }
  }

  index_t operator()(index_t v, int k) const { return table_[k * stride_ + v]; }
  const index_t* row(int k) const { return table_.data() + k * stride_; }
  index_t max_vertex() const { return stride_ - 1; }
  int max_k() const { return max_k_; }

 private:
  index_t stride_ = 0;
  int max_k_ = 0;
  std::vector<index_t> table_;
};

// Largest v in [lo, hi] with C(v, k) <= idx (C(lo, k) <= idx is assumed).
inline index_t largest_vertex_below(const BinomialTable& B, index_t idx, int k, index_t lo, index_t hi) {
  const index_t* row = B.row(k);
  if (row[hi] <= idx) return hi;
  // invariant: row[lo] <= idx < row[hi]
  while (hi - lo > 1) {
    index_t mid = lo + (hi - lo) / 2;
    if (row[mid] <= idx) lo = mid;
    else hi = mid;
  }
  return lo;
}

// Decodes a simplex with `count` vertices into out[0] > out[1] > ... > out[count-1].
// n is the number of points (all vertices are < n).
inline void decode_simplex(const BinomialTable& B, index_t idx, int count, index_t n, index_t* out) {
  index_t hi = n - 1;
  for (int pos = count; pos >= 1; --pos) {
    if (pos == 1) {  // C(v, 1) = v
      *out = idx;
      return;
    }
    index_t v;
    if (pos == 2) {  // invert C(v, 2) = v(v-1)/2 directly, then fix rounding
      v = std::min<index_t>(hi, static_cast<index_t>((1.0 + std::sqrt(1.0 + 8.0 * static_cast<double>(idx))) / 2.0));
      while (v > 1 && B(v, 2) > idx) --v;
      while (v < hi && B(v + 1, 2) <= idx) ++v;
    } else {
      v = largest_vertex_below(B, idx, pos, pos - 1, hi);
    }
    *out++ = v;
    idx -= B(v, pos);
    hi = v - 1;
  }
}

// Encodes vertices given in descending order.
inline index_t encode_simplex(const BinomialTable& B, const index_t* desc, int count) {
  index_t idx = 0;
  for (int i = 0; i < count; ++i) idx += B(desc[i], count - i);
  return idx;
}

}  // namespace tda::core
