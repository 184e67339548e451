// The collapse's share of the data-following estimate.
//
// When the edge collapse runs, the reduction sees the flag complex of the
// collapsed graph, not of the edges below the cutoff: on the benchmark inputs
// it keeps 20-65 % of the edges and far fewer higher simplices (random16, H7:
// 62.9 MB resident without the collapse, 4.5 MB with it; o3_4096, H3: 27.5 MB
// against an estimate of 122 MB made from the uncollapsed counts). The figure
// follows it here: the collapse is run as the job would run it (same cutoff,
// same rule, one thread) and the simplices are counted on the graph it leaves,
// so the estimate stays an estimate of this job and not of a job without the
// collapse.
//
// It costs what the collapse costs (up to seconds on the largest clouds), so it
// is bounded: at most kCollapseEstimateEdges edges (the graph it builds) and
// kCollapseEstimateCpuSeconds of CPU; beyond either the profile without the
// collapse stands (an over-estimate, never an under-estimate of that kind).
#pragma once

#include <optional>
#include <vector>

#include "tda/core/collapse.hpp"
#include "tda/core/distances.hpp"
#include "tda/core/edges.hpp"
#include "tda/core/estimate.hpp"
#include "tda/core/grid.hpp"
#include "tda/core/rips_options.hpp"
#include "tda/core/thread_cpu.hpp"

namespace tda::core {

inline constexpr double kCollapseEstimateEdges = 4e6;
inline constexpr double kCollapseEstimateCpuSeconds = 2.0;

namespace collapse_estimate_detail {

struct OutOfTime {};

// Whether the job (collapse mode `mode`) collapses the edges of profile p and
// the estimate follows it: from H2 on. An H1 job may collapse too (from
// kCollapseMinEdgesH1 edges), but its memory is the edge list and the lists,
// built before the collapse, and its dimension-1 columns, which the collapse
// only shrinks: the uncollapsed profile stands (1.89x the peak on the 1M-point
// cube of bench/large_cloud_bench.py, through bench/admission_mesh.js).
inline bool job_collapses(const ComplexProfile& p, int max_dim, std::optional<double> threshold, Collapse mode) {
  if (mode == Collapse::Off || max_dim < 2 || p.n < 2) return false;
  // the dense path (no threshold, few points, the collapse ruled out from n alone) never collapses
  const bool may = mode == Collapse::On || detail::collapse_pays(p.n, 0, max_dim);
  if (!threshold && p.n <= kDenseMaxPoints && !may) return false;
  return mode == Collapse::On || detail::collapse_pays(p.n, static_cast<size_t>(p.edges), max_dim);
}

// The profile of the collapsed graph g (its values all below p.cutoff): edges
// and simplices counted on it, the edges below the cutoff kept from p.
inline ComplexProfile profile_of_graph(const SparseDistances& g, const ComplexProfile& p, int max_dim) {
  const size_t n = g.size();
  double vertex_cost = 0;  // list lengths: what gathering the neighbours costs
  for (size_t v = 0; v < n; ++v) vertex_cost += static_cast<double>(g.end(v) - g.begin(v));
  vertex_cost = std::max(1.0, vertex_cost / static_cast<double>(std::max<size_t>(n, 1)));
  ComplexProfile q = estimate_detail::profile_with(
      n, p.cutoff, max_dim, vertex_cost, [&](size_t i, size_t j) { return g(i, j); },
      [&](size_t v, estimate_detail::Rng& rng, std::vector<uint32_t>& nb) {
        nb.clear();
        uint64_t deg = 0;
        for (const Neighbor* a = g.begin(v); a != g.end(v); ++a) {
          ++deg;
          if (nb.size() < estimate_detail::kKeep) nb.push_back(a->vertex);
          else {
            const uint64_t r = rng.next() % deg;
            if (r < estimate_detail::kKeep) nb[r] = a->vertex;
          }
        }
        return deg;
      });
  q.collapsed_edges = q.edges;
  q.edges = p.edges;  // the lists and the edge list are built before the collapse
  q.exact_edges = p.exact_edges;
  q.scanned_pairs = p.scanned_pairs;
  q.collapse_measured = true;
  return q;
}

// Collapses the graph as the job would (Auto: with its probe) and profiles what
// is left; nullopt when the job does not collapse or the bounds are passed.
inline std::optional<ComplexProfile> collapse_and_profile(SparseDistances g, const ComplexProfile& p, int max_dim,
                                                          Collapse mode, double cpu_deadline) {
  auto poll = [&] {
    if (thread_cpu_seconds() > cpu_deadline) throw OutOfTime{};
  };
  const double started = thread_cpu_seconds();
  try {
    CollapseStats cs;
    std::vector<detail::Simplex> edges = detail::sparse_edges(g);
    poll();
    collapse_edges(
        g, std::move(edges), 1, cs, poll, [](uint64_t, uint64_t) {}, mode == Collapse::Auto);
    poll();
    ComplexProfile q = profile_of_graph(g, p, max_dim);
    q.collapse_stopped_early = cs.stopped_early;
    q.collapse_cpu_seconds = thread_cpu_seconds() - started;
    return q;
  } catch (const OutOfTime&) {
    return std::nullopt;
  }
}

}  // namespace collapse_estimate_detail

// The profile p (profile_points) after the job's collapse; nullopt: no collapse,
// or over the bounds (the caller keeps p).
inline std::optional<ComplexProfile> collapsed_profile_points(const std::vector<value_t>& coords, size_t n, size_t dim,
                                                              int max_dim, std::optional<double> threshold,
                                                              const ComplexProfile& p, Collapse mode = Collapse::Auto) {
  using namespace collapse_estimate_detail;
  if (!job_collapses(p, max_dim, threshold, mode) || p.edges > kCollapseEstimateEdges) return std::nullopt;
  const double deadline = thread_cpu_seconds() + kCollapseEstimateCpuSeconds;
  auto poll = [&] {
    if (thread_cpu_seconds() > deadline) throw OutOfTime{};
  };
  try {
    SparseDistances g = grid_neighbors(coords, n, dim, static_cast<value_t>(p.cutoff), poll, 1);
    if (static_cast<double>(g.edge_count()) > kCollapseEstimateEdges) return std::nullopt;  // (a sampled count was low)
    return collapse_and_profile(std::move(g), p, max_dim, mode, deadline);
  } catch (const OutOfTime&) {
    return std::nullopt;
  }
}

// The same for a strict lower triangle (profile_lower).
inline std::optional<ComplexProfile> collapsed_profile_lower(const std::vector<value_t>& lower, size_t n, int max_dim,
                                                             std::optional<double> threshold, const ComplexProfile& p,
                                                             Collapse mode = Collapse::Auto) {
  using namespace collapse_estimate_detail;
  if (!job_collapses(p, max_dim, threshold, mode) || p.edges > kCollapseEstimateEdges) return std::nullopt;
  const double deadline = thread_cpu_seconds() + kCollapseEstimateCpuSeconds;
  return collapse_and_profile(SparseDistances::from_lower(lower, n, static_cast<value_t>(p.cutoff)), p, max_dim, mode,
                              deadline);
}

}  // namespace tda::core
