// Open-addressing hash map from non-negative int64 keys to uint64 values
// (linear probing, power-of-two capacity, no deletion).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tda::core {

class PivotMap {
 public:
  static constexpr int64_t kEmpty = -1;

  explicit PivotMap(size_t expected = 16) { reset(expected); }

  void reset(size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    slots_.assign(cap, Slot{kEmpty, 0});
    mask_ = cap - 1;
    size_ = 0;
  }

  // Pointer to the value of key, or nullptr.
  const uint64_t* find(int64_t key) const {
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.value;
      if (s.key == kEmpty) return nullptr;
    }
  }
  bool contains(int64_t key) const { return find(key) != nullptr; }

  // Inserts or overwrites.
  void insert(int64_t key, uint64_t value) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.key == key) {
        s.value = value;
        return;
      }
      if (s.key == kEmpty) {
        s.key = key;
        s.value = value;
        ++size_;
        return;
      }
    }
  }

  size_t size() const { return size_; }
  size_t bytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    int64_t key;
    uint64_t value;
  };

  static size_t hash(int64_t key) {
    uint64_t x = static_cast<uint64_t>(key) * 0x9E3779B97F4A7C15ull;
    return static_cast<size_t>(x ^ (x >> 29));
  }

  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.size() * 2, Slot{kEmpty, 0});
    mask_ = slots_.size() - 1;
    size_ = 0;
    for (const Slot& s : old)
      if (s.key != kEmpty) insert(s.key, s.value);
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace tda::core
