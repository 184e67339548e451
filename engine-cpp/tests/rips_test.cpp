#include "tda/core/rips.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tda/core/io.hpp"
#include "test_util.hpp"

using namespace tda::core;
using tda::test::Barcodes;
using tda::test::to_barcodes;

namespace {
const double kInf = std::numeric_limits<double>::infinity();

RipsOptions dims(int k) {
  RipsOptions o;
  o.max_dim = k;
  return o;
}

io::LowerMatrix fixture_lower(const std::string& name) {
  return io::parse_lower_distance(tda::test::read_file(tda::test::fixture(name)));
}
}  // namespace

TEST(Rips, SinglePointHasOneEssentialBar) {
  auto r = rips_from_lower_distances({}, 1, dims(2));
  ASSERT_EQ(r.diagrams.size(), 3u);
  ASSERT_EQ(r.diagrams[0].size(), 1u);
  EXPECT_EQ(r.diagrams[0][0].birth, 0);
  EXPECT_EQ(r.diagrams[0][0].death, kInf);
  EXPECT_TRUE(r.diagrams[1].empty());
  EXPECT_EQ(r.betti[0], 1u);
  auto p = rips_from_points({1.0f, 2.0f}, 1, 2, dims(1));
  EXPECT_EQ(p.diagrams[0].size(), 1u);
}

TEST(Rips, SquareHasOneLoop) {
  // unit square 0-1-2-3: sides 1, diagonals sqrt(2)
  std::vector<value_t> pts = {0, 0, 1, 0, 1, 1, 0, 1};
  auto r = rips_from_points(pts, 4, 2, dims(2));
  ASSERT_EQ(r.diagrams[0].size(), 4u);  // three finite bars [0,1) and one essential
  ASSERT_EQ(r.diagrams[1].size(), 1u);
  EXPECT_EQ(r.diagrams[1][0].birth, 1.0);
  EXPECT_EQ(r.diagrams[1][0].death, static_cast<double>(std::sqrt(2.0f)));
  EXPECT_TRUE(r.diagrams[2].empty());
  EXPECT_EQ(r.betti[0], 1u);
  EXPECT_EQ(r.betti[1], 0u);
}

TEST(Rips, DuplicatePointsGiveNoZeroLengthBars) {
  std::vector<value_t> pts = {0, 0, 0, 0, 3, 0};
  auto r = rips_from_points(pts, 3, 2, dims(1));
  ASSERT_EQ(r.diagrams[0].size(), 2u);
  EXPECT_EQ(r.diagrams[0][0].death, 3.0);
  EXPECT_EQ(r.diagrams[0][1].death, kInf);
}

TEST(Rips, ThresholdKeepsComponentsApart) {
  std::vector<value_t> lower = {1, 5, 5};  // 0 and 1 close, 2 far away
  RipsOptions o = dims(1);
  o.threshold = 2.0;
  auto r = rips_from_lower_distances(lower, 3, o);
  EXPECT_EQ(r.betti[0], 2u);
  EXPECT_EQ(r.stats.edges, 1u);
  EXPECT_FLOAT_EQ(static_cast<float>(r.stats.threshold_used), 2.0f);
}

TEST(Rips, ProjectivePlaneDependsOnTheField) {
  auto m = fixture_lower("projective_plane.lower_distance_matrix");
  auto z2 = rips_from_lower_distances(m.lower, m.n, dims(2));
  ASSERT_EQ(z2.diagrams[1].size(), 1u);
  ASSERT_EQ(z2.diagrams[2].size(), 1u);
  RipsOptions o = dims(2);
  o.modulus = 3;
  auto z3 = rips_from_lower_distances(m.lower, m.n, o);
  EXPECT_TRUE(z3.diagrams[1].empty());
  EXPECT_TRUE(z3.diagrams[2].empty());
}

TEST(Rips, DenseAndSparseModesAgree) {
  auto m = fixture_lower("sphere_3_192.lower_distance_matrix");
  auto dense = rips_from_lower_distances(m.lower, m.n, dims(2));
  RipsOptions o = dims(2);
  o.threshold = 10.0;  // above every distance: sparse storage, same complex
  auto sparse = rips_from_lower_distances(m.lower, m.n, o);
  EXPECT_EQ(to_barcodes(dense, 2), to_barcodes(sparse, 2));
  EXPECT_EQ(dense.stats.threshold_used, sparse.stats.threshold_used);
}

TEST(Rips, PointsAndTheirDistanceMatrixAgree) {
  auto pc = io::parse_point_cloud(tda::test::read_file(tda::test::fixture("sphere_3_192_points.dat")));
  auto a = rips_from_points(pc.coords, pc.n, pc.dim, dims(2));
  auto b = rips_from_lower_distances(lower_from_points(pc.coords, pc.n, pc.dim), pc.n, dims(2));
  EXPECT_EQ(to_barcodes(a, 2), to_barcodes(b, 2));
  EXPECT_EQ(a.stats.edges, b.stats.edges);
}

TEST(Rips, HigherFieldsAgreeOnTorsionFreeData) {
  auto m = fixture_lower("random16.lower_distance_matrix");
  auto z2 = rips_from_lower_distances(m.lower, m.n, dims(3));
  for (int p : {3, 5, 7, 251}) {
    RipsOptions o = dims(3);
    o.modulus = p;
    EXPECT_EQ(to_barcodes(rips_from_lower_distances(m.lower, m.n, o), 3), to_barcodes(z2, 3)) << "p=" << p;
  }
}

TEST(Rips, RejectsBadInputBeforeComputing) {
  RipsOptions o = dims(1);
  EXPECT_THROW(rips_from_lower_distances({}, 0, o), InvalidInput);
  EXPECT_THROW(rips_from_lower_distances({1, 2}, 3, o), InvalidInput);  // wrong count
  EXPECT_THROW(rips_from_lower_distances({1, NAN, 2}, 3, o), InvalidInput);
  EXPECT_THROW(rips_from_lower_distances({1, INFINITY, 2}, 3, o), InvalidInput);
  EXPECT_THROW(rips_from_lower_distances({1, -1, 2}, 3, o), InvalidInput);
  EXPECT_THROW(rips_from_points({1, NAN}, 1, 2, o), InvalidInput);
  EXPECT_THROW(rips_from_points({1, 2, 3}, 2, 2, o), InvalidInput);
  EXPECT_THROW(rips_from_points({}, 0, 0, o), InvalidInput);
  for (int p : {0, 1, 4, 9, 256, 257}) {
    RipsOptions q = o;
    q.modulus = p;
    EXPECT_THROW(rips_from_lower_distances({1, 1, 1}, 3, q), InvalidInput) << p;
  }
  RipsOptions neg = o;
  neg.max_dim = -1;
  EXPECT_THROW(rips_from_lower_distances({1, 1, 1}, 3, neg), InvalidInput);
  RipsOptions nan_thr = o;
  nan_thr.threshold = NAN;
  EXPECT_THROW(rips_from_lower_distances({1, 1, 1}, 3, nan_thr), InvalidInput);
  // C(10^7, 6) does not fit in 64 bits: rejected without allocating anything
  RipsOptions big = o;
  big.max_dim = 4;
  EXPECT_THROW(rips_from_lower_distances({}, 10000000, big), InvalidInput);
  // with Z/p the index has 56 bits: C(50000, 4) ~ 2.6e17 > 2^56
  RipsOptions zp = o;
  zp.max_dim = 2;
  zp.modulus = 3;
  EXPECT_THROW(detail::validate_options(50000, zp), InvalidInput);
  zp.modulus = 2;
  EXPECT_NO_THROW(detail::validate_options(50000, zp));
}

TEST(Rips, CancellationThrows) {
  auto m = fixture_lower("sphere_3_192.lower_distance_matrix");
  Callbacks cb;
  int polls = 0;
  cb.is_cancelled = [&] { return ++polls > 3; };
  EXPECT_THROW(rips_from_lower_distances(m.lower, m.n, dims(2), cb), Cancelled);
}

TEST(Rips, ReportsProgressThroughTheStages) {
  auto m = fixture_lower("sphere_3_192.lower_distance_matrix");
  Callbacks cb;
  std::vector<ProgressInfo> seen;
  cb.on_progress = [&](const ProgressInfo& p) { seen.push_back(p); };
  auto r = rips_from_lower_distances(m.lower, m.n, dims(2), cb);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().stage, Stage::Done);
  bool dim2 = false;
  for (const auto& p : seen) {
    if (p.stage == Stage::Reduction && p.dimension == 2) dim2 = true;
    EXPECT_LE(p.columns_done, p.columns_total);
  }
  EXPECT_TRUE(dim2);
  EXPECT_GT(r.stats.columns_reduced, 0u);
  EXPECT_GT(r.stats.apparent_pairs, 0u);
}

TEST(Rips, EstimateGrowsWithSize) {
  auto a = estimate_rips(100, 3, false, 1, std::nullopt);
  auto b = estimate_rips(1000, 3, false, 2, std::nullopt);
  EXPECT_GT(b.memory_bytes, a.memory_bytes);
  EXPECT_GT(b.seconds, a.seconds);
}

// Results (bars in output order, Betti numbers, statistics) do not depend on the
// number of workers, in dense and sparse mode, over Z/2 and Z/3.
TEST(Rips, WorkersGiveIdenticalResults) {
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> u(0, 1);
  const size_t n = 320;
  std::vector<value_t> pts(n * 3);
  for (auto& x : pts) x = u(rng);
  for (int modulus : {2, 3})
    for (bool sparse : {false, true}) {
      RipsOptions o = dims(2);
      o.modulus = modulus;
      if (sparse) o.threshold = 0.35;
      o.threads = 1;
      const RipsResult ref = rips_from_points(pts, n, 3, o);
      for (int threads : {2, 3}) {
        o.threads = threads;
        const RipsResult r = rips_from_points(pts, n, 3, o);
        ASSERT_EQ(r.diagrams.size(), ref.diagrams.size());
        for (size_t k = 0; k < r.diagrams.size(); ++k) {
          ASSERT_EQ(r.diagrams[k].size(), ref.diagrams[k].size()) << k;
          for (size_t i = 0; i < r.diagrams[k].size(); ++i) {
            EXPECT_EQ(r.diagrams[k][i].birth, ref.diagrams[k][i].birth);
            EXPECT_EQ(r.diagrams[k][i].death, ref.diagrams[k][i].death);
          }
        }
        EXPECT_EQ(r.betti, ref.betti);
        EXPECT_EQ(r.stats.apparent_pairs, ref.stats.apparent_pairs);
        EXPECT_EQ(r.stats.columns_reduced, ref.stats.columns_reduced);
      }
    }
}
