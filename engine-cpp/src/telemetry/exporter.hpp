// A small OTLP/gRPC span exporter on the official OTLP protos and the engine's own
// grpc++/protobuf (opentelemetry-cpp is not packaged for Debian 12).
//
// Off the hot path: `submit` only moves spans into a bounded queue under a mutex;
// one exporter thread sends them in batches (every `delay` or when `max_batch` are
// waiting). When the queue is full, spans are dropped and counted, never waited
// for; a failed export (collector down or slow past `timeout`) drops its batch and
// counts it. Nothing here throws into the caller.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "telemetry/span.hpp"

namespace tda::telemetry {

struct ExporterOptions {
  std::string endpoint;  // http://host:port (https:// uses TLS); empty = tracing off
  std::string service_name = "engine";
  std::string service_version;
  size_t max_queue = 4096;
  size_t max_batch = 512;
  std::chrono::milliseconds delay{500};
  std::chrono::milliseconds timeout{5000};
};

// What happened to the spans handed to the exporter (process-wide, also
// readable when tracing is off: then all stay 0).
struct ExportCounters {
  uint64_t exported = 0;  // accepted by the collector
  uint64_t dropped = 0;   // queue full: never sent
  uint64_t failed = 0;    // sent in a batch that the collector did not take
  uint64_t queued = 0;    // waiting now
};

class SpanExporter {
 public:
  explicit SpanExporter(ExporterOptions options);
  ~SpanExporter();  // sends what is queued (bounded by the timeout), then stops

  SpanExporter(const SpanExporter&) = delete;
  SpanExporter& operator=(const SpanExporter&) = delete;

  // Queues spans; those that do not fit are dropped and counted.
  void submit(std::vector<SpanData>&& spans);
  // Waits until everything queued so far was sent (or failed), at most `wait`.
  bool flush(std::chrono::milliseconds wait);
  ExportCounters counters() const;
  const ExporterOptions& options() const { return options_; }

 private:
  struct Impl;
  void run();
  void send(std::vector<SpanData>& batch);

  const ExporterOptions options_;
  std::unique_ptr<Impl> impl_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<SpanData> queue_;
  bool stop_ = false;
  bool busy_ = false;
  std::atomic<uint64_t> exported_{0}, dropped_{0}, failed_{0};
  std::thread thread_;
};

// The process's exporter: set once at start (from OTEL_EXPORTER_OTLP_ENDPOINT),
// cleared at shutdown. nullptr when tracing is off.
void install_exporter(std::unique_ptr<SpanExporter> exporter);
std::unique_ptr<SpanExporter> uninstall_exporter();
SpanExporter* exporter();
// Sends spans to the installed exporter; without one they are discarded (not counted).
void export_spans(std::vector<SpanData>&& spans);
ExportCounters export_counters();

}  // namespace tda::telemetry
