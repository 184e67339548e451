// The data-following estimate (estimate.hpp): the cutoff is the engine's, the
// edges and simplices are measured, and the figure is reproducible.
#include "tda/core/estimate.hpp"

#include "tda/core/collapse_estimate.hpp"
#include "tda/core/rips.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace tda::core;

namespace {

std::vector<value_t> uniform_cloud(size_t n, size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<value_t> pts(n * dim);
  for (auto& x : pts) x = u(rng);
  return pts;
}

// Clifford torus in R^4 (angles uniform), as the benchmarks use it.
std::vector<value_t> clifford_torus(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 2 * M_PI);
  std::vector<value_t> pts;
  for (size_t i = 0; i < n; ++i) {
    const double a = u(rng), b = u(rng);
    for (double x : {std::cos(a), std::sin(a), std::cos(b), std::sin(b)})
      pts.push_back(static_cast<value_t>(x / std::sqrt(2.0)));
  }
  return pts;
}

// Exact counts of the flag complex at `cutoff`: edges, triangles, tetrahedra.
std::vector<double> exact_counts(const std::vector<value_t>& pts, size_t n, size_t dim, value_t cutoff) {
  std::vector<std::vector<bool>> adj(n, std::vector<bool>(n, false));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < i; ++j)
      adj[i][j] = adj[j][i] = euclidean_distance(&pts[i * dim], &pts[j * dim], dim) <= cutoff;
  std::vector<double> c(4, 0);
  for (size_t a = 0; a < n; ++a)
    for (size_t b = a + 1; b < n; ++b) {
      if (!adj[a][b]) continue;
      c[1] += 1;
      for (size_t d = b + 1; d < n; ++d) {
        if (!adj[a][d] || !adj[b][d]) continue;
        c[2] += 1;
        for (size_t e = d + 1; e < n; ++e) c[3] += adj[a][e] && adj[b][e] && adj[d][e];
      }
    }
  return c;
}

std::vector<value_t> lower_of(const std::vector<value_t>& pts, size_t n, size_t dim) {
  std::vector<value_t> lower;
  for (size_t i = 1; i < n; ++i)
    for (size_t j = 0; j < i; ++j) lower.push_back(euclidean_distance(&pts[i * dim], &pts[j * dim], dim));
  return lower;
}

}  // namespace

TEST(Estimate, CountsEdgesAndSimplicesOfSmallCloudsExactlyOrClosely) {
  const size_t n = 300, dim = 3;
  const auto pts = uniform_cloud(n, dim, 7);
  const ComplexProfile p = profile_points(pts, n, dim, 3, 0.3);
  EXPECT_FLOAT_EQ(static_cast<float>(p.cutoff), 0.3f);
  EXPECT_TRUE(p.exact_edges);
  const auto c = exact_counts(pts, n, dim, static_cast<value_t>(p.cutoff));
  EXPECT_DOUBLE_EQ(p.edges, c[1]);
  EXPECT_NEAR(p.simplices[2], c[2], 0.15 * c[2]);
  EXPECT_NEAR(p.simplices[3], c[3], 0.25 * c[3]);
  // the same figures from the distance matrix
  const ComplexProfile q = profile_lower(lower_of(pts, n, dim), n, 2, 0.3);
  EXPECT_DOUBLE_EQ(q.edges, c[1]);
  EXPECT_NEAR(q.simplices[2], c[2], 0.15 * c[2]);
}

TEST(Estimate, ThresholdIsClampedToTheEnclosingRadius) {
  const size_t n = 1500, dim = 8;
  const auto pts = uniform_cloud(n, dim, 11);
  const Estimate none = estimate_rips_points(pts, n, dim, 3, std::nullopt);
  const Estimate huge = estimate_rips_points(pts, n, dim, 3, 1e30);
  const ComplexProfile a = profile_points(pts, n, dim, 3, std::nullopt);
  const ComplexProfile b = profile_points(pts, n, dim, 3, 1e30);
  EXPECT_EQ(a.cutoff, b.cutoff);
  EXPECT_EQ(a.edges, b.edges);
  // a threshold above every scale of the data costs what no threshold costs
  EXPECT_GT(static_cast<double>(huge.memory_bytes), 0.8 * static_cast<double>(none.memory_bytes));
  EXPECT_GT(huge.memory_bytes, 16ull << 30);
  // the size-only figure cut it 25-31x with any threshold
  EXPECT_LT(estimate_rips(n, dim, false, 3, 1e30).memory_bytes, huge.memory_bytes / 8);
}

TEST(Estimate, LargeThresholdedCloudFollowsItsEdges) {
  const size_t n = 20000;
  const auto pts = clifford_torus(n, 3);
  // exact edge counts (brute force over all pairs, 2e8 distances)
  double edges = 0, wide = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < i; ++j) {
      const value_t d = euclidean_distance(&pts[i * 4], &pts[j * 4], 4);
      edges += d <= 0.15f;
      wide += d <= 1.0f;
    }
  // at 0.15 a vertex's neighbours come from the grid; at 1.0 the grid's cells
  // hold most of the cloud, so sampled vertices are scanned against all n
  const ComplexProfile p = profile_points(pts, n, 4, 2, 0.15);
  EXPECT_NEAR(p.edges, edges, 0.1 * edges);
  const ComplexProfile q = profile_points(pts, n, 4, 2, 1.0);
  EXPECT_FALSE(q.exact_edges);
  EXPECT_NEAR(q.edges, wide, 0.1 * wide);
  const Estimate e = estimate_rips_points(pts, n, 4, 2, 0.15);
  EXPECT_LT(e.memory_bytes, 1ull << 30);
  EXPECT_GT(estimate_rips(n, 4, false, 2, 0.15).memory_bytes, 16ull << 30);  // what was refused
}

TEST(Estimate, TimeCountsTheGridsCandidatesNotAllPairs) {
  // the cube of bench/large_cloud_bench.py at its threshold (mean degree ~50)
  const size_t n = 100000, dim = 3;
  const auto pts = uniform_cloud(n, dim, 11);
  const double thr = std::cbrt(50 / (4.0 / 3 * M_PI * n));
  ComplexProfile p = profile_points(pts, n, dim, 1, thr);
  const double pairs = n * (n - 1) / 2.0;
  // each edge is a candidate of both its ends; the candidates are a small part of all pairs
  EXPECT_GE(p.scanned_pairs, 2 * 0.9 * p.edges);
  EXPECT_LT(p.scanned_pairs, pairs / 100);
  const Estimate e = estimate_rips_profile(p, dim, false, 1, true);
  p.scanned_pairs = 0;  // as it was: every pair scanned
  const Estimate all = estimate_rips_profile(p, dim, false, 1, true);
  EXPECT_LT(e.seconds, all.seconds / 5);
  EXPECT_EQ(e.memory_bytes, all.memory_bytes);
  // without a threshold a small cloud is scanned pair by pair (the dense path): all pairs count
  const size_t m = 2000;
  const auto small = uniform_cloud(m, dim, 12);
  ComplexProfile q = profile_points(small, m, dim, 1, std::nullopt);
  const Estimate dense = estimate_rips_profile(q, dim, false, 1, false);
  q.scanned_pairs = 1;
  EXPECT_EQ(estimate_rips_profile(q, dim, false, 1, false).seconds, dense.seconds);
}

TEST(Estimate, GridNeighboursCountEveryEdge) {
  // a cloud whose every vertex the grid makes affordable: the count is exact
  const size_t n = 5000;
  const auto pts = clifford_torus(n, 7);
  double edges = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < i; ++j) edges += euclidean_distance(&pts[i * 4], &pts[j * 4], 4) <= 0.15f;
  const ComplexProfile p = profile_points(pts, n, 4, 2, 0.15);
  EXPECT_TRUE(p.exact_edges);
  EXPECT_EQ(p.edges, edges);
}

TEST(Estimate, IsReproducibleAndGrowsWithTheThreshold) {
  const size_t n = 3000, dim = 3;
  const auto pts = uniform_cloud(n, dim, 5);
  const Estimate a = estimate_rips_points(pts, n, dim, 2, 0.2);
  const Estimate b = estimate_rips_points(pts, n, dim, 2, 0.2);
  EXPECT_EQ(a.memory_bytes, b.memory_bytes);
  EXPECT_EQ(a.seconds, b.seconds);
  const Estimate c = estimate_rips_points(pts, n, dim, 2, 0.4);
  EXPECT_GT(c.memory_bytes, a.memory_bytes);
  EXPECT_GT(c.seconds, a.seconds);
}

TEST(Estimate, RefusesMismatchedInput) {
  EXPECT_THROW(profile_points(std::vector<value_t>(5), 2, 3, 1, std::nullopt), InvalidInput);
  EXPECT_THROW(profile_lower(std::vector<value_t>(2), 3, 1, std::nullopt), InvalidInput);
  const ComplexProfile one = profile_points(std::vector<value_t>(3, 0.f), 1, 3, 2, std::nullopt);
  EXPECT_EQ(one.edges, 0);
}

// With the edge collapse, the estimate counts the complex the reduction gets:
// the collapse run as the job runs it leaves the same edges, fewer simplices,
// and a smaller figure; past its CPU bound it gives way to the figure without it.
TEST(Estimate, FollowsTheCollapsedComplex) {
  const size_t n = 600, dim = 3;
  const auto pts = uniform_cloud(n, dim, 13);
  const double thr = 0.25;
  const ComplexProfile p = profile_points(pts, n, dim, 3, thr);
  const std::optional<ComplexProfile> c = collapsed_profile_points(pts, n, dim, 3, thr, p);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->collapse_measured);
  EXPECT_EQ(c->edges, p.edges);  // (the lists are built before the collapse)
  RipsOptions o;
  o.max_dim = 3;
  o.threshold = thr;
  o.threads = 1;
  const RipsResult r = rips_from_points(pts, n, dim, o);
  ASSERT_TRUE(r.stats.collapsed);
  EXPECT_DOUBLE_EQ(c->collapsed_edges, static_cast<double>(r.stats.edges_after_collapse));
  EXPECT_LT(c->collapsed_edges, p.edges);
  EXPECT_LT(c->simplices[3], 0.5 * p.simplices[3]);
  const Estimate with = estimate_rips_profile(*c, dim, false, 3, true);
  const Estimate without = estimate_rips_profile(p, dim, false, 3, true);
  EXPECT_LT(with.memory_bytes, without.memory_bytes);
  // the same from the distance matrix; none where the job does not collapse
  const ComplexProfile pl = profile_lower(lower_of(pts, n, dim), n, 3, thr);
  const std::optional<ComplexProfile> cl = collapsed_profile_lower(lower_of(pts, n, dim), n, 3, thr, pl);
  ASSERT_TRUE(cl.has_value());
  EXPECT_DOUBLE_EQ(cl->collapsed_edges, c->collapsed_edges);
  EXPECT_FALSE(collapsed_profile_points(pts, n, dim, 3, thr, p, Collapse::Off).has_value());
  EXPECT_FALSE(collapsed_profile_points(pts, n, dim, 1, thr, profile_points(pts, n, dim, 1, thr)).has_value());
  // out of CPU time: no figure (the caller keeps the one without the collapse)
  EXPECT_FALSE(collapse_estimate_detail::collapse_and_profile(SparseDistances::from_points(pts, n, dim, 0.25f), p, 3,
                                                              Collapse::Auto, 0.0)
                   .has_value());
}
