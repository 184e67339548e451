#include "telemetry/exporter.hpp"

#include <unistd.h>

#include <algorithm>

#include <grpcpp/grpcpp.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "server/log.hpp"

namespace tda::telemetry {
namespace {

namespace otlp_collector = opentelemetry::proto::collector::trace::v1;
namespace otlp_trace = opentelemetry::proto::trace::v1;
namespace otlp_common = opentelemetry::proto::common::v1;

void set_value(otlp_common::AnyValue* out, const AttributeValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) out->set_int_value(*i);
  else if (const auto* d = std::get_if<double>(&v)) out->set_double_value(*d);
  else if (const auto* b = std::get_if<bool>(&v)) out->set_bool_value(*b);
  else out->set_string_value(std::get<std::string>(v));
}

void add_attributes(google::protobuf::RepeatedPtrField<otlp_common::KeyValue>* out,
                    const std::vector<Attribute>& attributes) {
  for (const auto& a : attributes) {
    otlp_common::KeyValue* kv = out->Add();
    kv->set_key(a.key);
    set_value(kv->mutable_value(), a.value);
  }
}

void to_proto(const SpanData& s, otlp_trace::Span* out) {
  out->set_trace_id(s.context.trace_id.data(), s.context.trace_id.size());
  out->set_span_id(s.context.span_id.data(), s.context.span_id.size());
  if (s.has_parent) out->set_parent_span_id(s.parent_span_id.data(), s.parent_span_id.size());
  if (!s.context.tracestate.empty()) out->set_trace_state(s.context.tracestate);
  out->set_flags(s.context.flags);
  out->set_name(s.name);
  out->set_kind(static_cast<otlp_trace::Span::SpanKind>(static_cast<int>(s.kind)));
  out->set_start_time_unix_nano(s.start_ns);
  out->set_end_time_unix_nano(s.end_ns ? s.end_ns : s.start_ns);
  add_attributes(out->mutable_attributes(), s.attributes);
  for (const auto& e : s.events) {
    otlp_trace::Span::Event* ev = out->add_events();
    ev->set_name(e.name);
    ev->set_time_unix_nano(e.time_ns);
    add_attributes(ev->mutable_attributes(), e.attributes);
  }
  if (s.status != StatusCode::Unset) {
    out->mutable_status()->set_code(static_cast<otlp_trace::Status::StatusCode>(static_cast<int>(s.status)));
    if (s.status == StatusCode::Error) out->mutable_status()->set_message(s.status_message);
  }
}

// "http://host:port" -> ("host:port", tls?)
std::pair<std::string, bool> grpc_target(const std::string& endpoint) {
  std::string e = endpoint;
  bool tls = false;
  if (e.rfind("https://", 0) == 0) {
    e = e.substr(8);
    tls = true;
  } else if (e.rfind("http://", 0) == 0) {
    e = e.substr(7);
  }
  while (!e.empty() && e.back() == '/') e.pop_back();
  return {e, tls};
}

std::mutex g_install_mu;
std::unique_ptr<SpanExporter> g_owner;
std::atomic<SpanExporter*> g_exporter{nullptr};

}  // namespace

struct SpanExporter::Impl {
  std::unique_ptr<otlp_collector::TraceService::Stub> stub;
  otlp_collector::ExportTraceServiceRequest request;  // reused: resource and scope set once
  std::chrono::steady_clock::time_point last_error_log{};
};

SpanExporter::SpanExporter(ExporterOptions options) : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  const auto [target, tls] = grpc_target(options_.endpoint);
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(16 << 20);
  // a collector that comes back is found again soon
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  auto creds = tls ? grpc::SslCredentials(grpc::SslCredentialsOptions{}) : grpc::InsecureChannelCredentials();
  impl_->stub = otlp_collector::TraceService::NewStub(grpc::CreateCustomChannel(target, creds, args));

  auto* rs = impl_->request.add_resource_spans();
  auto* attrs = rs->mutable_resource()->mutable_attributes();
  add_attributes(attrs, {{"service.name", AttributeValue{options_.service_name}},
                         {"service.version", AttributeValue{options_.service_version}},
                         {"telemetry.sdk.name", AttributeValue{std::string("tda-engine")}},
                         {"telemetry.sdk.language", AttributeValue{std::string("cpp")}},
                         {"process.pid", AttributeValue{static_cast<int64_t>(getpid())}}});
  auto* scope = rs->add_scope_spans()->mutable_scope();
  scope->set_name("tda-engine");
  scope->set_version(options_.service_version);
  thread_ = std::thread([this] { run(); });
}

SpanExporter::~SpanExporter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SpanExporter::submit(std::vector<SpanData>&& spans) {
  if (spans.empty()) return;
  size_t dropped = 0;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // an idle exporter thread waits for the first span; a lingering one for a full batch
    wake = queue_.empty();
    for (auto& s : spans) {
      if (stop_ || queue_.size() >= options_.max_queue) {
        ++dropped;
      } else {
        queue_.push_back(std::move(s));
      }
    }
    wake = (wake && !queue_.empty()) || queue_.size() >= options_.max_batch;
  }
  if (dropped) dropped_.fetch_add(dropped, std::memory_order_relaxed);
  if (wake) cv_.notify_one();
}

bool SpanExporter::flush(std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.notify_one();
  return idle_cv_.wait_for(lock, wait, [this] { return queue_.empty() && !busy_; });
}

ExportCounters SpanExporter::counters() const {
  ExportCounters c;
  c.exported = exported_.load(std::memory_order_relaxed);
  c.dropped = dropped_.load(std::memory_order_relaxed);
  c.failed = failed_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  c.queued = queue_.size();
  return c;
}

void SpanExporter::run() {
  std::vector<SpanData> batch;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (queue_.empty()) {
      busy_ = false;
      idle_cv_.notify_all();
      if (stop_) break;
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      continue;
    }
    // linger so that spans close together share one request
    if (!stop_ && queue_.size() < options_.max_batch) {
      cv_.wait_for(lock, options_.delay, [this] { return stop_ || queue_.size() >= options_.max_batch; });
    }
    batch.clear();
    while (!queue_.empty() && batch.size() < options_.max_batch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    busy_ = true;
    lock.unlock();
    send(batch);
    lock.lock();
  }
}

void SpanExporter::send(std::vector<SpanData>& batch) {
  auto* spans = impl_->request.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans();
  spans->Clear();
  spans->Reserve(static_cast<int>(batch.size()));
  for (const auto& s : batch) to_proto(s, spans->Add());

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
  otlp_collector::ExportTraceServiceResponse response;
  const grpc::Status st = impl_->stub->Export(&ctx, impl_->request, &response);
  uint64_t rejected = 0;
  if (st.ok()) {
    rejected = std::min<uint64_t>(static_cast<uint64_t>(response.partial_success().rejected_spans()), batch.size());
    exported_.fetch_add(batch.size() - rejected, std::memory_order_relaxed);
  } else {
    rejected = batch.size();
  }
  if (rejected) {
    failed_.fetch_add(rejected, std::memory_order_relaxed);
    const auto now = std::chrono::steady_clock::now();
    if (now - impl_->last_error_log > std::chrono::seconds(30)) {  // one line per 30 s at most
      impl_->last_error_log = now;
      tda::server::log_line("span export to %s failed (%llu spans dropped): %s", options_.endpoint.c_str(),
                            static_cast<unsigned long long>(rejected),
                            st.ok() ? response.partial_success().error_message().c_str() : st.error_message().c_str());
    }
  }
  spans->Clear();
}

void install_exporter(std::unique_ptr<SpanExporter> exporter) {
  std::lock_guard<std::mutex> lock(g_install_mu);
  g_exporter.store(exporter.get());
  g_owner = std::move(exporter);
}

std::unique_ptr<SpanExporter> uninstall_exporter() {
  std::lock_guard<std::mutex> lock(g_install_mu);
  g_exporter.store(nullptr);
  return std::move(g_owner);
}

SpanExporter* exporter() { return g_exporter.load(std::memory_order_acquire); }

void export_spans(std::vector<SpanData>&& spans) {
  if (SpanExporter* e = exporter()) e->submit(std::move(spans));
}

ExportCounters export_counters() {
  if (SpanExporter* e = exporter()) return e->counters();
  return {};
}

}  // namespace tda::telemetry
