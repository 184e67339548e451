// The runtime memory guard of a computation: the large allocations of a job are
// charged to a budget, part by part, where they happen (before the allocation
// when its size is known, right after it otherwise) and between reduction steps.
// Over budget, the computation stops with MemoryLimitExceeded, so a job whose
// admission estimate was wrong costs a clear error instead of the process.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>

namespace tda::core {

// Thrown when a job needs more memory than its budget allows (and the owner of
// the budget could not give more). The job's memory is freed by unwinding.
struct MemoryLimitExceeded : std::exception {
  MemoryLimitExceeded(uint64_t needed, uint64_t allowed)
      : needed_bytes(needed),
        allowed_bytes(allowed),
        message("memory limit exceeded: the job needs at least " + std::to_string(needed) + " bytes, its budget is " +
                std::to_string(allowed) + " bytes") {}
  const char* what() const noexcept override { return message.c_str(); }
  uint64_t needed_bytes;
  uint64_t allowed_bytes;
  std::string message;
};

class MemoryBudget {
 public:
  // The accounted structures; setting a part replaces its previous figure.
  enum Part {
    kInput,      // the input values (coordinates or distances)
    kDistances,  // dense matrix, neighbour lists and the grid building them
    kEdges,      // the edge list
    kReduction,  // columns and pivot tables of the Rips reduction
    kWorking,    // its working columns and V (the fill-in)
    kSimplices,  // the lists of (k-1)-simplices kept for the next assembly
    kAlpha,      // Delaunay triangulation, filtered complex and columns of Alpha
    kParts
  };

  // grow(extra) may give the budget `extra` more bytes (the server asks its
  // memory ledger); without it the budget is fixed. allowed == 0: unlimited.
  explicit MemoryBudget(uint64_t allowed, std::function<bool(uint64_t)> grow = {})
      : allowed_(allowed), grow_(std::move(grow)) {}

  // Sets part p to `bytes`; throws MemoryLimitExceeded when the total does not fit.
  void set(Part p, uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    in_use_ = in_use_ - parts_[p] + bytes;
    parts_[p] = bytes;
    peak_ = std::max(peak_, in_use_);
    reduction_peak_ = std::max(reduction_peak_, parts_[kReduction] + parts_[kSimplices]);
    working_peak_ = std::max(working_peak_, parts_[kWorking]);
    if (allowed_ == 0 || in_use_ <= allowed_) return;
    if (grow_) {
      // ask for what is missing plus a margin, so that growth is not asked for at every step
      const uint64_t missing = in_use_ - allowed_;
      const uint64_t margin = std::max<uint64_t>(allowed_ / 4, uint64_t{16} << 20);
      if (grow_(missing + margin)) {
        allowed_ += missing + margin;
        grown_ += missing + margin;
        return;
      }
      if (grow_(missing)) {
        allowed_ += missing;
        grown_ += missing;
        return;
      }
    }
    const uint64_t needed = in_use_, allowed = allowed_;
    in_use_ -= bytes;  // (the allocation is not made, or freed by unwinding)
    parts_[p] = 0;
    throw MemoryLimitExceeded(needed, allowed);
  }

  uint64_t in_use() const {
    std::lock_guard<std::mutex> lock(mu_);
    return in_use_;
  }
  uint64_t peak() const {
    std::lock_guard<std::mutex> lock(mu_);
    return peak_;
  }
  // The peaks of the Rips reduction's structures (kReduction + kSimplices) and of
  // its working columns and V (kWorking), what the estimate's fill-in pilot
  // measures (fill_in.hpp).
  uint64_t reduction_peak() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reduction_peak_;
  }
  uint64_t working_peak() const {
    std::lock_guard<std::mutex> lock(mu_);
    return working_peak_;
  }
  uint64_t allowed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return allowed_;
  }
  // Bytes obtained through grow() (the owner gives them back after the job).
  uint64_t grown() const {
    std::lock_guard<std::mutex> lock(mu_);
    return grown_;
  }

 private:
  mutable std::mutex mu_;
  uint64_t allowed_;
  std::function<bool(uint64_t)> grow_;
  std::array<uint64_t, kParts> parts_{};
  uint64_t in_use_ = 0, peak_ = 0, reduction_peak_ = 0, working_peak_ = 0, grown_ = 0;
};

}  // namespace tda::core
