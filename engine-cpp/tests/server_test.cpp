// In-process tests of the gRPC engine server: a real server on an ephemeral
// loopback port, called through the generated C++ stub.
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "server/config.hpp"
#include "server/input.hpp"
#include "server/server.hpp"
#include "tda/engine/v1/engine.grpc.pb.h"

namespace {

namespace common = tda::common::v1;
namespace engine = tda::engine::v1;
using tda::server::EngineServer;
using tda::server::ServerConfig;

ServerConfig test_config(uint64_t memory_limit = uint64_t{1} << 30) {
  ServerConfig c;
  c.host = "127.0.0.1";
  c.port = 0;
  c.threads = 1;
  c.memory_limit = memory_limit;
  c.max_concurrent = 1;
  c.queue_depth = 1;
  return c;
}

std::string encode_f64(const std::vector<double>& values) {
  std::string bytes(values.size() * sizeof(double), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

engine::ComputeSpec point_spec(uint64_t n, uint32_t dim, uint32_t max_dim) {
  engine::ComputeSpec spec;
  spec.mutable_params()->set_algorithm(common::ALGORITHM_RIPS);
  spec.mutable_params()->set_max_dim(max_dim);
  spec.set_input_kind(common::INPUT_KIND_POINT_CLOUD);
  spec.set_encoding(common::VALUE_ENCODING_FLOAT64);
  spec.set_n(n);
  spec.set_dim(dim);
  spec.set_job_id("gtest");
  return spec;
}

std::vector<double> random_cloud(uint64_t n, uint32_t dim, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<double> coords(n * dim);
  for (auto& x : coords) x = uniform(rng);
  return coords;
}

// The google.rpc details packed into a status.
google::rpc::Status rich_status(const grpc::Status& status) {
  google::rpc::Status rich;
  rich.ParseFromString(status.error_details());
  return rich;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { start(test_config()); }
  void TearDown() override {
    stub_.reset();
    if (server_) server_->shutdown(std::chrono::seconds(2));
  }

  void start(const ServerConfig& config) {
    if (server_) server_->shutdown(std::chrono::seconds(2));
    server_ = std::make_unique<EngineServer>(config);
    ASSERT_TRUE(server_->start());
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(server_->port()),
                                             grpc::InsecureChannelCredentials(), args);
    stub_ = engine::EngineService::NewStub(channel);
  }

  struct Outcome {
    grpc::Status status;
    int progress_messages = 0;
    std::optional<common::PersistenceResult> result;
    std::optional<engine::EstimateResponse> estimate;  // (estimate_only)
  };

  // Sends the spec and the chunks, half-closes, reads everything.
  Outcome compute(const engine::ComputeSpec& spec, const std::vector<std::string>& chunks) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto stream = stub_->Compute(&context);
    engine::ComputeRequest request;
    *request.mutable_spec() = spec;
    stream->Write(request);
    for (const auto& c : chunks) {
      request.Clear();
      request.set_chunk(c);
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
    Outcome out;
    engine::ComputeResponse response;
    while (stream->Read(&response)) {
      if (response.has_progress()) ++out.progress_messages;
      if (response.has_result()) out.result = response.result();
      if (response.has_estimate()) out.estimate = response.estimate();
    }
    out.status = stream->Finish();
    return out;
  }

  std::unique_ptr<EngineServer> server_;
  std::unique_ptr<engine::EngineService::Stub> stub_;
};

TEST_F(ServerTest, GetInfoReportsVersionAndLimits) {
  grpc::ClientContext context;
  engine::GetInfoResponse info;
  ASSERT_TRUE(stub_->GetInfo(&context, engine::GetInfoRequest(), &info).ok());
  EXPECT_EQ(info.version(), "0.1.0");
  ASSERT_EQ(info.algorithms_size(), tda::server::alpha_supported() ? 2 : 1);
  EXPECT_EQ(info.algorithms(0), common::ALGORITHM_RIPS);
  EXPECT_EQ(info.memory_limit_bytes(), uint64_t{1} << 30);
  EXPECT_EQ(info.max_concurrent_jobs(), 1u);
}

// The published limits are the ones Compute enforces: at each limit the spec is
// accepted, one past it is refused naming the field.
TEST_F(ServerTest, GetInfoPublishesTheLimitsComputeEnforces) {
  grpc::ClientContext context;
  engine::GetInfoResponse info;
  ASSERT_TRUE(stub_->GetInfo(&context, engine::GetInfoRequest(), &info).ok());
  const engine::EngineLimits& limits = info.limits();
  EXPECT_EQ(limits.max_modulus(), 251u);  // 8-bit coefficients in the core
  EXPECT_EQ(limits.rips_max_dim(), 8u);
  EXPECT_EQ(limits.max_threads(), 1u);
  EXPECT_EQ(limits.memory_limit_bytes(), info.memory_limit_bytes());
  EXPECT_EQ(limits.max_message_bytes(), 64u << 20);
  EXPECT_EQ(limits.max_points(), uint64_t{1} << 31);
  EXPECT_EQ(limits.max_ambient_dim(), 1u << 16);
  if (tda::server::alpha_supported()) {
    EXPECT_EQ(limits.alpha_ambient_dims_size(), 2);
    EXPECT_EQ(limits.alpha_max_points(), uint64_t{1} << 28);
  }

  const std::string square = encode_f64({0, 0, 1, 0, 1, 1, 0, 1});
  auto field_of = [](const grpc::Status& st) {
    google::rpc::BadRequest bad;
    const google::rpc::Status rich = rich_status(st);
    for (const auto& any : rich.details())
      if (any.UnpackTo(&bad) && bad.field_violations_size() > 0) return bad.field_violations(0).field();
    return std::string();
  };
  engine::ComputeSpec spec = point_spec(4, 2, 1);
  spec.mutable_params()->set_modulus(limits.max_modulus());
  EXPECT_TRUE(compute(spec, {square}).status.ok());
  spec.mutable_params()->set_modulus(257);  // the next prime
  grpc::Status st = compute(spec, {square}).status;
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(field_of(st), "spec.params.modulus");

  spec = point_spec(4, 2, limits.rips_max_dim());
  EXPECT_TRUE(compute(spec, {square}).status.ok());
  spec.mutable_params()->set_max_dim(limits.rips_max_dim() + 1);
  st = compute(spec, {square}).status;
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(field_of(st), "spec.params.max_dim");

  spec = point_spec(limits.max_points() + 1, 2, 1);
  st = compute(spec, {}).status;
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(field_of(st), "spec.n");
}

TEST_F(ServerTest, SquareHasOneLoop) {
  // unit square, split into odd-sized chunks to exercise value reassembly
  const std::string bytes = encode_f64({0, 0, 1, 0, 1, 1, 0, 1});
  const std::vector<std::string> chunks = {bytes.substr(0, 13), bytes.substr(13, 30), bytes.substr(43)};
  Outcome out = compute(point_spec(4, 2, 1), chunks);
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  ASSERT_TRUE(out.result.has_value());
  const auto& r = *out.result;
  ASSERT_EQ(r.diagrams_size(), 2);
  EXPECT_EQ(r.diagrams(0).intervals_size(), 4);  // 3 merges at 1 and one essential class
  ASSERT_EQ(r.diagrams(1).intervals_size(), 1);
  EXPECT_NEAR(r.diagrams(1).intervals(0).birth(), 1.0, 1e-6);
  EXPECT_NEAR(r.diagrams(1).intervals(0).death(), std::sqrt(2.0), 1e-6);
  ASSERT_EQ(r.betti_numbers_size(), 2);
  EXPECT_EQ(r.betti_numbers(0), 1u);
  EXPECT_EQ(r.betti_numbers(1), 0u);
  int essential = 0;
  for (const auto& iv : r.diagrams(0).intervals()) essential += std::isinf(iv.death()) ? 1 : 0;
  EXPECT_EQ(essential, 1);
  EXPECT_EQ(r.stats().points(), 4u);
  EXPECT_EQ(r.stats().ambient_dim(), 2u);
}

TEST_F(ServerTest, UpperMatrixMatchesPoints) {
  // the square again, as the strict upper triangle in float32
  const float s = std::sqrt(2.0f);
  const std::vector<float> upper = {1, s, 1, 1, s, 1};  // d01 d02 d03 d12 d13 d23
  std::string bytes(upper.size() * sizeof(float), '\0');
  std::memcpy(bytes.data(), upper.data(), bytes.size());
  engine::ComputeSpec spec = point_spec(4, 0, 1);
  spec.set_input_kind(common::INPUT_KIND_UPPER_DISTANCE_MATRIX);
  spec.set_encoding(common::VALUE_ENCODING_FLOAT32);
  Outcome out = compute(spec, {bytes});
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  ASSERT_EQ(out.result->diagrams(1).intervals_size(), 1);
  EXPECT_NEAR(out.result->diagrams(1).intervals(0).death(), std::sqrt(2.0), 1e-6);
}

TEST_F(ServerTest, InvalidSpecIsRejectedWithFieldViolations) {
  engine::ComputeSpec spec = point_spec(0, 0, 1);
  spec.mutable_params()->set_modulus(4);
  Outcome out = compute(spec, {});
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status rich = rich_status(out.status);
  ASSERT_EQ(rich.details_size(), 1);
  google::rpc::BadRequest bad;
  ASSERT_TRUE(rich.details(0).UnpackTo(&bad));
  std::vector<std::string> fields;
  for (const auto& v : bad.field_violations()) fields.push_back(v.field());
  EXPECT_NE(std::find(fields.begin(), fields.end(), "spec.n"), fields.end());
  EXPECT_NE(std::find(fields.begin(), fields.end(), "spec.dim"), fields.end());
  EXPECT_NE(std::find(fields.begin(), fields.end(), "spec.params.modulus"), fields.end());
}

TEST_F(ServerTest, TooFewValuesAndNonFiniteValuesAreRejected) {
  Outcome few = compute(point_spec(4, 2, 1), {encode_f64({0, 0, 1, 0, 1, 1, 0})});
  EXPECT_EQ(few.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  Outcome nan = compute(point_spec(2, 2, 1), {encode_f64({0, 0, 1, std::nan("")})});
  EXPECT_EQ(nan.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  Outcome many = compute(point_spec(1, 2, 1), {encode_f64({0, 0, 1})});
  EXPECT_EQ(many.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerTest, AlphaSquareOrUnimplemented) {
  engine::ComputeSpec spec = point_spec(4, 2, 1);
  spec.mutable_params()->set_algorithm(common::ALGORITHM_ALPHA);
  Outcome out = compute(spec, {encode_f64({0, 0, 1, 0, 1, 1, 0, 1})});
  if (!tda::server::alpha_supported()) {
    EXPECT_EQ(out.status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
    return;
  }
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  // squared radii: the edges enter at 0.25, the two triangles at 0.5
  ASSERT_EQ(out.result->diagrams(1).intervals_size(), 1);
  EXPECT_DOUBLE_EQ(out.result->diagrams(1).intervals(0).birth(), 0.25);
  EXPECT_DOUBLE_EQ(out.result->diagrams(1).intervals(0).death(), 0.5);

  spec.set_dim(4);
  spec.set_n(2);
  Outcome bad = compute(spec, {encode_f64({0, 0, 0, 0, 1, 1, 1, 1})});
  EXPECT_EQ(bad.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerTest, EstimateOfAHugeCloudIsNotAdmissible) {
  engine::EstimateRequest request;
  *request.mutable_spec() = point_spec(uint64_t{1} << 30, 3, 2);
  engine::EstimateResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->Estimate(&context, request, &response).ok());
  EXPECT_FALSE(response.admissible());
  EXPECT_GT(response.memory_bytes(), response.memory_limit_bytes());

  *request.mutable_spec() = point_spec(100, 3, 1);
  grpc::ClientContext context2;
  ASSERT_TRUE(stub_->Estimate(&context2, request, &response).ok());
  EXPECT_TRUE(response.admissible());
}

TEST_F(ServerTest, ComputeAboveTheMemoryLimitIsResourceExhausted) {
  start(test_config(/*memory_limit=*/1000));
  Outcome out = compute(point_spec(1000, 3, 1), {});
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  google::rpc::Status rich = rich_status(out.status);
  ASSERT_EQ(rich.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(rich.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "MEMORY_LIMIT_EXCEEDED");
  EXPECT_EQ(info.domain(), "tda.engine");
  EXPECT_EQ(info.metadata().at("available_bytes"), "1000");
}

// The runtime guard: an engine whose admission reserves a thousandth of the
// estimate (--estimate-scale 0.001) admits a job that outgrows its 16 MiB limit;
// the job stops with MEMORY_LIMIT_EXCEEDED (phase running, needed > allowed) and
// the engine serves the next job, its memory given back.
TEST_F(ServerTest, RuntimeGuardStopsAJobOverTheLimitAndTheEngineServesOn) {
  ServerConfig config = test_config(/*memory_limit=*/uint64_t{16} << 20);
  config.estimate_scale = 0.001;
  start(config);
  const uint64_t n = 1500;  // dense: a 9 MB matrix, then ~14 MB of edges
  Outcome out = compute(point_spec(n, 3, 1), {encode_f64(random_cloud(n, 3, 11))});
  ASSERT_EQ(out.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << out.status.error_message();
  EXPECT_FALSE(out.result.has_value());
  google::rpc::Status rich = rich_status(out.status);
  ASSERT_EQ(rich.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(rich.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "MEMORY_LIMIT_EXCEEDED");
  EXPECT_EQ(info.metadata().at("phase"), "running");
  EXPECT_GT(std::stoull(info.metadata().at("needed_bytes")), std::stoull(info.metadata().at("allowed_bytes")));
  EXPECT_LE(std::stoull(info.metadata().at("allowed_bytes")), uint64_t{16} << 20);
  EXPECT_EQ(info.metadata().at("limit_bytes"), std::to_string(uint64_t{16} << 20));

  // the next job, and one that needs most of the limit: the ledger is whole again
  for (uint64_t m : {50u, 1000u}) {
    Outcome ok = compute(point_spec(m, 3, 1), {encode_f64(random_cloud(m, 3, 12))});
    ASSERT_TRUE(ok.status.ok()) << m << ": " << ok.status.error_message();
    ASSERT_TRUE(ok.result.has_value());
    EXPECT_EQ(ok.result->betti_numbers(0), 1u);
    EXPECT_GT(ok.result->stats().peak_bytes(), m * m * 4);  // the accounted figure
  }
}

TEST_F(ServerTest, CancelStopsARunningComputation) {
  start(test_config(/*memory_limit=*/uint64_t{1} << 50));  // the estimate is only bookkeeping here
  const uint64_t n = 2500;
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<double> coords(n * 3);
  for (auto& x : coords) x = uniform(rng);

  grpc::ClientContext context;
  auto stream = stub_->Compute(&context);
  engine::ComputeRequest request;
  *request.mutable_spec() = point_spec(n, 3, 2);
  ASSERT_TRUE(stream->Write(request));
  request.Clear();
  request.set_chunk(encode_f64(coords));
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();

  // wait until the computation itself runs, then cancel
  engine::ComputeResponse response;
  bool computing = false;
  while (stream->Read(&response)) {
    ASSERT_FALSE(response.has_result()) << "finished before it could be cancelled";
    const auto stage = response.progress().stage();
    if (stage >= common::STAGE_DISTANCES && stage != common::STAGE_DONE) {
      computing = true;
      break;
    }
  }
  ASSERT_TRUE(computing);
  const auto cancelled_at = std::chrono::steady_clock::now();
  context.TryCancel();
  while (stream->Read(&response)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);

  // the worker is free again soon: a small job goes through (max_concurrent = 1)
  Outcome out = compute(point_spec(4, 2, 1), {encode_f64({0, 0, 1, 0, 1, 1, 0, 1})});
  EXPECT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, std::chrono::seconds(10));
}

// A realistic job (3000 points in R^3 up to H2, no threshold) against a
// realistic limit: the Estimate from the sizes is what Compute reserves for the
// input; once the points are there, the complex measured below the enclosing
// radius is far above 64 MiB (the distance matrix alone is 36 MB), so Compute
// refuses it before computing, with the figures in ErrorInfo.
TEST_F(ServerTest, EstimateAboveTheLimitIsRefusedWithFigures) {
  const uint64_t limit = uint64_t{64} << 20;
  start(test_config(limit));
  engine::EstimateRequest request;
  *request.mutable_spec() = point_spec(3000, 3, 2);
  engine::EstimateResponse estimate;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->Estimate(&context, request, &estimate).ok());
  EXPECT_TRUE(estimate.admissible());  // the input fits
  EXPECT_LT(estimate.memory_bytes(), limit);

  Outcome out = compute(point_spec(3000, 3, 2), {encode_f64(random_cloud(3000, 3, 5))});
  ASSERT_EQ(out.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << out.status.error_message();
  google::rpc::Status rich = rich_status(out.status);
  ASSERT_EQ(rich.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(rich.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "MEMORY_LIMIT_EXCEEDED");
  EXPECT_GT(std::stoull(info.metadata().at("requested_bytes")), limit);
  EXPECT_LT(std::stoull(info.metadata().at("requested_bytes")), uint64_t{4} << 30);  // measured, not absurd
  EXPECT_EQ(info.metadata().at("available_bytes"), std::to_string(limit));
  EXPECT_EQ(info.metadata().at("limit_bytes"), std::to_string(limit));
}

// A job whose edges collapse is admitted with the complex it will reduce: 50
// random points in R^16 up to H7 need ~78 MB by the uncollapsed counts (9.7 k
// triangles ... 4.6 M 7-simplices) and ~5 MB after the collapse (400 edges left
// of 938). Under a 32 MiB limit the Compute measures the collapse and runs; the
// Estimate RPC (estimate_only) reports the same figure.
TEST_F(ServerTest, AdmissionCountsTheCollapsedComplex) {
  const uint64_t limit = uint64_t{32} << 20;
  start(test_config(limit));
  const std::vector<double> cloud = random_cloud(50, 16, 3);
  Outcome out = compute(point_spec(50, 16, 7), {encode_f64(cloud)});
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  ASSERT_TRUE(out.result.has_value());
  EXPECT_EQ(out.result->betti_numbers(0), 1u);
  EXPECT_LT(out.result->stats().peak_bytes(), limit);
  engine::ComputeSpec only = point_spec(50, 16, 7);
  only.set_estimate_only(true);
  Outcome est = compute(only, {encode_f64(cloud)});
  ASSERT_TRUE(est.status.ok()) << est.status.error_message();
  ASSERT_TRUE(est.estimate.has_value());
  EXPECT_TRUE(est.estimate->admissible());
  EXPECT_LT(est.estimate->memory_bytes(), uint64_t{16} << 20);
  EXPECT_GE(est.estimate->memory_bytes(), out.result->stats().peak_bytes());
}

// Cancel while the reduction runs: the client sees CANCELLED at once, and the core
// stops at its next poll, so the single worker takes the next job soon after.
TEST_F(ServerTest, CancelDuringReductionIsPrompt) {
  start(test_config(uint64_t{1} << 34));
  const uint64_t n = 2000;
  const std::vector<double> coords = random_cloud(n, 3, 11);
  grpc::ClientContext context;
  auto stream = stub_->Compute(&context);
  engine::ComputeRequest request;
  *request.mutable_spec() = point_spec(n, 3, 2);
  request.mutable_spec()->mutable_params()->set_threads(1);
  ASSERT_TRUE(stream->Write(request));
  request.Clear();
  request.set_chunk(encode_f64(coords));
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  engine::ComputeResponse response;
  bool reducing = false;
  while (stream->Read(&response)) {
    ASSERT_FALSE(response.has_result()) << "finished before it could be cancelled";
    if (response.progress().stage() == common::STAGE_REDUCTION) {
      reducing = true;
      break;
    }
  }
  ASSERT_TRUE(reducing);
  const auto cancelled_at = std::chrono::steady_clock::now();
  context.TryCancel();
  while (stream->Read(&response)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, std::chrono::milliseconds(300));

  // queued behind the cancelled job (max_concurrent = 1): runs once the core has stopped
  Outcome out = compute(point_spec(4, 2, 1), {encode_f64({0, 0, 1, 0, 1, 1, 0, 1})});
  EXPECT_TRUE(out.status.ok()) << out.status.error_message();
  // 100 ms of polling budget, plus slack for a loaded 2-core CI machine
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, std::chrono::milliseconds(1000));
}

// On a job of more than a second, progress arrives at least every ~200 ms.
TEST_F(ServerTest, ProgressCadenceOnALongJob) {
  start(test_config(uint64_t{1} << 34));
  const uint64_t n = 600;
  const std::vector<double> coords = random_cloud(n, 3, 5);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = stub_->Compute(&context);
  engine::ComputeRequest request;
  *request.mutable_spec() = point_spec(n, 3, 2);
  request.mutable_spec()->mutable_params()->set_threads(1);
  ASSERT_TRUE(stream->Write(request));
  request.Clear();
  request.set_chunk(encode_f64(coords));
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  engine::ComputeResponse response;
  std::vector<std::chrono::steady_clock::time_point> times;
  bool got_result = false;
  while (stream->Read(&response)) {
    if (response.has_progress()) times.push_back(std::chrono::steady_clock::now());
    if (response.has_result()) got_result = true;
  }
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_TRUE(got_result);
  ASSERT_GE(times.size(), 2u);
  // (600 points at H2 take seconds on this hardware, so there are many gaps to check)
  std::chrono::steady_clock::duration worst{0};
  for (size_t i = 1; i < times.size(); ++i) worst = std::max(worst, times[i] - times[i - 1]);
  EXPECT_LE(worst, std::chrono::milliseconds(250 + 200))  // slack for a loaded machine
      << "largest gap " << std::chrono::duration_cast<std::chrono::milliseconds>(worst).count() << " ms over "
      << times.size() << " messages";
}

TEST(ConfigTest, ParsesSizesAndFlags) {
  EXPECT_EQ(tda::server::parse_byte_size("4G"), uint64_t{4} << 30);
  EXPECT_EQ(tda::server::parse_byte_size("512MiB"), uint64_t{512} << 20);
  EXPECT_EQ(tda::server::parse_byte_size("1000"), 1000u);
  EXPECT_THROW(tda::server::parse_byte_size("4X"), tda::server::ConfigError);

  const char* argv[] = {"tda-engine", "serve", "--port=7000", "--memory-limit", "2G", "--queue-depth", "3"};
  auto env = [](const char* name) -> std::optional<std::string> {
    if (std::string(name) == "TDA_ENGINE_PORT") return "9000";  // the flag wins
    if (std::string(name) == "TDA_ENGINE_MAX_CONCURRENT") return "5";
    return std::nullopt;
  };
  bool help = true;
  ServerConfig c = tda::server::parse_server_config(7, const_cast<char**>(argv), 2, env, &help);
  EXPECT_FALSE(help);
  EXPECT_EQ(c.port, 7000);
  EXPECT_EQ(c.memory_limit, uint64_t{2} << 30);
  EXPECT_EQ(c.max_concurrent, 5u);
  EXPECT_EQ(c.queue_depth, 3u);
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.input_idle_seconds, 10u);
  EXPECT_EQ(tda::server::calls_per_caller_limit(c), 16u);  // 2 x (max-concurrent + queue-depth) unless set

  const char* limited[] = {"tda-engine", "serve", "--input-idle-seconds", "3", "--max-calls-per-caller=2"};
  ServerConfig l = tda::server::parse_server_config(5, const_cast<char**>(limited), 2, env, nullptr);
  EXPECT_EQ(l.input_idle_seconds, 3u);
  EXPECT_EQ(l.max_calls_per_caller, 2u);

  const char* bad[] = {"tda-engine", "serve", "--port", "70000"};
  EXPECT_THROW(tda::server::parse_server_config(4, const_cast<char**>(bad), 2, env, nullptr), tda::server::ConfigError);
}

}  // namespace
