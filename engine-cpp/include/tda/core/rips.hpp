// Vietoris-Rips persistent homology (barcodes identical to Ripser 1.2.1).
//
// Method (U. Bauer, "Ripser: efficient computation of Vietoris-Rips persistence
// barcodes", 2021): persistent cohomology with clearing, an implicit coboundary
// matrix over simplices coded in the combinatorial number system, dimension 0 by
// union-find, the enclosing-radius cutoff, zero-persistence apparent and emergent
// pairs, and a stored reduction matrix V (not R) with a binary-heap working column.
//
// Filtration order: diameter ascending, ties by simplex index descending.
//
// This header is the entry point (rips_from_points, rips_from_lower_distances)
// and includes the parts:
//   persistence.hpp   bars, stages, callbacks, limits (shared with Alpha)
//   rips_options.hpp  options, results, validation
//   complex.hpp       the implicit complex: cofacets over a distance storage
//   edges.hpp         the threshold and the edge list the reduction starts from
//   reducer.hpp       dimension 0, column assembly, serial and concurrent reduction
//   pivot_table.hpp   the lock-free pivot table of the concurrent reduction
//   estimate.hpp      memory and time estimates for admission
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "tda/core/binomial.hpp"
#include "tda/core/complex.hpp"
#include "tda/core/distances.hpp"
#include "tda/core/edges.hpp"
#include "tda/core/estimate.hpp"
#include "tda/core/parallel.hpp"
#include "tda/core/persistence.hpp"
#include "tda/core/reducer.hpp"
#include "tda/core/rips_options.hpp"
#include "tda/core/types.hpp"

namespace tda::core {
namespace detail {

template <class Dist>
void reduce_all(const Dist& d, std::vector<Simplex> edges, size_t n, const RipsOptions& opt, value_t thr,
                const Callbacks& cb, RipsResult& out) {
  const int threads = resolve_threads(opt.threads);
  const int top = static_cast<int>(std::min<size_t>(opt.max_dim, n >= 2 ? n - 2 : 0));
  BinomialTable B(static_cast<index_t>(n), top + 2);
  if (n < 2 || top < 0) {
    out.diagrams[0].push_back(Interval{0.0, std::numeric_limits<double>::infinity()});
    out.betti[0] = 1;
    return;
  }
  if (opt.modulus == 2) Reducer<Dist, true>(d, B, thr, top, 2, cb, out, threads, opt.column_split).run(std::move(edges));
  else Reducer<Dist, false>(d, B, thr, top, opt.modulus, cb, out, threads, opt.column_split).run(std::move(edges));
}


inline void report(const Callbacks& cb, Stage s, uint64_t bytes) {
  if (cb.on_progress) cb.on_progress(ProgressInfo{s, 0, 0, 0, bytes});
}

}  // namespace detail

// Point cloud: n*dim float coordinates, row-major.
inline RipsResult rips_from_points(const std::vector<value_t>& coords, size_t n, size_t dim, const RipsOptions& opt,
                                   const Callbacks& cb = {}) {
  detail::validate_options(n, opt);
  if (dim == 0) throw InvalidInput("point dimension must be at least 1");
  if (coords.size() != n * dim) throw InvalidInput("coordinate count does not match n * dim");
  detail::validate_values(coords, false, "coordinates");
  auto poll = [&] { check_cancel(cb); };
  poll();
  detail::report(cb, Stage::Distances, coords.size() * sizeof(value_t));
  const int threads = resolve_threads(opt.threads);
  const value_t radius = enclosing_radius_points(coords, n, dim, poll, threads);
  const value_t thr = detail::choose_threshold(opt, radius);
  RipsResult out = detail::make_result(n, opt, thr);
  if (!opt.threshold && n <= kDenseMaxPoints) {
    DenseDistances d(coords, n, dim, poll, threads);
    detail::report(cb, Stage::Distances, d.bytes());
    detail::reduce_all(d, detail::dense_edges(d, thr), n, opt, thr, cb, out);
  } else {
    SparseDistances d = SparseDistances::from_points(coords, n, dim, thr, poll, threads);
    detail::report(cb, Stage::Distances, d.bytes());
    detail::reduce_all(d, detail::sparse_edges(d), n, opt, thr, cb, out);
  }
  if (cb.on_progress) cb.on_progress(ProgressInfo{Stage::Done, opt.max_dim, 0, 0, 0});
  return out;
}

// Strict lower triangle row by row: d(1,0), d(2,0), d(2,1), d(3,0), ...
inline RipsResult rips_from_lower_distances(std::vector<value_t> lower, size_t n, const RipsOptions& opt,
                                            const Callbacks& cb = {}) {
  detail::validate_options(n, opt);
  if (lower.size() != n * (n - 1) / 2) throw InvalidInput("distance count does not match n(n-1)/2");
  detail::validate_values(lower, true, "distances");
  check_cancel(cb);
  const value_t radius = enclosing_radius_lower(lower, n);
  const value_t thr = detail::choose_threshold(opt, radius);
  RipsResult out = detail::make_result(n, opt, thr);
  check_cancel(cb);
  if (!opt.threshold && n <= kDenseMaxPoints) {
    DenseDistances d(lower, n, Workers{resolve_threads(opt.threads)});
    std::vector<value_t>().swap(lower);
    detail::report(cb, Stage::Distances, d.bytes());
    detail::reduce_all(d, detail::dense_edges(d, thr), n, opt, thr, cb, out);
  } else {
    SparseDistances d = SparseDistances::from_lower(lower, n, thr);
    std::vector<value_t>().swap(lower);
    detail::report(cb, Stage::Distances, d.bytes());
    detail::reduce_all(d, detail::sparse_edges(d), n, opt, thr, cb, out);
  }
  if (cb.on_progress) cb.on_progress(ProgressInfo{Stage::Done, opt.max_dim, 0, 0, 0});
  return out;
}

}  // namespace tda::core
