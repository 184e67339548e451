// The working column against a plain model: a multiset of entries with Z/p
// coefficients summed per index. Small split limits force the bucketed mode.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "tda/core/working_column.hpp"

using namespace tda::core;

namespace {

// Filtration order: diameter ascending, ties by index descending (codes are plain indices here).
struct Later {
  bool operator()(const Entry& a, const Entry& b) const {
    return a.diam > b.diam || (a.diam == b.diam && a.code < b.code);
  }
  static index_t index(const Entry& e) { return e.code; }
};
using Column = WorkingColumn<Later>;

// Pops entries with equal codes together; returns the earliest with a nonzero sum mod p, or code -1.
Entry pop_pivot(Column& c, uint32_t p, uint32_t* coef) {
  while (!c.empty()) {
    const Entry top = c.top();
    uint32_t sum = 0;
    while (!c.empty() && c.top().code == top.code) {
      sum += 1;  // every entry carries coefficient 1 in this test
      c.pop();
    }
    if (sum % p != 0) {
      *coef = sum % p;
      return top;
    }
  }
  return Entry{0, -1};
}

// The model: index -> (diameter, count mod p); the earliest nonzero is the pivot.
struct Model {
  std::map<index_t, std::pair<value_t, uint32_t>> m;
  uint32_t p;
  void add(const Entry& e) {
    auto& v = m[e.code];
    v.first = e.diam;
    v.second = (v.second + 1) % p;
  }
  Entry pop(uint32_t* coef) {
    const Entry* best = nullptr;
    Entry b{};
    for (const auto& [idx, v] : m)
      if (v.second != 0) {
        Entry e{v.first, idx};
        if (!best || Later{}(b, e)) {
          b = e;
          best = &b;
        }
      }
    if (!best) return Entry{0, -1};
    *coef = m[b.code].second;
    m.erase(b.code);
    // entries earlier than the pivot all cancelled; they leave the column too
    for (auto it = m.begin(); it != m.end();) {
      if (it->second.second == 0) it = m.erase(it);
      else ++it;
    }
    return b;
  }
};

void run_trial(std::mt19937& rng, size_t split, uint32_t p, int distinct_diams) {
  Column col(split);
  Model model{{}, p};
  const index_t universe = 400;
  // a fixed diameter per index (as in a filtration)
  std::vector<value_t> diam(universe);
  for (auto& d : diam) d = static_cast<value_t>(rng() % distinct_diams);
  for (int round = 0; round < 60; ++round) {
    const int adds = 1 + static_cast<int>(rng() % 200);
    col.add([&](auto&& sink) {
      for (int a = 0; a < adds; ++a) {
        const index_t idx = static_cast<index_t>(rng() % universe);
        sink(Entry{diam[idx], idx});
        model.add(Entry{diam[idx], idx});
      }
    });
    for (int a = static_cast<int>(rng() % 5); a > 0; --a) {
      const index_t idx = static_cast<index_t>(rng() % universe);
      col.push(Entry{diam[idx], idx});
      model.add(Entry{diam[idx], idx});
    }
    const int pops = static_cast<int>(rng() % 4);
    for (int q = 0; q < pops; ++q) {
      uint32_t c1 = 0, c2 = 0;
      const Entry got = pop_pivot(col, p, &c1);
      const Entry want = model.pop(&c2);
      ASSERT_EQ(got.code, want.code) << "split=" << split << " p=" << p << " round " << round;
      if (want.code < 0) break;
      ASSERT_EQ(got.diam, want.diam);
      ASSERT_EQ(c1, c2);
    }
  }
  // drain
  while (true) {
    uint32_t c1 = 0, c2 = 0;
    const Entry got = pop_pivot(col, p, &c1);
    const Entry want = model.pop(&c2);
    ASSERT_EQ(got.code, want.code) << "split=" << split << " p=" << p << " (drain)";
    if (want.code < 0) break;
  }
}

TEST(WorkingColumn, MatchesAModelInHeapAndBucketModes) {
  std::mt19937 rng(7);
  for (size_t split : {size_t{0}, size_t{1}, size_t{8}, size_t{64}})
    for (uint32_t p : {2u, 3u})
      for (int diams : {1, 3, 50, 1000})
        for (int trial = 0; trial < 5; ++trial) run_trial(rng, split, p, diams);
}

TEST(WorkingColumn, SecondIsTheEntryAfterTheTopWhenItIsAtTheFront) {
  std::mt19937 rng(11);
  for (size_t split : {size_t{0}, size_t{4}}) {
    Column col(split);
    std::vector<Entry> all;
    col.add([&](auto&& sink) {
      for (int i = 0; i < 500; ++i) {
        Entry e{static_cast<value_t>(rng() % 40), static_cast<index_t>(i)};
        all.push_back(e);
        sink(e);
      }
    });
    std::sort(all.begin(), all.end(), [](const Entry& a, const Entry& b) { return Later{}(b, a); });
    for (size_t i = 0; i < all.size(); ++i) {
      ASSERT_FALSE(col.empty());
      ASSERT_EQ(col.top().code, all[i].code) << i;
      const Entry* s = col.second();
      if (i + 1 < all.size()) {
        // null only when the next entry waits in a later bucket: then it has a
        // larger diameter, so it can never be an equal entry to cancel with
        if (split == 0) {
          ASSERT_NE(s, nullptr);
        }
        if (s) {
          ASSERT_EQ(s->code, all[i + 1].code) << i;
        } else {
          ASSERT_GT(all[i + 1].diam, all[i].diam) << i;
        }
      }
      col.pop();
    }
    EXPECT_TRUE(col.empty());
  }
}

TEST(WorkingColumn, ClearReturnsToAnEmptyHeap) {
  Column col(2);
  col.add([&](auto&& sink) {
    for (int i = 0; i < 100; ++i) sink(Entry{static_cast<value_t>(i % 7), i});
  });
  EXPECT_FALSE(col.empty());
  col.clear();
  EXPECT_TRUE(col.empty());
  col.push(Entry{1, 5});
  col.push(Entry{0, 9});
  ASSERT_FALSE(col.empty());
  EXPECT_EQ(col.top().code, 9);
}

}  // namespace

// Columns long enough for buckets of thousands of entries, whose runs are radix-
// sorted (indices offset past 32 bits too), or sorted by comparison when the
// indices spread over too many bits for one 64-bit key with the diameters: over
// Z/2 the pivots come out as the entries of odd multiplicity in filtration order.
TEST(WorkingColumn, LongRunsComeOutInFiltrationOrder) {
  std::mt19937_64 rng(11);
  for (int mode = 0; mode < 3; ++mode)
    for (int diams : {1, 7, 5000, 1 << 20}) {
      // plain indices, offset by 2^40, spread over 61 bits
      auto code_of = [mode](index_t idx) { return mode == 0 ? idx : mode == 1 ? (index_t{1} << 40) + idx : idx << 45; };
      Column col(4096);
      std::map<index_t, std::pair<value_t, int>> count;
      const index_t universe = 60000;
      std::vector<value_t> diam(universe);
      for (auto& d : diam) d = static_cast<value_t>(rng() % diams) * 0.25f;
      for (int round = 0; round < 40; ++round)
        col.add([&](auto&& sink) {
          for (int a = 0; a < 2000; ++a) {
            const index_t idx = static_cast<index_t>(rng() % universe);
            sink(Entry{diam[idx], code_of(idx)});
            auto& c = count[code_of(idx)];
            c.first = diam[idx];
            ++c.second;
          }
        });
      std::vector<Entry> want;
      for (const auto& [idx, c] : count)
        if (c.second % 2) want.push_back(Entry{c.first, idx});
      std::sort(want.begin(), want.end(), [](const Entry& a, const Entry& b) { return Later{}(b, a); });
      for (size_t i = 0; i <= want.size(); ++i) {
        uint32_t coef = 0;
        const Entry got = pop_pivot(col, 2, &coef);
        if (i == want.size()) {
          ASSERT_EQ(got.code, -1) << "mode " << mode << " diams " << diams;
          break;
        }
        ASSERT_EQ(got.code, want[i].code) << "mode " << mode << " diams " << diams << " entry " << i;
        ASSERT_EQ(got.diam, want[i].diam);
      }
    }
}
