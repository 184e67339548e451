// Neighbour lists of a point cloud below a threshold through a uniform grid on
// (up to) the first three coordinates: two points can only be that close when
// their cells are adjacent on every gridded axis, so the distances evaluated and
// the memory held follow the pairs kept, not n^2.
//
// The lists are built in two passes over the grid (count, then fill), so the
// only large allocation is the final one; the distances are Ripser's float32
// ones (euclidean_distance), hence exactly the edges of the all-pairs scan.
#pragma once

#include <algorithm>
#include <functional>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "tda/core/distances.hpp"
#include "tda/core/parallel.hpp"
#include "tda/core/types.hpp"

namespace tda::core {

struct NoProgress {
  void operator()(uint64_t, uint64_t) const {}
};

class PointGrid {
 public:
  static constexpr int kMaxAxes = 3;

  // Cells at least `threshold` wide (with a margin for float rounding); coarser
  // when that would give more than about 2n cells.
  PointGrid(const std::vector<value_t>& coords, size_t n, size_t dim, value_t threshold) : n_(n), dim_(dim) {
    axes_ = static_cast<int>(std::min<size_t>(dim, kMaxAxes));
    double hi[kMaxAxes];
    for (int a = 0; a < axes_; ++a) {
      lo_[a] = std::numeric_limits<double>::infinity();
      hi[a] = -std::numeric_limits<double>::infinity();
    }
    for (size_t i = 0; i < n; ++i)
      for (int a = 0; a < axes_; ++a) {
        lo_[a] = std::min(lo_[a], static_cast<double>(coords[i * dim + a]));
        hi[a] = std::max(hi[a], static_cast<double>(coords[i * dim + a]));
      }
    double extent = 0;
    for (int a = 0; a < axes_; ++a) extent = std::max(extent, n ? hi[a] - lo_[a] : 0.0);
    // |x_a - y_a| > cell on one axis implies float distance > threshold
    double cell = static_cast<double>(threshold) * (1 + 1e-5) + 1e-30;
    const double max_cells = 2.0 * static_cast<double>(n) + 8;
    while (true) {
      double total = 1;
      for (int a = 0; a < axes_; ++a) {
        const double k = std::isfinite(cell) ? std::floor((hi[a] - lo_[a]) / cell) + 1 : 1;
        count_[a] = static_cast<int64_t>(std::min(k, 4.0e9));
        total *= static_cast<double>(count_[a]);
      }
      if (total <= max_cells || !std::isfinite(cell)) break;
      cell = std::max(cell * 1.25, extent / std::cbrt(max_cells));
    }
    cell_ = cell;
    if (n == 0) return;
    size_t cells = 1;
    for (int a = 0; a < axes_; ++a) cells *= static_cast<size_t>(count_[a]);
    // counting sort of the points by cell; the points' coordinates are copied in
    // that order so a cell's points are contiguous in memory
    cell_of_.resize(n);
    start_.assign(cells + 1, 0);
    for (size_t i = 0; i < n; ++i) {
      cell_of_[i] = cell_id(&coords[i * dim]);
      ++start_[cell_of_[i] + 1];
    }
    for (size_t c = 0; c < cells; ++c) start_[c + 1] += start_[c];
    order_.resize(n);
    std::vector<uint32_t> fill(start_.begin(), start_.end() - 1);
    for (size_t i = 0; i < n; ++i) order_[fill[cell_of_[i]]++] = static_cast<uint32_t>(i);
    pts_.resize(n * dim);
    for (size_t p = 0; p < n; ++p) std::copy_n(&coords[size_t{order_[p]} * dim], dim, &pts_[p * dim]);
  }

  size_t cells() const { return start_.empty() ? 0 : start_.size() - 1; }
  double cell_size() const { return cell_; }
  size_t bytes() const {
    return (cell_of_.capacity() + start_.capacity() + order_.capacity()) * sizeof(uint32_t) +
           pts_.capacity() * sizeof(value_t);
  }

  // f(p, q, d) for every point q of the cells adjacent to the cell of the point
  // at position p (positions in cell order; q != p), with d = distance.
  // Points of one cell share their candidate ranges: visit(c, g) calls g(p, f).
  template <class F>
  void for_candidates_of_cell(size_t c, F&& f) const {
    const uint32_t b = start_[c], e = start_[c + 1];
    if (b == e) return;
    uint32_t rb[9], re[9];
    const int ranges = adjacent_ranges(c, rb, re);
    for (uint32_t p = b; p < e; ++p) {
      const value_t* x = &pts_[size_t{p} * dim_];
      for (int r = 0; r < ranges; ++r)
        for (uint32_t q = rb[r]; q < re[r]; ++q) {
          if (q == p) continue;
          f(p, q, euclidean_distance(x, &pts_[size_t{q} * dim_], dim_));
        }
    }
  }

  // f(q, d) for every point q (a position) of the cells adjacent to the cell of
  // the point at position p, q != p.
  template <class F>
  void for_candidates_of_position(uint32_t p, F&& f) const {
    uint32_t rb[9], re[9];
    const int ranges = adjacent_ranges(cell_of_[order_[p]], rb, re);
    const value_t* x = at(p);
    for (int r = 0; r < ranges; ++r)
      for (uint32_t q = rb[r]; q < re[r]; ++q)
        if (q != p) f(q, euclidean_distance(x, at(q), dim_));
  }

  // The coordinates of the point at position p.
  const value_t* at(uint32_t p) const { return &pts_[size_t{p} * dim_]; }

  // Candidates per point (the points of the adjacent cells), averaged over the points.
  double mean_candidates() const {
    if (n_ == 0) return 0;
    double total = 0;
    uint32_t rb[9], re[9];
    for (size_t c = 0; c < cells(); ++c) {
      const uint32_t here = start_[c + 1] - start_[c];
      if (here == 0) continue;
      const int ranges = adjacent_ranges(c, rb, re);
      double around = 0;
      for (int r = 0; r < ranges; ++r) around += re[r] - rb[r];
      total += here * (around - 1);
    }
    return total / static_cast<double>(n_);
  }

  uint32_t point(uint32_t position) const { return order_[position]; }

 private:
  uint32_t cell_id(const value_t* x) const {
    size_t id = 0;
    for (int a = 0; a < axes_; ++a) {
      const double k = std::isfinite(cell_) ? std::floor((static_cast<double>(x[a]) - lo_[a]) / cell_) : 0;
      const int64_t c = std::min<int64_t>(count_[a] - 1, std::max<int64_t>(0, static_cast<int64_t>(k)));
      id = id * static_cast<size_t>(count_[a]) + static_cast<size_t>(c);
    }
    return static_cast<uint32_t>(id);
  }

  // The ranges of positions of the cells adjacent to cell c (on the last axis
  // the three cells are contiguous, so at most 9): [rb[i], re[i]); their count.
  int adjacent_ranges(size_t c, uint32_t* rb, uint32_t* re) const {
    int64_t coord[kMaxAxes] = {0, 0, 0};
    size_t rest = c;
    for (int a = axes_ - 1; a >= 0; --a) {
      coord[a] = static_cast<int64_t>(rest % static_cast<size_t>(count_[a]));
      rest /= static_cast<size_t>(count_[a]);
    }
    int ranges = 0;
    const int a_last = axes_ - 1;
    const int64_t lo_last = std::max<int64_t>(0, coord[a_last] - 1);
    const int64_t hi_last = std::min<int64_t>(count_[a_last] - 1, coord[a_last] + 1);
    auto add_range = [&](size_t prefix) {  // prefix: cell id with the last axis at 0
      rb[ranges] = start_[prefix + static_cast<size_t>(lo_last)];
      re[ranges] = start_[prefix + static_cast<size_t>(hi_last) + 1];
      if (rb[ranges] != re[ranges]) ++ranges;
    };
    if (axes_ == 1) {
      add_range(0);
    } else if (axes_ == 2) {
      for (int64_t x = std::max<int64_t>(0, coord[0] - 1); x <= std::min<int64_t>(count_[0] - 1, coord[0] + 1); ++x)
        add_range(static_cast<size_t>(x) * static_cast<size_t>(count_[1]));
    } else {
      for (int64_t x = std::max<int64_t>(0, coord[0] - 1); x <= std::min<int64_t>(count_[0] - 1, coord[0] + 1); ++x)
        for (int64_t y = std::max<int64_t>(0, coord[1] - 1); y <= std::min<int64_t>(count_[1] - 1, coord[1] + 1); ++y)
          add_range((static_cast<size_t>(x) * static_cast<size_t>(count_[1]) + static_cast<size_t>(y)) *
                    static_cast<size_t>(count_[2]));
    }
    return ranges;
  }

  size_t n_, dim_;
  int axes_ = 0;
  double lo_[kMaxAxes] = {0, 0, 0};
  int64_t count_[kMaxAxes] = {1, 1, 1};
  double cell_ = 0;
  std::vector<uint32_t> cell_of_, start_, order_;
  std::vector<value_t> pts_;
};

// Neighbour lists (d <= threshold, each sorted by vertex) of a point cloud from
// the grid. The vertices are renumbered in the grid's cell order, so that close
// points have close numbers and their lists lie close in memory (the later
// stages walk neighbour lists of neighbours; in input order those are cache
// misses on large clouds). A persistence diagram does not depend on the
// numbering: it only decides the order among simplices of equal diameter.
// poll() runs between pieces of work on the calling thread; progress(done,
// total) reports the cells handled over both passes; input_index, if given,
// receives the input index of every vertex.
template <class Poll = NoPoll, class Progress = NoProgress>
SparseDistances grid_neighbors(const std::vector<value_t>& coords, size_t n, size_t dim, value_t threshold,
                               Poll&& poll = {}, int threads = 1, Progress&& progress = {},
                               std::vector<uint32_t>* input_index = nullptr,
                               const std::function<void(uint64_t)>& charge = {}) {
  // charge(bytes): the memory held, before each large allocation (the memory guard)
  if (charge) charge(n * (3 * sizeof(uint32_t) + dim * sizeof(value_t) + 2 * sizeof(size_t)));
  PointGrid grid(coords, n, dim, threshold);
  if (input_index) {  // vertex -> index of the point in the input
    input_index->resize(n);
    for (size_t p = 0; p < n; ++p) (*input_index)[p] = grid.point(static_cast<uint32_t>(p));
  }
  const size_t cells = grid.cells();
  std::vector<size_t> offsets(n + 1, 0);
  WorkerGroup group(threads);
  std::atomic<size_t> cells_done{0};
  auto polled = [&] {
    poll();
    progress(cells_done.load(std::memory_order_relaxed), 2 * cells);
  };
  constexpr size_t kCellChunk = 256;
  // pass 1: degrees (offsets[v + 1] = degree of v)
  group.chunks(
      cells, kCellChunk,
      [&](size_t lo, size_t hi, int) {
        for (size_t c = lo; c < hi; ++c)
          grid.for_candidates_of_cell(c, [&](uint32_t p, uint32_t, value_t d) {
            if (d <= threshold) ++offsets[size_t{p} + 1];
          });
        cells_done.fetch_add(hi - lo, std::memory_order_relaxed);
      },
      polled);
  for (size_t v = 0; v < n; ++v) offsets[v + 1] += offsets[v];
  if (charge) charge(grid.bytes() + offsets.capacity() * sizeof(size_t) + offsets[n] * sizeof(Neighbor));
  std::vector<Neighbor> nb(offsets[n]);
  // pass 2: fill, then sort each list by vertex
  group.chunks(
      cells, kCellChunk,
      [&](size_t lo, size_t hi, int) {
        for (size_t c = lo; c < hi; ++c) {
          grid.for_candidates_of_cell(c, [&](uint32_t p, uint32_t q, value_t d) {
            if (d <= threshold) {
              // (offsets[p] counts up during the fill)
              nb[offsets[p]++] = Neighbor{q, d};
            }
          });
        }
        cells_done.fetch_add(hi - lo, std::memory_order_relaxed);
      },
      polled);
  // offsets[v] now holds the end of v's list, which is the start of v + 1's
  for (size_t v = n; v > 0; --v) offsets[v] = offsets[v - 1];
  offsets[0] = 0;
  // the candidate ranges come in increasing position order, so the lists are
  // sorted already (checked: a cheap pass)
  group.chunks(
      n, 4096,
      [&](size_t lo, size_t hi, int) {
        auto by_vertex = [](const Neighbor& a, const Neighbor& b) { return a.vertex < b.vertex; };
        for (size_t v = lo; v < hi; ++v) {
          auto b = nb.begin() + static_cast<std::ptrdiff_t>(offsets[v]);
          auto e = nb.begin() + static_cast<std::ptrdiff_t>(offsets[v + 1]);
          if (!std::is_sorted(b, e, by_vertex)) std::sort(b, e, by_vertex);
        }
      },
      poll);
  return SparseDistances::from_lists(std::move(offsets), std::move(nb));
}

}  // namespace tda::core
