// Bounded pool of computation workers. Capacity is counted in slots: a job
// takes a slot when it is admitted (before its input has fully arrived) and
// gives it back when it ends, so at most `workers + queue_depth` jobs are
// admitted at once and a submitted job never finds the queue full.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tda::server {

class WorkerPool {
 public:
  WorkerPool(size_t workers, size_t queue_depth);
  ~WorkerPool();  // drains the queue and joins (see shutdown)

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Takes one slot; false when every worker and queue slot is taken.
  bool try_acquire_slot();
  // Gives back a slot that was acquired but never submitted.
  void release_slot();
  // Runs `task` on a worker; the caller must hold a slot, which is released
  // when the task returns. Tasks must not throw.
  void submit(std::function<void()> task);

  // Runs the tasks still queued, then joins the workers. Idempotent.
  void shutdown();

  size_t workers() const { return workers_count_; }
  size_t queue_depth() const { return queue_depth_; }
  size_t running() const;
  size_t queued() const;

 private:
  void worker_loop();

  const size_t workers_count_;
  const size_t queue_depth_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  size_t slots_taken_ = 0;
  size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Bytes reserved by admitted jobs against the engine's memory limit.
class MemoryLedger {
 public:
  explicit MemoryLedger(uint64_t limit) : limit_(limit) {}

  uint64_t limit() const { return limit_; }
  uint64_t reserved() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reserved_;
  }
  uint64_t available() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reserved_ >= limit_ ? 0 : limit_ - reserved_;
  }
  // Reserves `bytes` if they fit; otherwise reports what is available.
  bool try_reserve(uint64_t bytes, uint64_t* available_out) {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t available = reserved_ >= limit_ ? 0 : limit_ - reserved_;
    if (available_out) *available_out = available;
    if (bytes > available) return false;
    reserved_ += bytes;
    return true;
  }
  void release(uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    reserved_ = bytes > reserved_ ? 0 : reserved_ - bytes;
  }

 private:
  const uint64_t limit_;
  mutable std::mutex mu_;
  uint64_t reserved_ = 0;
};

}  // namespace tda::server
