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
#include <chrono>
#include <ctime>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "tda/core/binomial.hpp"
#include "tda/core/collapse.hpp"
#include "tda/core/complex.hpp"
#include "tda/core/distances.hpp"
#include "tda/core/edges.hpp"
#include "tda/core/estimate.hpp"
#include "tda/core/grid.hpp"
#include "tda/core/parallel.hpp"
#include "tda/core/persistence.hpp"
#include "tda/core/reducer.hpp"
#include "tda/core/rips_options.hpp"
#include "tda/core/sparse_rips.hpp"
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
  if (opt.modulus == 2)
    Reducer<Dist, true>(d, B, thr, top, 2, cb, out, threads, opt.column_split).run(std::move(edges));
  else Reducer<Dist, false>(d, B, thr, top, opt.modulus, cb, out, threads, opt.column_split).run(std::move(edges));
}

inline void report(const Callbacks& cb, Stage s, uint64_t bytes) {
  if (cb.on_progress) cb.on_progress(ProgressInfo{s, 0, 0, 0, reported_bytes(cb, bytes)});
}

// Wall and process CPU time of a stage.
struct StageClock {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  double cpu = process_cpu_seconds();
  static double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
  void stop(double& wall_s, double& cpu_s) const {
    wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
    cpu_s = process_cpu_seconds() - cpu;
  }
};

// Whether the edge collapse runs (Collapse::Auto: the measured rule of
// collapse_pays, collapse.hpp).
inline bool use_collapse(const RipsOptions& opt, size_t n, size_t edges) {
  if (opt.collapse == Collapse::On) return true;
  if (opt.collapse == Collapse::Off) return false;
  return collapse_pays(n, edges, opt.max_dim);
}

// Neighbour lists d and their edges: collapsed or not, then reduced.
inline void reduce_sparse(SparseDistances& d, std::vector<Simplex> edges, size_t n, const RipsOptions& opt, value_t thr,
                          const Callbacks& cb, RipsResult& out) {
  const uint64_t below = edges.size();
  if (use_collapse(opt, n, edges.size())) {
    const StageClock t0;
    CollapseStats cs;
    const uint64_t edge_bytes = edges.capacity() * sizeof(Simplex);
    edges = collapse_edges(
        d, std::move(edges), resolve_threads(opt.threads), cs, [&] { check_cancel(cb); },
        [&](uint64_t done, uint64_t total) {
          if (cb.on_progress)
            cb.on_progress(ProgressInfo{Stage::Collapse, 1, done, total, reported_bytes(cb, d.bytes())});
        },
        opt.collapse == Collapse::Auto, [&](uint64_t extra) { charge(cb, MemoryBudget::kEdges, edge_bytes + extra); });
    charge(cb, MemoryBudget::kDistances, d.bytes());
    charge(cb, MemoryBudget::kEdges, edges.capacity() * sizeof(Simplex));
    out.stats.collapse_stopped_early = cs.stopped_early;
    out.stats.collapsed = true;
    out.stats.edges_after_collapse = cs.edges_after;
    out.stats.edges_delayed = cs.edges_delayed;
    out.stats.probe_edges = cs.probe_edges;
    out.stats.probe_removed = cs.probe_removed;
    out.stats.probe_delayed = cs.probe_delayed;
    out.stats.collapse_blocks = cs.blocks;
    t0.stop(out.stats.seconds_collapse, out.stats.cpu_seconds_collapse);
  }
  const StageClock t1;
  reduce_all(d, std::move(edges), n, opt, thr, cb, out);
  out.stats.edges = below;  // (the reducer counted the edges it got)
  t1.stop(out.stats.seconds_reduction, out.stats.cpu_seconds_reduction);
}

// The sparse Rips filtration (opt.sparse set): greedy permutation, the sparse
// graph with its vertex deaths, then the same reducer (no edge collapse: it
// applies to flag filtrations). No enclosing-radius cutoff: past it the sparse
// complex need not be a cone.
template <class Permute, class Build>
RipsResult rips_sparse(size_t n, const RipsOptions& opt, const Callbacks& cb, Permute&& permute, Build&& build) {
  const StageClock t0;
  const value_t thr = opt.threshold ? float_threshold(*opt.threshold) : std::numeric_limits<value_t>::infinity();
  RipsResult out = make_result(n, opt, thr);
  out.stats.sparse_epsilon = *opt.sparse;
  report(cb, Stage::Distances, 0);
  const GreedyPermutation g = permute();
  out.stats.seconds_permutation = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0.wall).count();
  SparseGraph sg = build(g, static_cast<double>(thr));
  report(cb, Stage::Distances, sg.lists.bytes());
  t0.stop(out.stats.seconds_edges, out.stats.cpu_seconds_edges);
  const StageClock t1;
  const uint64_t edges = sg.edges.size();
  reduce_all(sg.lists, std::move(sg.edges), n, opt, thr, cb, out);
  out.stats.edges = edges;
  t1.stop(out.stats.seconds_reduction, out.stats.cpu_seconds_reduction);
  if (cb.on_progress) cb.on_progress(ProgressInfo{Stage::Done, opt.max_dim, 0, 0, 0});
  return out;
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
  charge(cb, MemoryBudget::kInput, coords.size() * sizeof(value_t));
  if (opt.sparse) {
    // the Distances stage: the permutation is its first half, the edges the second
    auto half = [&](uint64_t first) {
      return [&cb, first, n](uint64_t done, uint64_t) {
        if (cb.on_progress)
          cb.on_progress(ProgressInfo{Stage::Distances, 0, first + done, 2 * uint64_t{n}, reported_bytes(cb, 0)});
      };
    };
    return detail::rips_sparse(
        n, opt, cb, [&] { return greedy_permutation_points(coords, n, dim, poll, half(0)); },
        [&](const GreedyPermutation& g, double thr) {
          return sparse_rips_graph_points(coords, n, dim, g, *opt.sparse, thr, poll, half(n));
        });
  }
  detail::report(cb, Stage::Distances, coords.size() * sizeof(value_t));
  const int threads = resolve_threads(opt.threads);
  const detail::StageClock t0;
  const value_t thr = detail::points_cutoff(opt, coords, n, dim, poll, threads);
  RipsResult out = detail::make_result(n, opt, thr);
  const bool may_collapse =
      opt.collapse == Collapse::On || (opt.collapse == Collapse::Auto && detail::collapse_pays(n, 0, opt.max_dim));
  auto charge_edges = [&](uint64_t bytes) { charge(cb, MemoryBudget::kEdges, bytes); };
  if (!opt.threshold && n <= kDenseMaxPoints && !may_collapse) {
    charge(cb, MemoryBudget::kDistances, uint64_t{n} * n * sizeof(value_t));  // (before allocating it)
    DenseDistances d(coords, n, dim, poll, threads);
    detail::report(cb, Stage::Distances, d.bytes());
    auto edges = detail::dense_edges(d, thr, charge_edges);
    t0.stop(out.stats.seconds_edges, out.stats.cpu_seconds_edges);
    const detail::StageClock t1;
    detail::reduce_all(d, std::move(edges), n, opt, thr, cb, out);
    t1.stop(out.stats.seconds_reduction, out.stats.cpu_seconds_reduction);
  } else {
    SparseDistances d = grid_neighbors(
        coords, n, dim, thr, poll, threads,
        [&](uint64_t done, uint64_t total) {
          if (cb.on_progress) cb.on_progress(ProgressInfo{Stage::Distances, 0, done, total, reported_bytes(cb, 0)});
        },
        nullptr, [&](uint64_t bytes) { charge(cb, MemoryBudget::kDistances, bytes); });
    charge(cb, MemoryBudget::kDistances, d.bytes());
    detail::report(cb, Stage::Distances, d.bytes());
    charge_edges(d.edge_count() * sizeof(detail::Simplex));
    auto edges = detail::sparse_edges(d);
    t0.stop(out.stats.seconds_edges, out.stats.cpu_seconds_edges);
    detail::reduce_sparse(d, std::move(edges), n, opt, thr, cb, out);
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
  charge(cb, MemoryBudget::kInput, lower.capacity() * sizeof(value_t));
  if (opt.sparse) {
    auto poll = [&] { check_cancel(cb); };
    return detail::rips_sparse(
        n, opt, cb, [&] { return greedy_permutation_lower(lower, n, poll); },
        [&](const GreedyPermutation& g, double thr) {
          return sparse_rips_graph_lower(lower, n, g, *opt.sparse, thr, poll);
        });
  }
  const detail::StageClock t0;
  const value_t radius = enclosing_radius_lower(lower, n);
  const value_t thr = detail::choose_threshold(opt, radius);
  RipsResult out = detail::make_result(n, opt, thr);
  check_cancel(cb);
  // (the collapse needs the edges below the threshold: the dense matrix is
  // replaced by neighbour lists when it may run)
  const bool may_collapse =
      opt.collapse == Collapse::On || (opt.collapse == Collapse::Auto && detail::collapse_pays(n, 0, opt.max_dim));
  auto charge_edges = [&](uint64_t bytes) { charge(cb, MemoryBudget::kEdges, bytes); };
  if (!opt.threshold && n <= kDenseMaxPoints && !may_collapse) {
    charge(cb, MemoryBudget::kDistances, uint64_t{n} * n * sizeof(value_t));  // (before allocating it)
    DenseDistances d(lower, n, Workers{resolve_threads(opt.threads)});
    std::vector<value_t>().swap(lower);
    charge(cb, MemoryBudget::kInput, 0);
    detail::report(cb, Stage::Distances, d.bytes());
    auto edges = detail::dense_edges(d, thr, charge_edges);
    t0.stop(out.stats.seconds_edges, out.stats.cpu_seconds_edges);
    const detail::StageClock t1;
    detail::reduce_all(d, std::move(edges), n, opt, thr, cb, out);
    t1.stop(out.stats.seconds_reduction, out.stats.cpu_seconds_reduction);
  } else {
    if (cb.memory) {  // the lists, built per vertex then flattened: about twice their size at the peak
      uint64_t below = 0;
      for (value_t x : lower) below += x <= thr;
      charge(cb, MemoryBudget::kDistances, 4 * below * sizeof(Neighbor) + n * (sizeof(std::vector<Neighbor>) + 8));
    }
    SparseDistances d = SparseDistances::from_lower(lower, n, thr);
    std::vector<value_t>().swap(lower);
    charge(cb, MemoryBudget::kInput, 0);
    charge(cb, MemoryBudget::kDistances, d.bytes());
    detail::report(cb, Stage::Distances, d.bytes());
    charge_edges(d.edge_count() * sizeof(detail::Simplex));
    auto edges = detail::sparse_edges(d);
    t0.stop(out.stats.seconds_edges, out.stats.cpu_seconds_edges);
    detail::reduce_sparse(d, std::move(edges), n, opt, thr, cb, out);
  }
  if (cb.on_progress) cb.on_progress(ProgressInfo{Stage::Done, opt.max_dim, 0, 0, 0});
  return out;
}

}  // namespace tda::core
