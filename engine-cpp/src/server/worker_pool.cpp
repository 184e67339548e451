#include "server/worker_pool.hpp"

#include <algorithm>

namespace tda::server {

WorkerPool::WorkerPool(size_t workers, size_t queue_depth)
    : workers_count_(std::max<size_t>(1, workers)), queue_depth_(queue_depth) {
  threads_.reserve(workers_count_);
  for (size_t i = 0; i < workers_count_; ++i) threads_.emplace_back([this] { worker_loop(); });
}

WorkerPool::~WorkerPool() { shutdown(); }

bool WorkerPool::try_acquire_slot() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || slots_taken_ >= workers_count_ + queue_depth_) return false;
  ++slots_taken_;
  return true;
}

void WorkerPool::release_slot() {
  std::lock_guard<std::mutex> lock(mu_);
  if (slots_taken_ > 0) --slots_taken_;
}

void WorkerPool::submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void WorkerPool::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  std::lock_guard<std::mutex> lock(mu_);
  threads_.clear();
}

size_t WorkerPool::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

size_t WorkerPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void WorkerPool::worker_loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and nothing left to run
      task = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    task();
    {
      std::lock_guard<std::mutex> lock(mu_);
      --running_;
      if (slots_taken_ > 0) --slots_taken_;
    }
  }
}

}  // namespace tda::server
