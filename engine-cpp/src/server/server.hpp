// Assembly of the gRPC server: engine service, health, reflection, limits,
// keepalive policy and graceful shutdown.
#pragma once

#include <chrono>
#include <memory>

#include "server/config.hpp"

namespace grpc {
class Server;
}

namespace tda::telemetry {
class MetricsServer;
}

namespace tda::server {

class EngineContext;
class EngineServiceImpl;

class EngineServer {
 public:
  explicit EngineServer(const ServerConfig& config);
  ~EngineServer();  // shuts down if still running

  EngineServer(const EngineServer&) = delete;
  EngineServer& operator=(const EngineServer&) = delete;

  // Binds and starts serving; false (logged) when the address cannot be bound.
  bool start();
  // The bound port (useful with port 0).
  int port() const { return port_; }
  const ServerConfig& config() const { return config_; }
  // The Prometheus endpoint's port (TDA_ENGINE_METRICS_PORT), 0 when off.
  int metrics_port() const;

  // Health NOT_SERVING, cancels running jobs, stops accepting calls and waits
  // up to `grace` for calls to end (then cancels them), joins the workers.
  void shutdown(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  ServerConfig config_;
  std::unique_ptr<EngineContext> context_;
  std::unique_ptr<EngineServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<tda::telemetry::MetricsServer> metrics_;
  int port_ = 0;
};

// Runs the server until SIGTERM or SIGINT. Those signals must already be
// blocked in every thread (pthread_sigmask at the top of main). Returns the
// process exit code.
int run_server(const ServerConfig& config);

}  // namespace tda::server
