// The pivot table of the concurrent reduction: simplex index (the pivot) ->
// owner code (column, coefficient), shared by every worker of one dimension.
// Open addressing with linear probing over a fixed power-of-two capacity; a key
// is claimed once by compare-and-swap and never removed, and the owner of a key
// changes only by compare-and-swap on its value, so readers need no lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>

#include "tda/core/parallel.hpp"
#include "tda/core/types.hpp"

namespace tda::core {

class ConcurrentPivotTable {
 public:
  static constexpr uint64_t kUnowned = ~uint64_t{0};  // value of a slot whose key has no owner (yet)
  static constexpr index_t kNoKey = -1;               // key of an unused slot

  struct Slot {
    std::atomic<index_t> key;
    std::atomic<uint64_t> value;
  };

  // Room for `expected` keys (at least twice as many slots, plus slack), cleared
  // by `threads` workers.
  ConcurrentPivotTable(size_t expected, int threads) {
    while (cap_ < 2 * expected + 1024) cap_ <<= 1;
    mask_ = cap_ - 1;
    slots_.reset(new Slot[cap_]);
    WorkerGroup(threads).chunks(cap_, 1 << 16, [&](size_t lo, size_t hi, int) {
      for (size_t i = lo; i < hi; ++i) {
        slots_[i].key.store(kNoKey, std::memory_order_relaxed);
        slots_[i].value.store(kUnowned, std::memory_order_relaxed);
      }
    });
  }

  // The slot of `key`, or nullptr when nobody inserted it.
  Slot* find(index_t key) const {
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      const index_t k = slots_[i].key.load(std::memory_order_acquire);
      if (k == key) return &slots_[i];
      if (k == kNoKey) return nullptr;
    }
  }

  // The slot of `key`, inserted (value kUnowned) when missing. Throws when the
  // table is full, which the capacity rules out for `expected` keys.
  Slot* insert(index_t key) {
    for (size_t i = hash(key) & mask_, probes = 0;; i = (i + 1) & mask_, ++probes) {
      if (probes > cap_) throw std::runtime_error("pivot table full");
      index_t k = slots_[i].key.load(std::memory_order_acquire);
      if (k == kNoKey && slots_[i].key.compare_exchange_strong(k, key, std::memory_order_acq_rel)) return &slots_[i];
      if (k == key) return &slots_[i];
    }
  }

  // Whether some column owns `key` as its pivot.
  bool claimed(index_t key) const {
    const Slot* s = find(key);
    return s && s->value.load(std::memory_order_acquire) != kUnowned;
  }

  size_t capacity() const { return cap_; }
  size_t bytes() const { return cap_ * sizeof(Slot); }

  // Keys with an owner; call only once the workers are done.
  size_t owned() const {
    size_t count = 0;
    for (size_t i = 0; i < cap_; ++i) count += slots_[i].value.load(std::memory_order_relaxed) != kUnowned;
    return count;
  }
  // f(key, owner) for every owned key; call only once the workers are done.
  template <class F>
  void for_each_owned(F&& f) const {
    for (size_t i = 0; i < cap_; ++i) {
      const uint64_t v = slots_[i].value.load(std::memory_order_relaxed);
      if (v != kUnowned) f(slots_[i].key.load(std::memory_order_relaxed), v);
    }
  }

 private:
  static size_t hash(index_t key) {
    uint64_t x = static_cast<uint64_t>(key) * 0x9E3779B97F4A7C15ull;
    return static_cast<size_t>(x ^ (x >> 29));
  }

  size_t cap_ = 16;
  size_t mask_ = 15;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace tda::core
