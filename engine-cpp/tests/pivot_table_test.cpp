#include "tda/core/pivot_table.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

using tda::core::ConcurrentPivotTable;
using tda::core::index_t;

namespace {
constexpr uint64_t kUnowned = ConcurrentPivotTable::kUnowned;
}

TEST(ConcurrentPivotTable, FindInsertAndOwners) {
  ConcurrentPivotTable t(10, 1);
  EXPECT_EQ(t.find(7), nullptr);
  EXPECT_FALSE(t.claimed(7));
  ConcurrentPivotTable::Slot* s = t.insert(7);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(t.insert(7), s);  // the same slot again
  EXPECT_EQ(t.find(7), s);
  EXPECT_FALSE(t.claimed(7));  // inserted, no owner yet
  s->value.store(42);
  EXPECT_TRUE(t.claimed(7));
  EXPECT_EQ(t.owned(), 1u);
  t.insert(0)->value.store(3);
  t.insert(9);  // no owner
  std::map<index_t, uint64_t> seen;
  t.for_each_owned([&](index_t k, uint64_t v) { seen[k] = v; });
  EXPECT_EQ(seen, (std::map<index_t, uint64_t>{{0, 3}, {7, 42}}));
}

TEST(ConcurrentPivotTable, CapacityIsAPowerOfTwoWithRoom) {
  for (size_t expected : {0u, 1u, 1000u, 5000u, 100000u}) {
    ConcurrentPivotTable t(expected, 2);
    EXPECT_EQ(t.capacity() & (t.capacity() - 1), 0u);
    EXPECT_GE(t.capacity(), 2 * expected + 1024);
    EXPECT_EQ(t.bytes(), t.capacity() * sizeof(ConcurrentPivotTable::Slot));
  }
}

TEST(ConcurrentPivotTable, FullTableThrowsInsteadOfLooping) {
  ConcurrentPivotTable t(0, 1);
  const size_t cap = t.capacity();
  for (size_t k = 0; k < cap; ++k) t.insert(static_cast<index_t>(k));
  EXPECT_THROW(t.insert(static_cast<index_t>(cap)), std::runtime_error);
  EXPECT_NE(t.find(static_cast<index_t>(cap - 1)), nullptr);
}

TEST(ConcurrentPivotTable, AgreesWithAMapUnderCollisions) {
  ConcurrentPivotTable t(20000, 1);
  std::map<index_t, uint64_t> ref;
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20000; ++i) {
    // keys spaced by the table's capacity collide in the hash's low bits less
    // than sequential ones would; mix both
    const index_t key = (i % 2) ? static_cast<index_t>(rng() >> 12) : static_cast<index_t>(i) * 4096;
    const uint64_t v = rng() >> 1;
    t.insert(key)->value.store(v);
    ref[key] = v;
  }
  for (const auto& [k, v] : ref) {
    ASSERT_NE(t.find(k), nullptr);
    EXPECT_EQ(t.find(k)->value.load(), v);
  }
  EXPECT_EQ(t.owned(), ref.size());
  EXPECT_EQ(t.find(-5), nullptr);
}

// Several threads race to insert the same keys and to claim them by
// compare-and-swap: every key ends in one slot with exactly one owner, the
// winner of its CAS.
TEST(ConcurrentPivotTable, ConcurrentClaimsHaveOneWinnerPerKey) {
  constexpr int kThreads = 4;
  constexpr index_t kKeys = 50000;
  ConcurrentPivotTable t(kKeys, 2);
  std::vector<std::vector<index_t>> won(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      std::mt19937 rng(w);
      for (index_t i = 0; i < kKeys; ++i) {
        const index_t key = (i * 7919 + static_cast<index_t>(rng() % 3)) % kKeys;
        ConcurrentPivotTable::Slot* s = t.insert(key);
        uint64_t expected = kUnowned;
        if (s->value.compare_exchange_strong(expected, static_cast<uint64_t>(w))) won[w].push_back(key);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::map<index_t, int> winners;
  for (int w = 0; w < kThreads; ++w)
    for (index_t k : won[w]) {
      EXPECT_EQ(winners.count(k), 0u) << "key " << k << " claimed twice";
      winners[k] = w;
    }
  size_t owned = 0;
  t.for_each_owned([&](index_t k, uint64_t v) {
    ++owned;
    ASSERT_EQ(winners.count(k), 1u);
    EXPECT_EQ(static_cast<int>(v), winners[k]);
  });
  EXPECT_EQ(owned, winners.size());
  EXPECT_EQ(t.owned(), winners.size());
  // takeover: an owner replaced by CAS from its known value only
  ConcurrentPivotTable::Slot* s = t.find(winners.begin()->first);
  uint64_t stale = 99;
  EXPECT_FALSE(s->value.compare_exchange_strong(stale, 7));
  EXPECT_EQ(stale, static_cast<uint64_t>(winners.begin()->second));
  EXPECT_TRUE(s->value.compare_exchange_strong(stale, 7));
  EXPECT_EQ(s->value.load(), 7u);
}
