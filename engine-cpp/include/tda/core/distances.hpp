// Distance storage for the Rips reduction: a full symmetric matrix (dense mode)
// or per-vertex neighbour lists below a threshold (sparse mode), plus helpers that
// reproduce Ripser's float32 conventions.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "tda/core/parallel.hpp"
#include "tda/core/types.hpp"

namespace tda::core {

// Keeps x in a register so the compiler cannot fuse the following add into an FMA
// (the reference accumulates (u-v)^2 in float with separate rounding steps).
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define TDA_CORE_OPAQUE(x) __asm__("" : "+x"(x))
#elif defined(__GNUC__) && defined(__aarch64__)
#define TDA_CORE_OPAQUE(x) __asm__("" : "+w"(x))
#else
#define TDA_CORE_OPAQUE(x)         \
  do {                             \
    volatile value_t tda_v_ = (x); \
    (x) = tda_v_;                  \
  } while (0)
#endif

// Default progress hook for the O(n^2) loops below: does nothing.
struct NoPoll {
  void operator()() const {}
};

// sqrtf of the float sum of squared float differences, in coordinate order.
inline value_t euclidean_distance(const value_t* a, const value_t* b, size_t dim) {
  value_t sum = 0;
  for (size_t t = 0; t < dim; ++t) {
    value_t diff = a[t] - b[t];
    value_t sq = diff * diff;
    TDA_CORE_OPAQUE(sq);
    sum = sum + sq;
  }
  return std::sqrt(sum);
}

// Position of d(i, j), i > j, in the strict lower triangle stored row by row.
inline size_t lower_position(size_t i, size_t j) { return i * (i - 1) / 2 + j; }

// The O(n^2) helpers call poll() every few rows (used for cancellation) and split
// their rows among `threads` workers (poll runs on the calling thread only).
template <class Poll = NoPoll>
std::vector<value_t> lower_from_points(const std::vector<value_t>& coords, size_t n, size_t dim, Poll&& poll = {},
                                       int threads = 1) {
  std::vector<value_t> lower(n * (n - 1) / 2);
  WorkerGroup(threads).chunks(
      n, 16,
      [&](size_t lo, size_t hi, int) {
        for (size_t i = std::max<size_t>(lo, 1); i < hi; ++i) {
          value_t* out = lower.data() + i * (i - 1) / 2;
          for (size_t j = 0; j < i; ++j) out[j] = euclidean_distance(&coords[i * dim], &coords[j * dim], dim);
        }
      },
      poll);
  return lower;
}

// min over i of max over j of d(i, j); 0 for a single point. Beyond it the Rips
// complex is a cone, so no bar is born or dies after it.
inline value_t enclosing_radius_lower(const std::vector<value_t>& lower, size_t n) {
  if (n < 2) return 0;
  std::vector<value_t> row_max(n, 0);
  size_t pos = 0;
  for (size_t i = 1; i < n; ++i)
    for (size_t j = 0; j < i; ++j) {
      value_t d = lower[pos++];
      row_max[i] = std::max(row_max[i], d);
      row_max[j] = std::max(row_max[j], d);
    }
  return *std::min_element(row_max.begin(), row_max.end());
}

// Same for a point cloud, abandoning a row as soon as it cannot beat the best one
// (each worker keeps its own best; the minimum is the same). With `below`, the
// result is min(radius, below), and every row stops at its first point at least
// `below` away: a caller with a threshold passes it (points_cutoff), since past
// the threshold the radius does not change the cutoff, and a threshold well under
// the radius then costs a few distances per point instead of a scan of all n.
template <class Poll = NoPoll>
value_t enclosing_radius_points(const std::vector<value_t>& coords, size_t n, size_t dim, Poll&& poll = {},
                                int threads = 1, value_t below = std::numeric_limits<value_t>::infinity()) {
  if (n < 2) return 0;
  WorkerGroup g(threads);
  std::vector<value_t> best(g.size(), below);
  g.chunks(
      n, 16,
      [&](size_t lo, size_t hi, int w) {
        value_t b = best[w];
        for (size_t i = lo; i < hi; ++i) {
          value_t m = 0;
          for (size_t j = 0; j < n && m < b; ++j)
            if (j != i) m = std::max(m, euclidean_distance(&coords[i * dim], &coords[j * dim], dim));
          b = std::min(b, m);
        }
        best[w] = b;
      },
      poll);
  return *std::min_element(best.begin(), best.end());
}

// Worker count for constructors whose other arguments could be mistaken for a count.
struct Workers {
  int count = 1;
};

// Full n x n matrix, row-major (rows are contiguous, which the cofacet loops use).
class DenseDistances {
 public:
  DenseDistances(const std::vector<value_t>& lower, size_t n, Workers workers = {}) : n_(n), m_(n * n, 0) {
    // each worker fills whole rows: the left part is contiguous in `lower`, the
    // right part is a column of it
    WorkerGroup(workers.count).chunks(n, 64, [&](size_t lo, size_t hi, int) {
      for (size_t i = lo; i < hi; ++i) {
        value_t* row = m_.data() + i * n;
        if (i > 0) std::copy(lower.begin() + i * (i - 1) / 2, lower.begin() + i * (i + 1) / 2, row);
        for (size_t j = i + 1; j < n; ++j) row[j] = lower[j * (j - 1) / 2 + i];
      }
    });
  }
  template <class Poll = NoPoll>
  DenseDistances(const std::vector<value_t>& coords, size_t n, size_t dim, Poll&& poll = {}, int threads = 1)
      : n_(n), m_(n * n, 0) {
    // rows are computed left of the diagonal and mirrored (distinct cells per row)
    WorkerGroup(threads).chunks(
        n, 16,
        [&](size_t lo, size_t hi, int) {
          for (size_t i = std::max<size_t>(lo, 1); i < hi; ++i)
            for (size_t j = 0; j < i; ++j)
              m_[i * n + j] = m_[j * n + i] = euclidean_distance(&coords[i * dim], &coords[j * dim], dim);
        },
        poll);
  }
  size_t size() const { return n_; }
  value_t operator()(size_t i, size_t j) const { return m_[i * n_ + j]; }
  const value_t* row(size_t i) const { return m_.data() + i * n_; }
  size_t bytes() const { return m_.capacity() * sizeof(value_t); }

 private:
  size_t n_;
  std::vector<value_t> m_;
};

struct Neighbor {
  uint32_t vertex;
  value_t dist;
};

// Neighbour lists with d <= threshold, each sorted by vertex.
class SparseDistances {
 public:
  SparseDistances() = default;

  static SparseDistances from_lower(const std::vector<value_t>& lower, size_t n, value_t threshold) {
    std::vector<std::vector<Neighbor>> lists(n);
    size_t pos = 0;
    for (size_t i = 1; i < n; ++i)
      for (size_t j = 0; j < i; ++j) {
        value_t d = lower[pos++];
        if (d <= threshold) add_pair(lists, i, j, d);
      }
    return flatten(lists);
  }

  // Rows are scanned concurrently (neighbours below each vertex), then the upper
  // halves are filled by one transposition pass, which keeps every list sorted.
  template <class Poll = NoPoll>
  static SparseDistances from_points(const std::vector<value_t>& coords, size_t n, size_t dim, value_t threshold,
                                     Poll&& poll = {}, int threads = 1) {
    std::vector<std::vector<Neighbor>> below(n);
    WorkerGroup(threads).chunks(
        n, 16,
        [&](size_t lo, size_t hi, int) {
          for (size_t i = std::max<size_t>(lo, 1); i < hi; ++i)
            for (size_t j = 0; j < i; ++j) {
              value_t d = euclidean_distance(&coords[i * dim], &coords[j * dim], dim);
              if (d <= threshold) below[i].push_back({static_cast<uint32_t>(j), d});
            }
        },
        poll);
    SparseDistances s;
    s.offsets_.assign(n + 1, 0);
    for (size_t i = 0; i < n; ++i) {
      s.offsets_[i + 1] += below[i].size();
      for (const Neighbor& nb : below[i]) ++s.offsets_[nb.vertex + 1];
    }
    for (size_t v = 0; v < n; ++v) s.offsets_[v + 1] += s.offsets_[v];
    s.nb_.resize(s.offsets_.back());
    std::vector<size_t> fill(s.offsets_.begin(), s.offsets_.end() - 1);
    for (size_t i = 0; i < n; ++i) {  // lower part of i, then i joins its neighbours' upper parts
      std::copy(below[i].begin(), below[i].end(), s.nb_.begin() + fill[i]);
      fill[i] += below[i].size();
    }
    for (size_t i = 0; i < n; ++i) {
      for (const Neighbor& nb : below[i]) s.nb_[fill[nb.vertex]++] = Neighbor{static_cast<uint32_t>(i), nb.dist};
      std::vector<Neighbor>().swap(below[i]);
    }
    return s;
  }

  // From lists already built: offsets (n + 1) into nb, each list sorted by vertex.
  static SparseDistances from_lists(std::vector<size_t> offsets, std::vector<Neighbor> nb) {
    SparseDistances s;
    s.offsets_ = std::move(offsets);
    s.nb_ = std::move(nb);
    return s;
  }

  size_t size() const { return offsets_.empty() ? 0 : offsets_.size() - 1; }
  const Neighbor* begin(size_t v) const { return nb_.data() + offsets_[v]; }
  const Neighbor* end(size_t v) const { return nb_.data() + offsets_[v + 1]; }
  Neighbor* mutable_begin(size_t v) { return nb_.data() + offsets_[v]; }
  Neighbor* mutable_end(size_t v) { return nb_.data() + offsets_[v + 1]; }
  // Removes the entries whose distance is +infinity (edges dropped by a collapse).
  void drop_removed() {
    size_t out = 0, start = 0;
    for (size_t v = 0; v + 1 < offsets_.size(); ++v) {
      const size_t end = offsets_[v + 1];
      for (size_t p = start; p < end; ++p)
        if (nb_[p].dist != std::numeric_limits<value_t>::infinity()) nb_[out++] = nb_[p];
      start = end;
      offsets_[v + 1] = out;
    }
    nb_.resize(out);
    nb_.shrink_to_fit();
  }
  size_t degree(size_t v) const { return offsets_[v + 1] - offsets_[v]; }
  // Cache hints for a walk that knows which lists it reads next: where v's list
  // starts (first), then the list's first lines (once its offset is cached).
  void prefetch_offset(size_t v) const { __builtin_prefetch(offsets_.data() + v); }
  void prefetch_list(size_t v) const {
    const char* p = reinterpret_cast<const char*>(begin(v));
    __builtin_prefetch(p);
    __builtin_prefetch(p + 64);
    __builtin_prefetch(p + 128);
  }
  // Sparse Rips (sparse_rips.hpp): the filtration value after which a vertex takes
  // part in no new simplex; empty for the Rips (flag) complex.
  void set_vertex_deaths(std::vector<value_t> death) { death_ = std::move(death); }
  const value_t* vertex_deaths() const { return death_.empty() ? nullptr : death_.data(); }
  size_t edge_count() const { return nb_.size() / 2; }
  size_t bytes() const {
    return nb_.capacity() * sizeof(Neighbor) + offsets_.capacity() * sizeof(size_t) +
           death_.capacity() * sizeof(value_t);
  }

  // d(u, v) for an edge present in the lists (binary search); +inf otherwise.
  value_t operator()(size_t u, size_t v) const {
    const Neighbor* b = begin(u);
    const Neighbor* e = end(u);
    const Neighbor* it = std::lower_bound(b, e, v, [](const Neighbor& x, size_t w) { return x.vertex < w; });
    return (it != e && it->vertex == v) ? it->dist : std::numeric_limits<value_t>::infinity();
  }

 private:
  // Pairs arrive ordered by (i asc, j asc), which leaves every list sorted.
  static void add_pair(std::vector<std::vector<Neighbor>>& lists, size_t i, size_t j, value_t d) {
    lists[i].push_back({static_cast<uint32_t>(j), d});
    lists[j].push_back({static_cast<uint32_t>(i), d});
  }

  static SparseDistances flatten(std::vector<std::vector<Neighbor>>& lists) {
    SparseDistances s;
    s.offsets_.resize(lists.size() + 1, 0);
    for (size_t v = 0; v < lists.size(); ++v) s.offsets_[v + 1] = s.offsets_[v] + lists[v].size();
    s.nb_.reserve(s.offsets_.back());
    for (auto& l : lists) {
      s.nb_.insert(s.nb_.end(), l.begin(), l.end());
      std::vector<Neighbor>().swap(l);
    }
    return s;
  }

  std::vector<size_t> offsets_;
  std::vector<Neighbor> nb_;
  std::vector<value_t> death_;
};

}  // namespace tda::core
