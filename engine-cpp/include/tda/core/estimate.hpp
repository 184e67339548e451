// Resource estimates of a Vietoris-Rips computation, for admission control.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "tda/core/collapse.hpp"
#include "tda/core/distances.hpp"
#include "tda/core/edges.hpp"
#include "tda/core/grid.hpp"

#include "tda/core/persistence.hpp"
#include "tda/core/rips_options.hpp"

namespace tda::core {

// Cost model for admission control, calibrated against the measured peak RSS
// (/usr/bin/time %M) and CPU time of the CLI on random clouds (R^3, n = 500..2000,
// H2) and the benchmark inputs; meant to be an upper-ish estimate.
//  - edges: a fraction q of all pairs lies below the cutoff. Without a threshold
//    the cutoff is the enclosing radius, below which typically 70-85% of the pairs
//    lie (q = 0.8); with a threshold the scale is unknown before the data is seen
//    (q = 0.25 unless the caller measured it: edge_fraction, e.g. from a sample).
//  - storage: input, the dense matrix (plus the lower triangle the CLI builds) or
//    neighbour lists, the edge list, the dimension-1 columns and their pivot map.
//  - dimension k >= 2: S_k ~ C(n, k+1) q^k simplices below the cutoff; the list
//    of all of them is kept for k < max_dim (16 bytes each), and a fraction of the
//    top dimension's survive apparent pairs and clearing as columns.
//  - time: about 70 ns per simplex below the cutoff, plus the distances.
inline Estimate estimate_rips(uint64_t n, uint32_t dim, bool is_distance_matrix, int max_dim,
                              std::optional<double> threshold, double edge_fraction = -1) {
  const double nn = static_cast<double>(n);
  const double pairs = nn * (nn - 1) / 2;
  const double q = edge_fraction >= 0 ? std::min(1.0, edge_fraction) : threshold ? 0.25 : 0.8;
  const double edges = q * pairs;
  const bool dense = !threshold && n <= kDenseMaxPoints;
  double mem = 16.0 * (1 << 20);                           // process, libraries, result
  mem += is_distance_matrix ? pairs * 4 : nn * dim * 4.0;  // input
  if (dense) mem += nn * nn * 4 + (is_distance_matrix ? 0 : pairs * 4);
  else mem += edges * 24;  // lists (both ways) + transposition
  // reductions get harder with the intrinsic dimension (unknown for a matrix)
  const double eff_dim = is_distance_matrix ? 8 : std::min<double>(dim, 16);
  if (max_dim >= 1) {
    mem += edges * 16;                  // edge list (kept as dimension-1 simplices)
    mem += edges * (24 + 4 * eff_dim);  // dimension-1 columns, pivot map, V
  }
  double work = pairs * (is_distance_matrix ? 1 : std::max<uint32_t>(dim, 1)) * 2e-9 + edges * 5e-7;
  double simplices = edges;  // S_1
  double extra = 0;
  for (int k = 2; k <= max_dim && k < static_cast<int>(n); ++k) {
    simplices *= (nn - k) / (k + 1) * q;  // S_k = S_{k-1} (n - k) / (k + 1) q
    const double columns = simplices * (k == 2 ? 0.004 : is_distance_matrix ? 0.045 : 0.01);
    double here = columns * 16 * 3;  // columns, pivot map, V and working columns
    if (k < max_dim) here += simplices * 16;
    extra = std::max(extra, here + (k >= 3 ? simplices / ((nn - k + 1) / k * q) * 16 : 0));
    work += simplices * 7e-8;
  }
  mem += extra;
  return Estimate{static_cast<uint64_t>(std::min(mem, 1.8e19)), work};
}

// ---------------------------------------------------------------------------
// Data-following estimate (admission once the input is there).
//
// The figures above guess the complex from n alone; the complex is set by the
// data. These measure it, in time far below the computation's:
//  - the cutoff is the engine's: the threshold clamped to the enclosing radius
//    (Ripser's rule, same for a distance matrix);
//  - the edges below it are counted exactly while that costs at most
//    kEstimateBudget distance evaluations, else from the degrees of a fixed
//    sample of vertices (each against all n points);
//  - the k-simplices from the measured graph: S_k = sum_v C(deg v, k) p_k(v) / (k+1),
//    where p_k(v), the chance that k neighbours of v are pairwise within the
//    cutoff, is measured on random k-subsets of v's neighbours;
//  - memory: input, the dense matrix or neighbour lists (+ the grid), the edge
//    list, the collapse when it runs (collapse_pays), the dimension-1 columns, and
//    per dimension k >= 2 the (k-1)-simplices it enumerates cofacets of, the list
//    of k-simplices kept for the next dimension, and the columns that survive
//    apparent pairs and clearing;
//  - the fill-in: the working columns and V of dimensions >= 2, which grow with
//    how hard the reduction is (data and field), not with the counts above. The
//    caller measures it by pilot reductions on subsamples (fill_in.hpp) and it is
//    added to the largest stage (the stage's columns term covers the columns
//    themselves, the pilots what reducing them adds).
// The sampling is seeded: the same input gives the same figure (the Estimate
// RPC and Compute's admission agree; the pilots too, unless one hits its CPU-time
// cap, which only the largest jobs' pilots do).
// ---------------------------------------------------------------------------

// What Rips needs before the complex is known: the process and the input.
inline Estimate estimate_rips_input(uint64_t n, uint32_t dim, bool is_distance_matrix, uint64_t input_bytes) {
  const double nn = static_cast<double>(n);
  const double values = is_distance_matrix ? nn * (nn - 1) / 2 : nn * dim;
  const double mem = 16.0 * (1 << 20) + std::max(static_cast<double>(input_bytes), values * 4) + nn * 16;
  return Estimate{static_cast<uint64_t>(std::min(mem, 1.8e19)), values * 2e-9};
}

// Distance evaluations (times the dimension) the measurement may spend: about
// 0.1 s on one core.
inline constexpr double kEstimateBudget = 1e8;

// What the measurement found.
struct ComplexProfile {
  uint64_t n = 0;
  double cutoff = 0;              // threshold used (clamped to the enclosing radius)
  double edges = 0;               // pairs with distance <= cutoff
  std::vector<double> simplices;  // index k: k-simplices below the cutoff (k = 0..max_dim + 1)
  bool exact_edges = false;
  uint32_t sampled_vertices = 0;
  // distance evaluations of the sparse edge build, as pairs: n times the grid's
  // mean candidates per point (0: unknown, all pairs)
  double scanned_pairs = 0;
  // measured after the job's edge collapse (collapse_estimate.hpp): simplices[k]
  // count the collapsed graph's cliques, `edges` stays the count below the cutoff
  bool collapse_measured = false;
  bool collapse_stopped_early = false;  // (Auto: the collapse stopped after its probe)
  double collapsed_edges = 0;           // edges the reduction gets
  double collapse_cpu_seconds = 0;      // what the collapse cost when measured (the job pays it too)
};

namespace estimate_detail {

struct Rng {
  uint64_t s;
  uint64_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return s >> 17;
  }
  size_t below(size_t m) { return static_cast<size_t>(next() % m); }
};

inline double choose(double m, int k) {
  if (k < 0 || m < k) return 0;
  double c = 1;
  for (int i = 0; i < k; ++i) c = c * (m - i) / (i + 1);
  return c;
}

constexpr size_t kKeep = 4096;  // neighbours kept per vertex (a uniform sample of them)
constexpr int kTrials = 192;    // k-subsets tried per vertex and dimension

// Keeps neighbour j, the deg-th found, in the sample nb (reservoir sampling).
inline void keep_neighbour(uint32_t j, uint64_t deg, Rng& rng, std::vector<uint32_t>& nb) {
  if (nb.size() < kKeep) nb.push_back(j);
  else {
    const uint64_t r = rng.next() % deg;
    if (r < kKeep) nb[r] = j;
  }
}

// The neighbours of v within c into nb (at most kKeep of them, a uniform sample
// by reservoir sampling); returns v's degree.
template <class Dist>
uint64_t neighbours_within(size_t v, size_t n, value_t c, Dist& dist, Rng& rng, std::vector<uint32_t>& nb) {
  nb.clear();
  uint64_t deg = 0;
  for (size_t j = 0; j < n; ++j)
    if (j != v && dist(v, j) <= c) keep_neighbour(static_cast<uint32_t>(j), ++deg, rng, nb);
  return deg;
}

// The same for the point at position p of a grid built with a threshold >= c:
// only the points of the adjacent cells are compared (the grid's candidates hold
// every point within its threshold, so the set is the scan's). Vertices are grid
// positions.
inline uint64_t grid_neighbours_within(const PointGrid& g, uint32_t p, value_t c, Rng& rng, std::vector<uint32_t>& nb) {
  nb.clear();
  uint64_t deg = 0;
  g.for_candidates_of_position(p, [&](uint32_t q, value_t d) {
    if (d <= c) keep_neighbour(q, ++deg, rng, nb);
  });
  return deg;
}

// Whether the k neighbours nb[pick[0..k)] are pairwise within c.
template <class Dist>
bool pairwise_within(const std::vector<uint32_t>& nb, const std::vector<size_t>& pick, int k, value_t c, Dist& dist) {
  bool ok = true;
  for (int a = 0; a < k && ok; ++a)
    for (int b = a + 1; b < k && ok; ++b) ok = dist(nb[pick[a]], nb[pick[b]]) <= c;
  return ok;
}

// Every k-subset of nb (few): how many are pairwise within c; *trials = their number.
template <class Dist>
int enumerate_cliques(const std::vector<uint32_t>& nb, int k, value_t c, Dist& dist, std::vector<size_t>& pick,
                      int* trials) {
  int hits = 0;
  pick.assign(static_cast<size_t>(k), 0);
  for (int i = 0; i < k; ++i) pick[i] = static_cast<size_t>(i);
  while (true) {
    hits += pairwise_within(nb, pick, k, c, dist);
    ++*trials;
    int i = k - 1;
    while (i >= 0 && pick[i] == nb.size() - static_cast<size_t>(k - i)) --i;
    if (i < 0) break;
    ++pick[i];
    for (int j = i + 1; j < k; ++j) pick[j] = pick[j - 1] + 1;
  }
  return hits;
}

// kTrials random k-subsets of nb (k distinct neighbours each): how many are
// pairwise within c.
template <class Dist>
int sample_cliques(const std::vector<uint32_t>& nb, int k, value_t c, Dist& dist, Rng& rng, std::vector<size_t>& pick) {
  int hits = 0;
  pick.resize(static_cast<size_t>(k));
  for (int trials = 0; trials < kTrials; ++trials) {
    for (int a = 0; a < k; ++a) {  // k distinct neighbours
      bool again;
      do {
        pick[a] = rng.below(nb.size());
        again = false;
        for (int b = 0; b < a; ++b) again = again || pick[b] == pick[a];
      } while (again);
    }
    hits += pairwise_within(nb, pick, k, c, dist);
  }
  return hits;
}

// Cliques through a vertex of degree deg (neighbours nb, all or a sample): for
// k = 2..top, deg_sum[k] += the estimated number of k-subsets of its neighbours
// pairwise within c.
template <class Dist>
void cliques_through(uint64_t deg, const std::vector<uint32_t>& nb, int top, value_t c, Dist& dist, Rng& rng,
                     std::vector<size_t>& pick, std::vector<double>& deg_sum) {
  for (int k = 2; k <= top; ++k) {
    const double subsets = choose(static_cast<double>(deg), k);
    if (subsets <= 0) break;
    int hits = 0, trials = 0;
    const bool enumerate = subsets <= kTrials && nb.size() == deg;
    if (enumerate) hits = enumerate_cliques(nb, k, c, dist, pick, &trials);  // few: all of them
    else {
      hits = sample_cliques(nb, k, c, dist, rng, pick);
      trials = kTrials;
    }
    const double frac = enumerate ? static_cast<double>(hits) / trials
                                  : (hits + 0.5) / (trials + 1.0);  // never a flat zero from a finite sample
    deg_sum[k] += subsets * frac;
    if (hits == 0 && enumerate) break;  // no k-clique through v: none larger
  }
}

// The profile of the flag complex at `cutoff`: dist(i, j) for i != j;
// neighbours(v, rng, nb) fills nb with v's neighbours within the cutoff (at most
// kKeep, a uniform sample) and returns v's degree, at a cost of about
// vertex_cost distance evaluations.
template <class Dist, class Neighbours>
ComplexProfile profile_with(size_t n, double cutoff, int max_dim, double vertex_cost, Dist&& dist,
                            Neighbours&& neighbours) {
  ComplexProfile p;
  p.n = n;
  p.cutoff = cutoff;
  const int top = std::min<int>(max_dim, static_cast<int>(n) - 1);
  p.simplices.assign(static_cast<size_t>(std::max(top, 1)) + 1, 0.0);
  p.simplices[0] = static_cast<double>(n);
  if (n < 2) return p;
  const double nn = static_cast<double>(n);
  const double pairs = nn * (nn - 1) / 2;
  const value_t c = static_cast<value_t>(cutoff);
  // vertices whose neighbourhoods are measured: all of them when affordable (a
  // scan of all pairs: half of n scans)
  const bool all = nn * vertex_cost / 2 <= kEstimateBudget;
  const size_t s =
      all ? n : std::max<size_t>(64, std::min<size_t>(n, static_cast<size_t>(kEstimateBudget / vertex_cost)));
  p.sampled_vertices = static_cast<uint32_t>(s);
  p.exact_edges = all;
  Rng rng{0x9E3779B97F4A7C15ull};
  std::vector<uint32_t> nb;
  std::vector<double> deg_sum(p.simplices.size(), 0.0);
  std::vector<size_t> pick;
  double degree_total = 0;
  for (size_t t = 0; t < s; ++t) {
    const size_t v = all ? t : rng.below(n);
    const uint64_t deg = neighbours(v, rng, nb);
    degree_total += static_cast<double>(deg);
    cliques_through(deg, nb, top, c, dist, rng, pick, deg_sum);  // k other vertices, pairwise within the cutoff
  }
  const double scale = nn / static_cast<double>(s);
  p.edges = std::min(pairs, degree_total * scale / 2);
  p.simplices[1] = p.edges;
  for (int k = 2; k <= top; ++k) p.simplices[k] = std::min(choose(nn, k + 1), deg_sum[k] * scale / (k + 1));
  return p;
}

// The profile from distances alone: every neighbourhood is a scan of all n points.
template <class Dist>
ComplexProfile profile(size_t n, double cutoff, int max_dim, double pair_cost, Dist&& dist) {
  const value_t c = static_cast<value_t>(cutoff);
  return profile_with(
      n, cutoff, max_dim, static_cast<double>(n) * pair_cost, dist,
      [&](size_t v, Rng& rng, std::vector<uint32_t>& nb) { return neighbours_within(v, n, c, dist, rng, nb); });
}

}  // namespace estimate_detail

// Memory and time of a Rips computation on a measured complex.
// fill_in_bytes: the peak of the working columns and V, measured by pilots and
// extrapolated (fill_in.hpp; 0: not measured).
inline Estimate estimate_rips_profile(const ComplexProfile& p, uint32_t dim, bool is_distance_matrix, int max_dim,
                                      bool has_threshold, double fill_in_bytes = 0) {
  const double nn = static_cast<double>(p.n);
  const double pairs = nn * (nn - 1) / 2;
  const double edges = p.edges;
  auto S = [&](int k) { return k < static_cast<int>(p.simplices.size()) ? p.simplices[k] : 0.0; };
  const bool may_collapse = detail::collapse_pays(p.n, 0, max_dim);
  const bool dense = !has_threshold && p.n <= kDenseMaxPoints && !may_collapse;
  double mem = 4.5 * (1 << 20);                            // process and libraries (the CLI: 3.3-4.6 MiB on tiny jobs)
  mem += is_distance_matrix ? pairs * 4 : nn * dim * 4.0;  // input
  if (dense) mem += nn * nn * 4 + (is_distance_matrix ? 0 : pairs * 4);
  else mem += edges * 24 + nn * 16;  // neighbour lists (both ways), grid
  const bool collapse = max_dim >= 2 && (p.n > 0 && 2 * edges / nn <= 300);
  double stage = 0;  // the largest of the stages after the edges
  if (max_dim >= 1) {
    mem += edges * 16;                                  // edge list
    if (collapse) stage = std::max(stage, edges * 24);  // collapse: flags, per-vertex work
    const double eff_dim = is_distance_matrix ? 8 : std::min<double>(dim, 16);
    const double reduced = p.collapse_measured ? p.collapsed_edges : edges;  // (after the collapse)
    stage = std::max(stage, reduced * (24 + 4 * eff_dim));                   // dimension-1 columns, pivot map, V
  }
  // Time (rough wall-clock at 2 threads): the distances, the edges, the higher
  // simplices, the fill-in. The sparse build compares the grid's candidates,
  // not all pairs (the 1M-point cube of bench/large_cloud_bench.py at its
  // threshold: 3012 s estimated from all pairs, against a 52 s run). An edge
  // costs more as the cloud grows (the collapse's and the reduction's walks over
  // the neighbour lists leave the caches): 0.5 us up to 10k points, ~0.9 us at
  // 100k, ~1.3 us at 1M (measured 0.8-1.5 us on the 100k torus and cube of
  // bench/large_cloud_bench.py, 1.0-2.1 us on the 1M ones).
  const double scanned = !dense && p.scanned_pairs > 0 ? std::min(pairs, p.scanned_pairs) : pairs;
  const double per_edge = 5e-7 * (1 + 0.25 * std::log2(std::max(1.0, nn / 1e4)));
  double work = (is_distance_matrix ? scanned : scanned * std::max<uint32_t>(dim, 1)) * 2e-9 + edges * per_edge +
                p.collapse_cpu_seconds;
  // the fill-in's entries are written and merged many times over (rp2_600 over
  // Z/2: 1.6 GB of fill-in, 8.9 s against 2.5 s for the rest of the model)
  work += fill_in_bytes * 4e-9;
  for (int k = 2; k <= max_dim; ++k) {
    const double columns = S(k) * (k == 2 ? 0.004 : is_distance_matrix ? 0.045 : 0.01);
    double here = columns * 16 * 3;      // columns, pivot map, V and working columns
    if (k < max_dim) here += S(k) * 16;  // kept for the next dimension
    if (k >= 3) here += S(k - 1) * 16;   // the facets whose cofacets are enumerated
    stage = std::max(stage, here);
    work += S(k) * 7e-8;
  }
  mem += stage + fill_in_bytes;
  return Estimate{static_cast<uint64_t>(std::min(mem, 1.8e19)), work};
}

// Point cloud: n * dim float coordinates, row-major.
inline ComplexProfile profile_points(const std::vector<value_t>& coords, size_t n, size_t dim, int max_dim,
                                     std::optional<double> threshold) {
  if (coords.size() != n * dim) throw InvalidInput("coordinate count does not match n * dim");
  RipsOptions o;
  o.threshold = threshold;
  const value_t cutoff = detail::points_cutoff(o, coords, n, dim);
  const double pair_cost = static_cast<double>(std::max<size_t>(dim, 1));
  // Below a cutoff well under the cloud's extent, a vertex's neighbours come from
  // the grid the job builds its edges with: its candidates, not all n points, are
  // compared (on an 8000-point cube at 0.1 the all-pairs scans took longer than
  // the job). The grid holds a copy of the coordinates (n * (dim + 3) * 4 bytes).
  // A vertex then costs its candidates and the sampled k-subsets of its neighbours,
  // which no longer vanish beside a scan of n: each of kTrials subsets per k checks
  // C(k, 2) distances after k random draws, weighted 4x a scanned distance (random
  // access; unweighted, every vertex of the 50,000-point Clifford torus at 0.15 fit
  // the budget, and the measurement took several times as long as before the grid).
  double scanned = 0;  // (the job's sparse build compares the grid's candidates)
  if (n > 1 && std::isfinite(cutoff)) {
    const PointGrid grid(coords, n, dim, cutoff);
    const double candidates = grid.mean_candidates();
    double subset_checks = 0;
    for (int k = 2; k <= max_dim; ++k) subset_checks += estimate_detail::kTrials * (k * (k - 1) / 2.0 + k);
    scanned = candidates * static_cast<double>(n);
    if (candidates < 0.5 * static_cast<double>(n)) {
      ComplexProfile p = estimate_detail::profile_with(
          n, cutoff, max_dim, (std::max(1.0, candidates) + 4 * subset_checks) * pair_cost,
          [&](size_t i, size_t j) {
            return euclidean_distance(grid.at(static_cast<uint32_t>(i)), grid.at(static_cast<uint32_t>(j)), dim);
          },
          [&](size_t v, estimate_detail::Rng& rng, std::vector<uint32_t>& nb) {
            return estimate_detail::grid_neighbours_within(grid, static_cast<uint32_t>(v), cutoff, rng, nb);
          });
      p.scanned_pairs = scanned;
      return p;
    }
  }
  ComplexProfile p = estimate_detail::profile(n, cutoff, max_dim, pair_cost, [&](size_t i, size_t j) {
    return euclidean_distance(&coords[i * dim], &coords[j * dim], dim);
  });
  p.scanned_pairs = scanned;
  return p;
}

// Strict lower triangle row by row, as rips_from_lower_distances takes it.
inline ComplexProfile profile_lower(const std::vector<value_t>& lower, size_t n, int max_dim,
                                    std::optional<double> threshold) {
  if (lower.size() != n * (n - 1) / 2) throw InvalidInput("distance count does not match n(n-1)/2");
  RipsOptions o;
  o.threshold = threshold;
  const value_t cutoff = detail::choose_threshold(o, enclosing_radius_lower(lower, n));
  return estimate_detail::profile(n, cutoff, max_dim, 0.25, [&](size_t i, size_t j) {
    if (i < j) std::swap(i, j);
    return lower[i * (i - 1) / 2 + j];
  });
}

inline Estimate estimate_rips_points(const std::vector<value_t>& coords, size_t n, size_t dim, int max_dim,
                                     std::optional<double> threshold) {
  return estimate_rips_profile(profile_points(coords, n, dim, max_dim, threshold), static_cast<uint32_t>(dim), false,
                               max_dim, threshold.has_value());
}

inline Estimate estimate_rips_lower(const std::vector<value_t>& lower, size_t n, int max_dim,
                                    std::optional<double> threshold) {
  return estimate_rips_profile(profile_lower(lower, n, max_dim, threshold), 0, true, max_dim, threshold.has_value());
}
}  // namespace tda::core
