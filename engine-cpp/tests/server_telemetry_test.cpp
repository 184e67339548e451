// The engine's telemetry pieces: W3C traceparent parsing, the OTLP exporter's
// bounded queue and failure counting (against an address where nothing
// listens: the collector is down), and a Compute call with no collector set up.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "server/config.hpp"
#include "server/server.hpp"
#include "tda/engine/v1/engine.grpc.pb.h"
#include "telemetry/exporter.hpp"
#include "telemetry/metrics.hpp"
#include "telemetry/span.hpp"

namespace {

using namespace tda::telemetry;
namespace common = tda::common::v1;
namespace engine = tda::engine::v1;

// A loopback port that was free a moment ago: nothing listens there.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

SpanData a_span(const char* name) {
  SpanData s;
  s.name = name;
  s.context.trace_id = random_trace_id();
  s.context.span_id = random_span_id();
  s.context.flags = 1;
  s.start_ns = now_unix_nanos();
  s.end_ns = s.start_ns + 1000;
  return s;
}

TEST(Traceparent, ParsesTheW3CForm) {
  auto ctx = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(ctx.has_value());
  EXPECT_EQ(to_hex(ctx->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(to_hex(ctx->span_id), "00f067aa0ba902b7");
  EXPECT_TRUE(ctx->sampled());
  EXPECT_EQ(format_traceparent(*ctx), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  auto unsampled = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(unsampled.has_value());
  EXPECT_FALSE(unsampled->sampled());
}

TEST(Traceparent, RefusesMalformedValues) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",       // no flags
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero span id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // forbidden version
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // v00 has nothing after
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
       }) {
    EXPECT_FALSE(parse_traceparent(bad).has_value()) << bad;
  }
  // a later version may carry more fields
  EXPECT_TRUE(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-abc").has_value());
}

TEST(Exporter, CountsSpansTheCollectorDidNotTake) {
  ExporterOptions o;
  o.endpoint = "http://127.0.0.1:" + std::to_string(closed_port());
  o.delay = std::chrono::milliseconds(10);
  o.timeout = std::chrono::milliseconds(2000);
  SpanExporter exporter(o);
  std::vector<SpanData> spans;
  for (int i = 0; i < 3; ++i) spans.push_back(a_span("s"));
  exporter.submit(std::move(spans));
  ASSERT_TRUE(exporter.flush(std::chrono::seconds(20)));
  const ExportCounters c = exporter.counters();
  EXPECT_EQ(c.exported, 0u);
  EXPECT_EQ(c.failed, 3u);
  EXPECT_EQ(c.dropped, 0u);
  EXPECT_EQ(c.queued, 0u);
}

TEST(Exporter, DropsAndCountsWhatDoesNotFitTheQueue) {
  ExporterOptions o;
  o.endpoint = "http://127.0.0.1:" + std::to_string(closed_port());
  o.max_queue = 4;
  o.delay = std::chrono::seconds(30);  // nothing leaves the queue during the test
  SpanExporter exporter(o);
  std::vector<SpanData> spans;
  for (int i = 0; i < 10; ++i) spans.push_back(a_span("s"));
  exporter.submit(std::move(spans));
  const ExportCounters c = exporter.counters();
  EXPECT_EQ(c.dropped, 6u);
  EXPECT_EQ(c.queued, 4u);
}

// No collector configured: the call works, nothing is exported or counted as dropped,
// and the job is counted in the engine's metrics.
TEST(EngineTelemetry, ComputeWithoutCollectorSendsNothing) {
  ASSERT_EQ(exporter(), nullptr);
  tda::server::ServerConfig config;
  config.port = 0;
  config.memory_limit = uint64_t{1} << 30;
  tda::server::EngineServer server(config);
  ASSERT_TRUE(server.start());
  auto stub = engine::EngineService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()), grpc::InsecureChannelCredentials()));

  const std::string before = engine_metrics().render(nullptr);
  grpc::ClientContext ctx;
  ctx.AddMetadata("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  auto stream = stub->Compute(&ctx);
  engine::ComputeRequest req;
  auto* spec = req.mutable_spec();
  spec->mutable_params()->set_algorithm(common::ALGORITHM_RIPS);
  spec->mutable_params()->set_max_dim(1);
  spec->set_input_kind(common::INPUT_KIND_POINT_CLOUD);
  spec->set_encoding(common::VALUE_ENCODING_FLOAT64);
  spec->set_n(4);
  spec->set_dim(2);
  spec->set_job_id("telemetry-test");
  ASSERT_TRUE(stream->Write(req));
  const std::vector<double> square = {0, 0, 1, 0, 1, 1, 0, 1};
  req.Clear();
  req.set_chunk(std::string(reinterpret_cast<const char*>(square.data()), square.size() * sizeof(double)));
  ASSERT_TRUE(stream->Write(req));
  stream->WritesDone();
  engine::ComputeResponse resp;
  bool result = false;
  while (stream->Read(&resp)) result = result || resp.has_result();
  ASSERT_TRUE(stream->Finish().ok());
  EXPECT_TRUE(result);
  server.shutdown(std::chrono::seconds(2));

  const ExportCounters c = export_counters();
  EXPECT_EQ(c.exported + c.dropped + c.failed + c.queued, 0u);
  const std::string after = engine_metrics().render(nullptr);
  EXPECT_NE(before, after);  // tda_engine_jobs_total{outcome="completed"} moved
  EXPECT_NE(after.find("tda_engine_job_duration_seconds_count{algorithm=\"rips\"}"), std::string::npos);
}

}  // namespace
