#include "tda/core/binomial.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

using tda::core::BinomialTable;
using tda::core::decode_simplex;
using tda::core::encode_simplex;
using tda::core::index_t;

TEST(Binomial, SmallValues) {
  BinomialTable B(10, 4);
  EXPECT_EQ(B(0, 0), 1);
  EXPECT_EQ(B(5, 0), 1);
  EXPECT_EQ(B(5, 1), 5);
  EXPECT_EQ(B(5, 2), 10);
  EXPECT_EQ(B(10, 3), 120);
  EXPECT_EQ(B(10, 4), 210);
  EXPECT_EQ(B(2, 3), 0);
}

TEST(Binomial, PascalRule) {
  BinomialTable B(200, 6);
  for (index_t v = 1; v <= 200; ++v)
    for (int k = 1; k <= 6; ++k) EXPECT_EQ(B(v, k), B(v - 1, k - 1) + B(v - 1, k));
}

TEST(Binomial, SaturatesInsteadOfOverflowing) {
  BinomialTable B(100000, 8);
  EXPECT_EQ(B(100000, 8), BinomialTable::kSaturated);  // C(1e5, 8) ~ 2.5e35
  EXPECT_EQ(B(100000, 2), index_t{100000} * 99999 / 2);
}

TEST(CombinatorialNumberSystem, RoundTrip) {
  const index_t n = 50;
  BinomialTable B(n, 6);
  std::mt19937 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    int count = 1 + static_cast<int>(rng() % 6);
    std::vector<index_t> all(n);
    for (index_t i = 0; i < n; ++i) all[i] = i;
    std::shuffle(all.begin(), all.end(), rng);
    std::vector<index_t> vs(all.begin(), all.begin() + count);
    std::sort(vs.rbegin(), vs.rend());
    index_t idx = encode_simplex(B, vs.data(), count);
    std::vector<index_t> back(count);
    decode_simplex(B, idx, count, n, back.data());
    EXPECT_EQ(back, vs);
  }
}

TEST(CombinatorialNumberSystem, IndicesAreDenseAndColexOrdered) {
  // every 3-subset of {0..7} gets a distinct index in [0, C(8,3)); colex order = index order
  const index_t n = 8;
  BinomialTable B(n, 3);
  std::vector<std::vector<index_t>> seen(B(n, 3));
  for (index_t a = 2; a < n; ++a)
    for (index_t b = 1; b < a; ++b)
      for (index_t c = 0; c < b; ++c) {
        index_t vs[3] = {a, b, c};
        index_t idx = encode_simplex(B, vs, 3);
        ASSERT_GE(idx, 0);
        ASSERT_LT(idx, B(n, 3));
        EXPECT_TRUE(seen[idx].empty());
        seen[idx] = {a, b, c};
      }
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]);  // lexicographic on descending lists
}

TEST(CombinatorialNumberSystem, LargestVertexBelow) {
  BinomialTable B(100, 3);
  for (index_t idx = 0; idx < B(100, 2); idx += 37) {
    index_t v = tda::core::largest_vertex_below(B, idx, 2, 1, 99);
    EXPECT_LE(B(v, 2), idx);
    EXPECT_GT(B(v + 1, 2), idx);
  }
}
