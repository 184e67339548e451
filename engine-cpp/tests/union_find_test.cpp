#include "tda/core/union_find.hpp"

#include <gtest/gtest.h>

using tda::core::UnionFind;

TEST(UnionFind, MergesAndReportsRedundantEdges) {
  UnionFind uf(6);
  EXPECT_TRUE(uf.unite(0, 1));
  EXPECT_TRUE(uf.unite(2, 3));
  EXPECT_FALSE(uf.unite(1, 0));
  EXPECT_TRUE(uf.unite(1, 3));
  EXPECT_FALSE(uf.unite(0, 2));
  EXPECT_EQ(uf.find(0), uf.find(3));
  EXPECT_NE(uf.find(0), uf.find(4));
  EXPECT_NE(uf.find(4), uf.find(5));
}

TEST(UnionFind, CountsComponentsOfAPath) {
  const uint32_t n = 1000;
  UnionFind uf(n);
  int merges = 0;
  for (uint32_t i = 0; i + 1 < n; i += 2) merges += uf.unite(i, i + 1);
  for (uint32_t i = 1; i + 1 < n; i += 2) merges += uf.unite(i, i + 1);
  EXPECT_EQ(merges, static_cast<int>(n - 1));
  for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(uf.find(i), uf.find(0));
}
