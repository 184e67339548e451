#include "server/server.hpp"

#include <csignal>
#include <cstdlib>
#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "server/engine_service.hpp"
#include "server/log.hpp"
#include "server/tls.hpp"
#include "telemetry/metrics.hpp"
#include "telemetry/metrics_server.hpp"
#include "telemetry/setup.hpp"

namespace tda::server {
namespace {

constexpr const char* kServiceName = "tda.engine.v1.EngineService";
// A shutdown that has not finished this long after the grace period is forced.
constexpr auto kForcedExitAfter = std::chrono::seconds(10);

std::string listen_address(const std::string& host, int port) {
  const bool ipv6 = host.find(':') != std::string::npos && host.front() != '[';
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

void set_health(grpc::Server* server, bool serving) {
  if (auto* health = server->GetHealthCheckService()) {
    health->SetServingStatus("", serving);
    health->SetServingStatus(kServiceName, serving);
  }
}

// Limits and the keepalive policy of the engine's port.
void set_channel_limits(grpc::ServerBuilder& builder, const ServerConfig& config) {
  // A second engine on a busy port must fail, not silently share the port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(config.max_message_bytes);
  builder.SetMaxSendMessageSize(-1);
  // Permissive keepalive: clients may ping every 5 s, also without calls,
  // without being sent GOAWAY(too_many_pings).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  // Our own pings find dead clients of long computations.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
}

tda::telemetry::EngineMetrics::Gauges engine_gauges(EngineContext* ctx) {
  tda::telemetry::EngineMetrics::Gauges g;
  g.memory_limit_bytes = ctx->memory().limit();
  g.memory_reserved_bytes = ctx->memory().reserved();
  g.jobs_running = ctx->pool().running();
  g.jobs_queued = ctx->pool().queued();
  g.workers = ctx->pool().workers();
  g.queue_capacity = ctx->pool().queue_depth();
  return g;
}

// The Prometheus endpoint (TDA_ENGINE_METRICS_PORT) over the engine's metrics;
// null (logged) when it cannot listen.
std::unique_ptr<tda::telemetry::MetricsServer> start_metrics(const tda::telemetry::TelemetrySettings& telemetry,
                                                             EngineContext* ctx) {
  auto metrics = std::make_unique<tda::telemetry::MetricsServer>(
      telemetry.metrics_host, *telemetry.metrics_port,
      [ctx] { return tda::telemetry::engine_metrics().render([ctx] { return engine_gauges(ctx); }); });
  std::string error;
  if (!metrics->start(&error)) {
    log_line("error: metrics endpoint: %s", error.c_str());
    return nullptr;
  }
  log_line("metrics on http://%s/metrics", listen_address(telemetry.metrics_host, metrics->port()).c_str());
  return metrics;
}

}  // namespace

EngineServer::EngineServer(const ServerConfig& config) : config_(config) {}

EngineServer::~EngineServer() { shutdown(std::chrono::milliseconds(0)); }

int EngineServer::metrics_port() const { return metrics_ ? metrics_->port() : 0; }

bool EngineServer::start() {
  tda::telemetry::TelemetrySettings telemetry;
  try {
    telemetry = tda::telemetry::settings_from_env();
  } catch (const std::exception& e) {
    log_line("error: %s", e.what());
    return false;
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  context_ = std::make_unique<EngineContext>(config_);
  service_ = std::make_unique<EngineServiceImpl>(*context_);

  grpc::ServerBuilder builder;
  const std::string address = listen_address(config_.host, config_.port);
  const std::shared_ptr<grpc::ServerCredentials> credentials = server_credentials(config_);
  if (!credentials) {
    log_line("error: the TLS files are missing or empty");
    service_.reset();
    context_.reset();
    return false;
  }
  builder.AddListeningPort(address, credentials, &port_);
  builder.RegisterService(service_.get());
  set_channel_limits(builder, config_);

  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    log_line("error: cannot listen on %s", address.c_str());
    server_.reset();
    service_.reset();
    context_.reset();
    return false;
  }
  if (telemetry.metrics_port) {
    metrics_ = start_metrics(telemetry, context_.get());
    if (!metrics_) {
      server_->Shutdown();
      server_.reset();
      service_.reset();
      context_.reset();
      return false;
    }
  }
  if (!telemetry.otlp_endpoint.empty() && tda::telemetry::start_tracing(telemetry, TDA_ENGINE_VERSION)) {
    log_line("exporting spans over OTLP/gRPC to %s (service.name %s)", telemetry.otlp_endpoint.c_str(),
             telemetry.service_name.c_str());
  }
  set_health(server_.get(), true);
  log_line("listening on %s (version %s, threads=%u, memory-limit=%llu bytes, max-concurrent=%u, queue-depth=%u)",
           listen_address(config_.host, port_).c_str(), TDA_ENGINE_VERSION, config_.threads,
           static_cast<unsigned long long>(config_.memory_limit), config_.max_concurrent, config_.queue_depth);
  return true;
}

void EngineServer::shutdown(std::chrono::milliseconds grace) {
  if (!server_) return;
  set_health(server_.get(), false);
  context_->begin_shutdown();
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  context_->stop_workers();
  server_->Wait();
  metrics_.reset();
  server_.reset();
  service_.reset();
  context_.reset();
}

int run_server(const ServerConfig& config) {
  EngineServer server(config);
  if (!server.start()) return 1;

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int received = 0;
  // a dedicated thread waits for the signal; the main thread waits for it
  std::thread waiter([&] {
    while (sigwait(&signals, &received) != 0) {
    }
  });
  waiter.join();

  log_line("received %s, shutting down (grace 5 s)", received == SIGTERM ? "SIGTERM" : "SIGINT");
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::seconds(5) + kForcedExitAfter);
    log_line("shutdown did not complete in time; forcing exit");
    std::_Exit(1);
  }).detach();

  server.shutdown(std::chrono::seconds(5));
  tda::telemetry::stop_tracing(2000);  // the last spans, if the collector answers soon
  log_line("stopped");
  return 0;
}

}  // namespace tda::server
