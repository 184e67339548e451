// The progress model (tda/core/progress_model.hpp): shares follow the expected
// work, the fraction never decreases, ends at 1 and moves during a long stage;
// the ETA counts down.
#include "tda/core/progress_model.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tda/core/estimate.hpp"
#include "tda/core/rips.hpp"

using namespace tda::core;

namespace {

ProgressInfo info(Stage s, int dim, uint64_t done, uint64_t total) { return ProgressInfo{s, dim, done, total, 1}; }

// A dense cloud's plan: dimension 2 has ~1000x the simplices of the edges.
WorkPlan dense_plan() { return rips_work_plan(1300, 3, 8.5e5, {1300, 8.5e5, 3.7e8}, 2, false); }

std::vector<float> random_cloud(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<float> pts(n * 3);
  for (auto& x : pts) x = u(rng);
  return pts;
}

}  // namespace

TEST(ProgressModel, SharesFollowTheExpectedWork) {
  ProgressModel m(dense_plan(), 0.05);
  const auto [a2b, a2e] = m.segment(Stage::Assembly, 2);
  const auto [r1b, r1e] = m.segment(Stage::Reduction, 1);
  const auto [r2b, r2e] = m.segment(Stage::Reduction, 2);
  // in the order the stages run, covering [0.05, 1]
  EXPECT_DOUBLE_EQ(m.segment(Stage::Distances, 0).first, 0.05);
  EXPECT_LE(r1e, a2b + 1e-12);
  EXPECT_LE(a2e, r2b + 1e-12);
  EXPECT_DOUBLE_EQ(r2e, 1.0);
  // dimension 2 (assembly and reduction) gets most of the run, not an equal share
  EXPECT_GT((a2e - a2b) + (r2e - r2b), 0.8);
  EXPECT_LT(r1e - r1b, 0.1);
  // the uniform plan keeps equal shares per dimension
  ProgressModel u(uniform_work_plan(2), 0.05);
  const auto [u1b, u1e] = u.segment(Stage::Reduction, 1);
  const auto [u2b, u2e] = u.segment(Stage::Reduction, 2);
  EXPECT_NEAR(u1e - u1b, u2e - u2b, 1e-12);
  // Alpha: one reduction stage to the end
  ProgressModel a(alpha_work_plan(), 0.05);
  EXPECT_DOUBLE_EQ(a.segment(Stage::Reduction, 1).second, 1.0);
  EXPECT_GT(a.segment(Stage::Distances, 0).second - a.segment(Stage::Distances, 0).first, 0.4);
}

TEST(ProgressModel, MonotoneAndEndsAtOne) {
  ProgressModel m(dense_plan(), 0.05);
  double t = 0, last = 0;
  auto feed = [&](const ProgressInfo& p) {
    t += 0.1;
    const double f = m.update(p, t);
    EXPECT_GE(f, last) << static_cast<int>(p.stage) << " dim " << p.dimension;
    EXPECT_LE(f, 1.0);
    last = f;
    const double g = m.at(t + 0.05);
    EXPECT_GE(g, last);
    last = g;
  };
  feed(info(Stage::Distances, 0, 0, 0));
  feed(info(Stage::Distances, 0, 0, 0));  // (a stage's start reported again)
  feed(info(Stage::Dim0, 0, 0, 100));
  feed(info(Stage::Dim0, 0, 60, 100));
  feed(info(Stage::Dim0, 0, 40, 100));      // a count that went back (racing workers)
  feed(info(Stage::Collapse, 1, 10, 100));  // a stage reported out of order
  for (uint64_t j = 0; j <= 736; j += 92) feed(info(Stage::Reduction, 1, j, 736));
  for (uint64_t j = 0; j <= 850000; j += 50000) feed(info(Stage::Assembly, 2, j, 850000));
  for (uint64_t j = 0; j <= 34000; j += 1000) feed(info(Stage::Reduction, 2, j, 34000));
  feed(info(Stage::Reduction, 3, 5, 10));  // a dimension past the plan: no jump back
  feed(info(Stage::Done, 2, 0, 0));
  EXPECT_DOUBLE_EQ(last, 1.0);
  EXPECT_DOUBLE_EQ(m.at(t + 10), 1.0);
}

TEST(ProgressModel, MovesDuringALongDimension) {
  ProgressModel m(dense_plan(), 0.05);
  m.update(info(Stage::Dim0, 0, 0, 100), 0.0);
  m.update(info(Stage::Reduction, 1, 736, 736), 1.0);
  const double before = m.update(info(Stage::Assembly, 2, 0, 850000), 1.0);
  // every report within the assembly moves the fraction
  double last = before;
  for (uint64_t j = 2048; j <= 850000; j += 85000) {
    const double f = m.update(info(Stage::Assembly, 2, j, 850000), 1.0 + static_cast<double>(j) / 8500);
    EXPECT_GT(f, last);
    last = f;
  }
  // with no report for a while (one long column), it still creeps, but stays
  // in the first half of what is left of the stage
  ProgressModel q(dense_plan(), 0.05);
  q.update(info(Stage::Reduction, 1, 0, 736), 0.0);
  const double start = q.update(info(Stage::Assembly, 2, 100000, 850000), 5.0);
  const double end = q.segment(Stage::Assembly, 2).second;
  double prev = start;
  for (double s = 6; s <= 60; s += 1) {
    const double f = q.at(s);
    EXPECT_GT(f, prev) << "at " << s << " s";
    EXPECT_LT(f, start + 0.5 * (end - start) + 1e-12);
    prev = f;
  }
}

TEST(ProgressModel, LargeThresholdedCloudIsNotAllDistances) {
  // the cube of bench/large_cloud_bench.py at its threshold (mean degree ~50), H1:
  // counting all n^2 / 2 pairs for its grid-built edges gave the distances ~80 %
  // of the bar, which the run passed after a tenth of its time
  const size_t n = 100000;
  const auto pts = random_cloud(n, 9);
  const double thr = std::cbrt(50 / (4.0 / 3 * M_PI * n));
  const ComplexProfile p = profile_points(pts, n, 3, 1, thr);
  ASSERT_GT(p.scanned_pairs, 0);
  const WorkPlan all = rips_work_plan(n, 3, p.edges, p.simplices, 1, true);
  EXPECT_GT(ProgressModel(all).segment(Stage::Distances, 0).second, 0.5);  // the defect
  const WorkPlan w = rips_work_plan(n, 3, p.edges, p.simplices, 1, true, p.scanned_pairs);
  ProgressModel m(w);
  // measured there (stats of the 100k and 300k cube and torus at 2 threads): the
  // edges take 5-10 % of the run, the collapse 50-70 %, the reduction 10-35 %
  EXPECT_LT(m.segment(Stage::Distances, 0).second, 0.2);
  const auto [cb, ce] = m.segment(Stage::Collapse, 1);
  EXPECT_GT(ce - cb, 0.4);
  const auto [rb, re] = m.segment(Stage::Reduction, 1);
  EXPECT_GT(re - rb, 0.05);
  // a dense cloud (degree ~n) keeps its plan
  const WorkPlan d = dense_plan(), d2 = rips_work_plan(1300, 3, 8.5e5, {1300, 8.5e5, 3.7e8}, 2, false, 1300.0 * 1299);
  EXPECT_DOUBLE_EQ(d.distances, d2.distances);
  EXPECT_DOUBLE_EQ(d.reduction[1], 8.5e5 * 8e-6);
}

TEST(ProgressModel, FollowsARealRunMonotonically) {
  const size_t n = 200;
  const auto pts = random_cloud(n, 5);
  RipsOptions o;
  o.max_dim = 2;
  o.threads = 1;
  const ComplexProfile p = profile_points(pts, n, 3, 2, std::nullopt);
  ProgressModel m(rips_work_plan(n, 3, p.edges, p.simplices, 2, false), 0.05);
  Callbacks cb;
  MemoryBudget budget(0);
  cb.memory = &budget;
  std::vector<double> fractions;
  bool assembly = false, bytes = true;
  double t = 0;
  cb.on_progress = [&](const ProgressInfo& i) {
    fractions.push_back(m.update(i, t += 0.01));
    assembly = assembly || (i.stage == Stage::Assembly && i.dimension == 2);
    if (i.stage != Stage::Done) bytes = bytes && i.bytes_in_use > 0;  // the budget's figure
  };
  rips_from_points(pts, n, 3, o, cb);
  ASSERT_GE(fractions.size(), 6u);
  for (size_t i = 1; i < fractions.size(); ++i) EXPECT_GE(fractions[i], fractions[i - 1]);
  EXPECT_DOUBLE_EQ(fractions.back(), 1.0);
  EXPECT_TRUE(assembly);
  EXPECT_TRUE(bytes);
}

TEST(EtaEstimator, AbsentEarlyThenCountsDown) {
  EtaEstimator e;
  EXPECT_FALSE(e.update(0.05, 0.0).has_value());
  EXPECT_FALSE(e.update(0.055, 0.5).has_value());  // too early, too little
  // a steady 1 % per second from 0.05: 95 s in all
  std::optional<double> prev;
  for (double t = 1; t <= 90; t += 0.5) {
    const auto eta = e.update(0.05 + 0.01 * t, t);
    if (t < 2) continue;
    ASSERT_TRUE(eta.has_value()) << t;
    EXPECT_NEAR(*eta, 95 - t, 0.05 * (95 - t) + 0.5) << t;
    if (prev) {
      EXPECT_LT(*eta, *prev);
    }
    prev = eta;
  }
  EXPECT_DOUBLE_EQ(*e.update(1.0, 95), 0.0);
}

// A quick start (over-weighted early stages) then a long, slow dimension: the
// ETA follows the recent pace within seconds, not the whole run's average.
TEST(EtaEstimator, FollowsTheRecentPace) {
  EtaEstimator e;
  e.update(0.0, 0.0);
  e.update(0.05, 2.0);  // 5 % in 2 s
  std::optional<double> eta;
  double f = 0.05;
  for (double t = 2.25; t <= 40; t += 0.25) {
    f += 0.001 * 0.25;  // then 0.1 % a second: ~950 s left
    eta = e.update(f, t);
  }
  ASSERT_TRUE(eta.has_value());
  const double left = (1 - f) / 0.001;
  EXPECT_GT(*eta, 0.8 * left);
  EXPECT_LT(*eta, 1.2 * left);
}

// The tail of a large reduction (the 1M cube): 97 % in 30 s, then costly
// columns at 0.1 % a second. Within seconds the ETA leaves the "0:00" that the
// fast part's pace gives; once the window holds only the slow pace it says
// what that pace gives; and a later speed-up is followed back down.
TEST(EtaEstimator, ASlowdownCountsWithinSeconds) {
  EtaEstimator e;
  double f = 0;
  std::optional<double> eta;
  for (double t = 0; t <= 30; t += 0.25) eta = e.update(f = 0.97 * t / 30, t);
  ASSERT_TRUE(eta.has_value());
  EXPECT_LT(*eta, 2.0);
  for (double t = 30.25; t <= 36; t += 0.25) eta = e.update(f += 0.001 * 0.25, t);
  double left = (1 - f) / 0.001;  // ~24 s at the slow pace
  EXPECT_GT(*eta, 0.1 * left);    // (the fast pace alone: under 0.2 s)
  EXPECT_LT(*eta, 1.2 * left);
  for (double t = 36.25; t <= 50; t += 0.25) eta = e.update(f += 0.001 * 0.25, t);
  left = (1 - f) / 0.001;
  EXPECT_GT(*eta, 0.8 * left);
  EXPECT_LT(*eta, 1.2 * left);
  for (double t = 50.25; t <= 52; t += 0.25) eta = e.update(f = std::min(1.0, f + 0.005 * 0.25), t);
  EXPECT_LT(*eta, 0.6 * left);  // back at 0.5 % a second (under 1 s left): followed down
}
