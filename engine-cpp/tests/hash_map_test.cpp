#include "tda/core/hash_map.hpp"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

using tda::core::PivotMap;

TEST(PivotMap, InsertFindOverwrite) {
  PivotMap m(4);
  EXPECT_EQ(m.find(5), nullptr);
  m.insert(5, 50);
  m.insert(0, 7);
  ASSERT_NE(m.find(5), nullptr);
  EXPECT_EQ(*m.find(5), 50u);
  EXPECT_EQ(*m.find(0), 7u);
  m.insert(5, 51);
  EXPECT_EQ(*m.find(5), 51u);
  EXPECT_EQ(m.size(), 2u);
  EXPECT_FALSE(m.contains(6));
}

TEST(PivotMap, AgreesWithUnorderedMapWhileGrowing) {
  PivotMap m(1);
  std::unordered_map<int64_t, uint64_t> ref;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200000; ++i) {
    int64_t k = static_cast<int64_t>(rng() >> 8) % 500000;
    uint64_t v = rng();
    m.insert(k, v);
    ref[k] = v;
  }
  EXPECT_EQ(m.size(), ref.size());
  for (const auto& [k, v] : ref) {
    ASSERT_NE(m.find(k), nullptr);
    EXPECT_EQ(*m.find(k), v);
  }
  for (int64_t k = 500000; k < 501000; ++k) EXPECT_FALSE(m.contains(k));
}
