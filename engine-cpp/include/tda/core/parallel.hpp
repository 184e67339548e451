// Small fork-join helpers for the core: a fixed number of workers (the calling
// thread is worker 0), dynamic chunked loops pulling from an atomic counter, and
// a parallel sort. Exceptions thrown by any worker stop the others at their next
// chunk and are rethrown on the calling thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
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

  // Like run(), and worker 0, once its own body is done, goes on calling poll()
  // about every millisecond until the other workers are done too: a poll that
  // throws (cancellation) still reaches them through failed() when worker 0 ran
  // out of work first.
  template <class Body, class Poll>
  void run_polled(Body&& body, Poll&& poll) {
    std::atomic<int> busy{threads_};
    struct Leave {
      std::atomic<int>& busy;
      ~Leave() { busy.fetch_sub(1, std::memory_order_acq_rel); }
    };
    run([&](int w) {
      {
        Leave leave{busy};
        body(w);
      }
      if (w == 0)
        while (busy.load(std::memory_order_acquire) > 0 && !failed()) {
          poll();
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
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

namespace detail {

// Sorts [lo, hi) with `parts` threads: partitioned in place around the median of
// a sample, each side sorted by its share of the threads. No extra memory.
template <class T, class Less>
void sort_in_parts(T* lo, T* hi, const Less& less, int parts) {
  const size_t n = static_cast<size_t>(hi - lo);
  if (parts <= 1 || n < (size_t{1} << 15)) {
    std::sort(lo, hi, less);
    return;
  }
  constexpr size_t kSample = 255;
  std::vector<T> sample;
  sample.reserve(kSample);
  for (size_t i = 0; i < kSample; ++i) sample.push_back(lo[i * (n / kSample)]);
  std::nth_element(sample.begin(), sample.begin() + kSample / 2, sample.end(), less);
  const T pivot = sample[kSample / 2];
  T* mid = std::partition(lo, hi, [&](const T& x) { return less(x, pivot); });
  const int left = parts / 2;
  std::thread worker([&] { sort_in_parts(lo, mid, less, left); });
  try {
    sort_in_parts(mid, hi, less, parts - left);
  } catch (...) {  // (a nested thread that could not start) the worker is joined first
    worker.join();
    throw;
  }
  worker.join();
}

}  // namespace detail

// Sorts v with `threads` workers. The order is the one of std::sort for a strict
// total order (ties never occur in the core's uses). The comparison must not throw.
template <class T, class Less>
void parallel_sort(std::vector<T>& v, Less less, int threads) {
  detail::sort_in_parts(v.data(), v.data() + v.size(), less, std::max(1, threads));
}

}  // namespace tda::core
