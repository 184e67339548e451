#include "tda/core/distances.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <random>
#include <stdexcept>

using namespace tda::core;

namespace {
// Reference: every operation rounded to float separately (volatile stops fusion).
float reference_distance(const float* a, const float* b, size_t dim) {
  volatile float sum = 0;
  for (size_t t = 0; t < dim; ++t) {
    volatile float diff = a[t] - b[t];
    volatile float sq = diff * diff;
    sum = sum + sq;
  }
  return std::sqrt(static_cast<float>(sum));
}

std::vector<value_t> random_points(size_t n, size_t dim, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<value_t> c(n * dim);
  for (auto& x : c) x = u(rng);
  return c;
}
}  // namespace

TEST(Distances, EuclideanIsFloatAccumulatedWithoutFusion) {
  auto c = random_points(200, 9, 1);
  for (size_t i = 1; i < 200; ++i)
    EXPECT_EQ(euclidean_distance(&c[i * 9], &c[0], 9), reference_distance(&c[i * 9], &c[0], 9));
}

TEST(Distances, LowerLayout) {
  EXPECT_EQ(lower_position(1, 0), 0u);
  EXPECT_EQ(lower_position(2, 0), 1u);
  EXPECT_EQ(lower_position(2, 1), 2u);
  EXPECT_EQ(lower_position(3, 0), 3u);
}

TEST(Distances, EnclosingRadius) {
  // path 0 -1- 1 -1- 2 with d(0,2) = 2: vertex 1 has eccentricity 1
  std::vector<value_t> lower = {1, 2, 1};
  EXPECT_EQ(enclosing_radius_lower(lower, 3), 1.0f);
  EXPECT_EQ(enclosing_radius_lower({}, 1), 0.0f);
  auto c = random_points(100, 3, 2);
  EXPECT_EQ(enclosing_radius_points(c, 100, 3), enclosing_radius_lower(lower_from_points(c, 100, 3), 100));
}

TEST(Distances, DenseAndSparseAgree) {
  const size_t n = 60;
  auto c = random_points(n, 4, 3);
  auto lower = lower_from_points(c, n, 4);
  DenseDistances dense(lower, n);
  DenseDistances dense_pts(c, n, 4);
  const value_t thr = 1.0f;
  SparseDistances sp = SparseDistances::from_lower(lower, n, thr);
  SparseDistances sp_pts = SparseDistances::from_points(c, n, 4, thr);
  size_t edges = 0;
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(dense(i, i), 0.0f);
    ASSERT_EQ(sp.degree(i), sp_pts.degree(i));
    for (const Neighbor* p = sp.begin(i); p + 1 < sp.end(i); ++p) EXPECT_LT(p->vertex, (p + 1)->vertex);
    for (size_t j = 0; j < n; ++j) {
      if (i == j) continue;
      EXPECT_EQ(dense(i, j), dense(j, i));
      EXPECT_EQ(dense(i, j), dense_pts(i, j));
      if (dense(i, j) <= thr) {
        EXPECT_EQ(sp(i, j), dense(i, j));
        ++edges;
      } else {
        EXPECT_TRUE(std::isinf(sp(i, j)));
      }
    }
  }
  EXPECT_EQ(sp.edge_count() * 2, edges);
}

TEST(Distances, EnclosingRadiusBelowABoundIsTheMinimumOfBoth) {
  const size_t n = 300;
  auto c = random_points(n, 3, 11);
  const value_t radius = enclosing_radius_lower(lower_from_points(c, n, 3), n);
  for (int threads : {1, 3})
    for (value_t below : {radius * 0.01f, radius * 0.5f, std::nextafter(radius, 0.0f), radius,
                          std::nextafter(radius, 2 * radius), radius * 2, std::numeric_limits<value_t>::infinity()})
      EXPECT_EQ(enclosing_radius_points(c, n, 3, NoPoll{}, threads, below), std::min(radius, below))
          << "threads " << threads << ", below " << below;
}

TEST(Distances, WorkersGiveTheSameStorage) {
  const size_t n = 150;
  auto c = random_points(n, 3, 9);
  auto lower = lower_from_points(c, n, 3);
  EXPECT_EQ(lower_from_points(c, n, 3, NoPoll{}, 3), lower);
  EXPECT_EQ(enclosing_radius_points(c, n, 3, NoPoll{}, 3), enclosing_radius_lower(lower, n));
  DenseDistances a(lower, n), b(lower, n, Workers{3}), p(c, n, 3, NoPoll{}, 3);
  SparseDistances s1 = SparseDistances::from_points(c, n, 3, 0.5f);
  SparseDistances s3 = SparseDistances::from_points(c, n, 3, 0.5f, NoPoll{}, 3);
  SparseDistances sl = SparseDistances::from_lower(lower, n, 0.5f);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(s1.degree(i), s3.degree(i));
    ASSERT_EQ(sl.degree(i), s3.degree(i));
    for (size_t t = 0; t < s3.degree(i); ++t) {
      EXPECT_EQ(s3.begin(i)[t].vertex, sl.begin(i)[t].vertex);
      EXPECT_EQ(s3.begin(i)[t].dist, sl.begin(i)[t].dist);
    }
    for (size_t j = 0; j < n; ++j) {
      EXPECT_EQ(a(i, j), b(i, j));
      EXPECT_EQ(a(i, j), p(i, j));
    }
  }
}

TEST(Parallel, SortMatchesStdSort) {
  std::mt19937 rng(3);
  for (int threads : {1, 2, 3, 4, 7}) {
    std::vector<uint64_t> v(100000 + threads);
    for (auto& x : v) x = rng();
    std::vector<uint64_t> w = v;
    std::sort(w.begin(), w.end());
    parallel_sort(v, std::less<uint64_t>(), threads);
    EXPECT_EQ(v, w) << threads;
  }
}

TEST(Parallel, WorkerExceptionsReachTheCaller) {
  WorkerGroup g(3);
  EXPECT_THROW(g.chunks(1000, 1,
                        [](size_t b, size_t, int) {
                          if (b == 500) throw std::runtime_error("boom");
                        }),
               std::runtime_error);
}

// Worker 0 done first, worker 1 still busy: the poll must go on and its
// cancellation reach worker 1 (through failed()) long before its work would end.
TEST(Parallel, PollingGoesOnWhileOtherWorkersRun) {
  using clock = std::chrono::steady_clock;
  WorkerGroup g(2);
  const auto t0 = clock::now();
  std::atomic<int> polls{0};
  bool worker1_saw_failure = false;
  EXPECT_THROW(g.run_polled(
                   [&](int w) {
                     if (w == 0) return;
                     while (clock::now() - t0 < std::chrono::seconds(5)) {  // a long column
                       if (g.failed()) {
                         worker1_saw_failure = true;
                         throw Cancelled();
                       }
                     }
                   },
                   [&] {
                     if (++polls >= 50) throw Cancelled();
                   }),
               Cancelled);
  EXPECT_TRUE(worker1_saw_failure);
  EXPECT_LT(clock::now() - t0, std::chrono::seconds(2));
}
