// Small fork-join helpers for the core: a fixed number of workers (the calling
// thread is worker 0), dynamic chunked loops pulling from an atomic counter, and
// a parallel sort. Exceptions thrown by any worker stop the others at their next
// chunk and are rethrown on the calling thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tda::core {

// 0 = all hardware threads.
inline int resolve_threads(int requested) {
  if (requested > 0) return requested;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

class WorkerGroup {
 public:
  explicit WorkerGroup(int threads) : threads_(std::max(1, threads)) {}
  int size() const { return threads_; }
  bool failed() const { return failed_.load(std::memory_order_relaxed); }

  // Runs body(worker) on every worker and waits for all of them.
  template <class Body>
  void run(Body&& body) {
    failed_.store(false);
    error_ = nullptr;
    if (threads_ == 1) {
      body(0);
      return;
    }
    std::vector<std::thread> pool;
    pool.reserve(threads_ - 1);
    auto guarded = [&](int w) {
      try {
        body(w);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
        failed_.store(true);
      }
    };
    try {
      for (int w = 1; w < threads_; ++w) pool.emplace_back(guarded, w);
    } catch (...) {
      failed_.store(true);
      for (auto& t : pool) t.join();
      throw;
    }
    guarded(0);
    for (auto& t : pool) t.join();
    if (error_) std::rethrow_exception(error_);
  }

  // body(begin, end, worker) over [0, count) in chunks of `chunk` items, handed out
  // dynamically. poll() runs on worker 0 between its chunks (cancellation, progress).
  template <class Body, class Poll>
  void chunks(size_t count, size_t chunk, Body&& body, Poll&& poll) {
    chunk = std::max<size_t>(1, chunk);
    std::atomic<size_t> next{0};
    run([&](int w) {
      while (!failed()) {
        if (w == 0) poll();
        const size_t begin = next.fetch_add(chunk, std::memory_order_relaxed);
        if (begin >= count) break;
        body(begin, std::min(count, begin + chunk), w);
      }
    });
  }
  template <class Body>
  void chunks(size_t count, size_t chunk, Body&& body) {
    chunks(count, chunk, std::forward<Body>(body), [] {});
  }

 private:
  int threads_;
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::exception_ptr error_;
};

// Sorts v with `threads` workers: equal slices sorted concurrently, then merged
// pairwise (the merges of one round also run concurrently). The order is the one
// of std::sort for a strict total order (ties never occur in the core's uses).
template <class T, class Less>
void parallel_sort(std::vector<T>& v, Less less, int threads) {
  const size_t n = v.size();
  size_t parts = static_cast<size_t>(std::max(1, threads));
  if (parts == 1 || n < 1u << 15) {
    std::sort(v.begin(), v.end(), less);
    return;
  }
  std::vector<size_t> bounds(parts + 1);
  for (size_t i = 0; i <= parts; ++i) bounds[i] = n * i / parts;
  WorkerGroup g(static_cast<int>(parts));
  g.run([&](int w) { std::sort(v.begin() + bounds[w], v.begin() + bounds[w + 1], less); });
  while (parts > 1) {
    const size_t pairs = parts / 2;
    WorkerGroup m(static_cast<int>(std::min<size_t>(pairs, static_cast<size_t>(threads))));
    m.chunks(pairs, 1, [&](size_t b, size_t, int) {
      std::inplace_merge(v.begin() + bounds[2 * b], v.begin() + bounds[2 * b + 1], v.begin() + bounds[2 * b + 2], less);
    });
    std::vector<size_t> nb;
    for (size_t i = 0; i <= parts; i += 2) nb.push_back(bounds[i]);
    if (nb.back() != n) nb.push_back(n);
    bounds.swap(nb);
    parts = bounds.size() - 1;
  }
}

}  // namespace tda::core
