#include "telemetry/metrics.hpp"

#include <cstdio>

#include "telemetry/exporter.hpp"

namespace tda::telemetry {
namespace {

constexpr const char* kOutcomes[] = {"completed", "cancelled", "invalid", "refused", "unavailable", "failed"};
constexpr const char* kAlgorithms[] = {"rips", "alpha"};
constexpr const char* kRefusals[] = {"engine_busy", "memory_limit", "shutting_down"};
constexpr const char* kPhases[] = {"receiving", "queued", "running"};

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const char* name, const std::string& labels, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  out += name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += ' ';
  out += buf;
  out += '\n';
}

std::string label(const char* key, const char* value) { return std::string(key) + "=\"" + value + "\""; }

}  // namespace

void EngineMetrics::job_ended(Outcome outcome) {
  jobs_[static_cast<size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
}

void EngineMetrics::job_duration(Algorithm algorithm, double seconds) {
  Histogram& h = durations_[static_cast<size_t>(algorithm)];
  size_t i = 0;
  while (i < kDurationBuckets.size() && seconds > kDurationBuckets[i]) ++i;
  if (i < kDurationBuckets.size()) h.buckets[i].fetch_add(1, std::memory_order_relaxed);
  h.count.fetch_add(1, std::memory_order_relaxed);
  h.sum_micros.fetch_add(static_cast<uint64_t>(seconds > 0 ? seconds * 1e6 : 0), std::memory_order_relaxed);
}

void EngineMetrics::refused(Refusal reason) {
  refusals_[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
}

void EngineMetrics::cancelled(CancelPhase phase) {
  cancels_[static_cast<size_t>(phase)].fetch_add(1, std::memory_order_relaxed);
}

void EngineMetrics::add_bytes_in_use(int64_t delta) { bytes_in_use_.fetch_add(delta, std::memory_order_relaxed); }

std::string EngineMetrics::render(const std::function<Gauges()>& gauges) const {
  std::string out;
  out.reserve(4096);
  header(out, "tda_engine_jobs_total", "counter", "Compute calls that ended, by outcome.");
  for (size_t i = 0; i < jobs_.size(); ++i)
    sample(out, "tda_engine_jobs_total", label("outcome", kOutcomes[i]), static_cast<double>(jobs_[i].load()));

  header(out, "tda_engine_job_duration_seconds", "histogram", "Computation time of completed jobs, by algorithm.");
  for (size_t a = 0; a < durations_.size(); ++a) {
    const Histogram& h = durations_[a];
    uint64_t cumulative = 0;
    const std::string alg = label("algorithm", kAlgorithms[a]);
    for (size_t i = 0; i < kDurationBuckets.size(); ++i) {
      cumulative += h.buckets[i].load();
      char le[32];
      std::snprintf(le, sizeof le, "%g", kDurationBuckets[i]);
      sample(out, "tda_engine_job_duration_seconds_bucket", alg + "," + label("le", le),
             static_cast<double>(cumulative));
    }
    const uint64_t count = h.count.load();
    sample(out, "tda_engine_job_duration_seconds_bucket", alg + "," + label("le", "+Inf"), static_cast<double>(count));
    sample(out, "tda_engine_job_duration_seconds_sum", alg, static_cast<double>(h.sum_micros.load()) / 1e6);
    sample(out, "tda_engine_job_duration_seconds_count", alg, static_cast<double>(count));
  }

  header(out, "tda_engine_refusals_total", "counter", "Compute calls refused at admission, by reason.");
  for (size_t i = 0; i < refusals_.size(); ++i)
    sample(out, "tda_engine_refusals_total", label("reason", kRefusals[i]), static_cast<double>(refusals_[i].load()));

  header(out, "tda_engine_cancellations_total", "counter",
         "Jobs cancelled (client gone or shutdown), by the phase they were in.");
  for (size_t i = 0; i < cancels_.size(); ++i)
    sample(out, "tda_engine_cancellations_total", label("phase", kPhases[i]), static_cast<double>(cancels_[i].load()));

  header(out, "tda_engine_bytes_in_use", "gauge", "Bytes the running computations report in use.");
  const int64_t in_use = bytes_in_use_.load();
  sample(out, "tda_engine_bytes_in_use", "", static_cast<double>(in_use > 0 ? in_use : 0));

  if (gauges) {
    const Gauges g = gauges();
    header(out, "tda_engine_memory_limit_bytes", "gauge", "Bytes the engine may reserve for admitted jobs.");
    sample(out, "tda_engine_memory_limit_bytes", "", static_cast<double>(g.memory_limit_bytes));
    header(out, "tda_engine_memory_reserved_bytes", "gauge", "Bytes reserved by admitted jobs (their estimates).");
    sample(out, "tda_engine_memory_reserved_bytes", "", static_cast<double>(g.memory_reserved_bytes));
    header(out, "tda_engine_jobs_running", "gauge", "Jobs computing now.");
    sample(out, "tda_engine_jobs_running", "", static_cast<double>(g.jobs_running));
    header(out, "tda_engine_queue_depth", "gauge", "Jobs whose input is complete, waiting for a worker.");
    sample(out, "tda_engine_queue_depth", "", static_cast<double>(g.jobs_queued));
    header(out, "tda_engine_workers", "gauge", "Computations that can run at once.");
    sample(out, "tda_engine_workers", "", static_cast<double>(g.workers));
    header(out, "tda_engine_queue_capacity", "gauge", "Admitted jobs that may wait for a worker.");
    sample(out, "tda_engine_queue_capacity", "", static_cast<double>(g.queue_capacity));
  }

  const ExportCounters spans = export_counters();
  header(out, "tda_engine_spans_exported_total", "counter", "Spans the OTLP collector accepted.");
  sample(out, "tda_engine_spans_exported_total", "", static_cast<double>(spans.exported));
  header(out, "tda_engine_spans_dropped_total", "counter",
         "Spans dropped: export queue full (reason=queue_full) or the collector did not take them "
         "(reason=export_failed).");
  sample(out, "tda_engine_spans_dropped_total", label("reason", "queue_full"), static_cast<double>(spans.dropped));
  sample(out, "tda_engine_spans_dropped_total", label("reason", "export_failed"), static_cast<double>(spans.failed));
  return out;
}

EngineMetrics& engine_metrics() {
  static EngineMetrics metrics;  // process-wide by design (one exposition per process)
  return metrics;
}

}  // namespace tda::telemetry
