// The filtration's edges: the threshold actually used, and the list of edges
// up to it (any order; the reducer sorts them). Producing the edges is separate
// from reducing them, so other producers (collapsed, streamed or sparsified edge
// lists) can feed the same reducer.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tda/core/complex.hpp"
#include "tda/core/distances.hpp"
#include "tda/core/rips_options.hpp"

namespace tda::core {
namespace detail {

// before(bytes) runs once the size of the list is known, before it is allocated
// (the memory guard charges it there).
template <class Before = void (*)(uint64_t)>
std::vector<Simplex> dense_edges(
    const DenseDistances& d, value_t thr, Before&& before = [](uint64_t) {}) {
  std::vector<Simplex> edges;
  const size_t n = d.size();
  size_t count = 0;
  for (size_t i = 1; i < n; ++i) {
    const value_t* row = d.row(i);
    for (size_t j = 0; j < i; ++j) count += row[j] <= thr;
  }
  before(uint64_t{count} * sizeof(Simplex));
  edges.reserve(count);
  for (size_t i = 1; i < n; ++i) {
    const value_t* row = d.row(i);
    const index_t base = static_cast<index_t>(i * (i - 1) / 2);
    for (size_t j = 0; j < i; ++j)
      if (row[j] <= thr) edges.push_back(Simplex{row[j], base + static_cast<index_t>(j)});
  }
  return edges;
}

inline std::vector<Simplex> sparse_edges(const SparseDistances& d) {
  std::vector<Simplex> edges;
  edges.reserve(d.edge_count());
  for (size_t i = 0; i < d.size(); ++i) {
    const index_t base = static_cast<index_t>(i * (i - 1) / 2);
    for (const Neighbor* p = d.begin(i); p != d.end(i) && p->vertex < i; ++p)
      edges.push_back(Simplex{p->dist, base + static_cast<index_t>(p->vertex)});
  }
  return edges;
}
// Threshold as a float comparison value: the largest float f with f <= t, so
// that (float d <= f) <=> (double(d) <= t), as in Ripser's float comparisons.
inline value_t float_threshold(double t) {
  if (t >= static_cast<double>(std::numeric_limits<value_t>::max())) return std::numeric_limits<value_t>::infinity();
  value_t f = static_cast<value_t>(t);
  if (static_cast<double>(f) > t) f = std::nextafter(f, -std::numeric_limits<value_t>::infinity());
  return f;
}

inline value_t choose_threshold(const RipsOptions& opt, value_t radius) {
  if (!opt.threshold) return radius;
  return std::min(radius, float_threshold(*opt.threshold));
}

// The cutoff of a point cloud: choose_threshold with its enclosing radius, which is
// sought only below the threshold (past it the radius does not change the cutoff).
template <class Poll = NoPoll>
value_t points_cutoff(const RipsOptions& opt, const std::vector<value_t>& coords, size_t n, size_t dim,
                      Poll&& poll = {}, int threads = 1) {
  const value_t below = opt.threshold ? float_threshold(*opt.threshold) : std::numeric_limits<value_t>::infinity();
  return choose_threshold(opt, enclosing_radius_points(coords, n, dim, poll, threads, below));
}

}  // namespace detail
}  // namespace tda::core
