// What every persistence computation of the core shares: bars, progress stages,
// the caller's callbacks, resource estimates and the core's limits.
#pragma once

#include <cstdint>
#include <functional>

#include "tda/core/memory_budget.hpp"
#include "tda/core/types.hpp"

namespace tda::core {

struct Interval {
  double birth;
  double death;  // +infinity for essential classes
};

// (values shared with tda.common.v1.Stage; Distances covers the neighbour lists
// and the edge list, Collapse the edge collapse, Dim0 the sort of the edges,
// their apparent pairs and the union-find, Assembly the columns of a dimension
// k >= 2: the cofacets of the (k-1)-simplices, clearing and apparent pairs)
enum class Stage { Loading = 2, Distances = 3, Dim0 = 4, Reduction = 5, Done = 6, Collapse = 7, Assembly = 8 };

struct ProgressInfo {
  Stage stage;
  int dimension;
  uint64_t columns_done;
  uint64_t columns_total;
  uint64_t bytes_in_use;
};

struct Callbacks {
  std::function<void(const ProgressInfo&)> on_progress;  // optional
  std::function<bool()> is_cancelled;                    // optional; true -> throw Cancelled
  MemoryBudget* memory = nullptr;                        // optional; over budget -> throw MemoryLimitExceeded
};

struct Estimate {
  uint64_t memory_bytes;
  double seconds;
};

// Largest homological dimension the Rips core accepts.
inline constexpr int kMaxDimension = 60;
// Largest coefficient prime: coefficients are packed into 8 bits next to a
// 55-bit simplex index (working-column entries, pivot owners), so p <= 255.
inline constexpr int kMaxModulus = 251;

// Alpha complexes: points in R^2 or R^3, at most 2^28 of them.
inline constexpr uint32_t kAlphaMinDim = 2;
inline constexpr uint32_t kAlphaMaxDim = 3;
inline constexpr uint64_t kAlphaMaxPoints = uint64_t{1} << 28;

inline bool is_prime(int p) {
  if (p < 2) return false;
  for (int q = 2; q * q <= p; ++q)
    if (p % q == 0) return false;
  return true;
}

// Charges part p of the job's memory budget with `bytes` (no budget: nothing).
inline void charge(const Callbacks& cb, MemoryBudget::Part p, uint64_t bytes) {
  if (cb.memory) cb.memory->set(p, bytes);
}

// The bytes a progress report carries: the budget's figure when there is one
// (everything charged to the job), else the caller's own count.
inline uint64_t reported_bytes(const Callbacks& cb, uint64_t own) { return cb.memory ? cb.memory->in_use() : own; }

inline void check_cancel(const Callbacks& cb) {
  if (cb.is_cancelled && cb.is_cancelled()) throw Cancelled();
}

}  // namespace tda::core
