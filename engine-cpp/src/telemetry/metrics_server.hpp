// A minimal HTTP/1.1 server for Prometheus scrapes: GET /metrics answers the
// text exposition, anything else 404. One thread, one request per connection,
// bounded reads and a receive timeout; it never touches the gRPC server's threads.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace tda::telemetry {

class MetricsServer {
 public:
  MetricsServer(std::string host, int port, std::function<std::string()> render);
  ~MetricsServer();  // stops and joins

  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds and starts serving; false (with *error set) when it cannot.
  bool start(std::string* error);
  int port() const { return port_; }

 private:
  void run();
  void serve(int fd);

  const std::string host_;
  int port_;
  const std::function<std::string()> render_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tda::telemetry
