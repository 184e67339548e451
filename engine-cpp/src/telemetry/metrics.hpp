// The engine's Prometheus metrics: counters and a histogram updated by the calls
// (lock-free atomics), gauges read from the engine at scrape time, rendered in the
// Prometheus text exposition format (version 0.0.4).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace tda::telemetry {

enum class Outcome { Completed, Cancelled, Invalid, Refused, Unavailable, Failed, Count };
enum class Algorithm { Rips, Alpha, Count };
enum class Refusal { Busy, Memory, ShuttingDown, Count };
enum class CancelPhase { Receiving, Queued, Running, Count };

// Upper bounds (seconds) of the job duration histogram.
inline constexpr std::array<double, 12> kDurationBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5,   1,    2.5,   10,   60,  300};

class EngineMetrics {
 public:
  void job_ended(Outcome outcome);
  void job_duration(Algorithm algorithm, double seconds);
  void refused(Refusal reason);
  void cancelled(CancelPhase phase);
  // Bytes the core reports in use, summed over running jobs (add/remove deltas).
  void add_bytes_in_use(int64_t delta);

  // Values read at scrape time from the server.
  struct Gauges {
    uint64_t memory_limit_bytes = 0;
    uint64_t memory_reserved_bytes = 0;
    uint64_t jobs_running = 0;
    uint64_t jobs_queued = 0;
    uint64_t workers = 0;
    uint64_t queue_capacity = 0;
  };
  // Renders every metric; `gauges` may be empty (then only the counters).
  std::string render(const std::function<Gauges()>& gauges) const;

 private:
  std::array<std::atomic<uint64_t>, static_cast<size_t>(Outcome::Count)> jobs_{};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(Refusal::Count)> refusals_{};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(CancelPhase::Count)> cancels_{};
  struct Histogram {
    std::array<std::atomic<uint64_t>, kDurationBuckets.size()> buckets{};  // non-cumulative
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_micros{0};
  };
  std::array<Histogram, static_cast<size_t>(Algorithm::Count)> durations_;
  std::atomic<int64_t> bytes_in_use_{0};
};

// The process's metrics (one engine per process; in-process tests share it).
EngineMetrics& engine_metrics();

}  // namespace tda::telemetry
