#include "server/distance.hpp"

#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "server/errors.hpp"
#include "server/log.hpp"
#include "tda/core/diagram_distance.hpp"

namespace tda::server {
namespace {

namespace common = tda::common::v1;
namespace engine = tda::engine::v1;
using Bars = std::vector<tda::core::Interval>;
constexpr double kInf = std::numeric_limits<double>::infinity();

// One validated request: per dimension, both sides' bars.
struct DistanceJob {
  std::map<uint32_t, std::pair<Bars, Bars>> dims;
  double order = 1.;
  double internal_p = kInf;
  bool bottleneck = true;
  bool wasserstein = true;
  uint64_t memory_bytes = 0;
};

void read_side(const google::protobuf::RepeatedPtrField<common::PersistenceDiagram>& side, const char* name,
               bool wasserstein, std::map<uint32_t, std::pair<Bars, Bars>>& dims, bool first,
               std::vector<FieldViolation>& v) {
  if (static_cast<uint32_t>(side.size()) > kDistanceMaxDiagrams) {
    v.push_back({name, "at most " + std::to_string(kDistanceMaxDiagrams) + " diagrams"});
    return;
  }
  std::vector<bool> seen(kDistanceMaxDiagrams, false);
  for (int i = 0; i < side.size(); ++i) {
    const auto& d = side[i];
    const std::string field = std::string(name) + "[" + std::to_string(i) + "]";
    if (d.dimension() >= kDistanceMaxDiagrams) {
      v.push_back({field + ".dimension", "must be below " + std::to_string(kDistanceMaxDiagrams)});
      continue;
    }
    if (seen[d.dimension()]) {
      v.push_back({field + ".dimension", "dimension " + std::to_string(d.dimension()) + " given twice"});
      continue;
    }
    seen[d.dimension()] = true;
    const uint64_t n = static_cast<uint64_t>(d.intervals_size());
    if (n > kDistanceMaxBars) {
      v.push_back({field + ".intervals", "at most " + std::to_string(kDistanceMaxBars) + " bars per dimension"});
      continue;
    }
    uint64_t finite = 0;
    for (int k = 0; k < d.intervals_size(); ++k) {
      const double b = d.intervals(k).birth(), e = d.intervals(k).death();
      if (!std::isfinite(b) || std::isnan(e) || e < b) {
        v.push_back({field + ".intervals[" + std::to_string(k) + "]",
                     "birth must be finite and death >= birth (or +Infinity)"});
        break;
      }
      if (std::isfinite(e)) ++finite;
    }
    if (wasserstein && finite > kWassersteinMaxBars) {
      v.push_back({field + ".intervals", "at most " + std::to_string(kWassersteinMaxBars) +
                                             " finite bars per dimension for the Wasserstein distance "
                                             "(params.skip_wasserstein leaves it out)"});
      continue;
    }
    Bars& bars = first ? dims[d.dimension()].first : dims[d.dimension()].second;
    bars.reserve(d.intervals_size());
    for (const auto& iv : d.intervals()) bars.push_back({iv.birth(), iv.death()});
  }
}

grpc::Status validate(const engine::DiagramDistanceRequest& req, DistanceJob* job) {
  std::vector<FieldViolation> v;
  const auto& p = req.params();
  job->bottleneck = !p.skip_bottleneck();
  job->wasserstein = !p.skip_wasserstein();
  if (!job->bottleneck && !job->wasserstein)
    v.push_back({"params", "skip_bottleneck and skip_wasserstein leave nothing to compute"});
  job->order = p.order() == 0. ? 1. : p.order();
  if (!(job->order >= 1.) || std::isinf(job->order)) v.push_back({"params.order", "must be finite and >= 1 (0: 1)"});
  job->internal_p = p.internal_p() == 0. ? kInf : p.internal_p();
  if (!(job->internal_p >= 1.)) v.push_back({"params.internal_p", "must be >= 1 or +Infinity (0: +Infinity)"});
  for (int i = 0; i < p.dimensions_size(); ++i) {
    if (p.dimensions(i) >= kDistanceMaxDiagrams)
      v.push_back(
          {"params.dimensions[" + std::to_string(i) + "]", "must be below " + std::to_string(kDistanceMaxDiagrams)});
  }
  read_side(req.a(), "a", job->wasserstein, job->dims, true, v);
  read_side(req.b(), "b", job->wasserstein, job->dims, false, v);
  if (!v.empty()) return errors::invalid_argument("invalid DiagramDistance request", v);
  if (p.dimensions_size() > 0) {
    std::map<uint32_t, std::pair<Bars, Bars>> chosen;
    for (uint32_t d : p.dimensions()) chosen[d] = std::move(job->dims[d]);
    job->dims = std::move(chosen);
  }
  // the Wasserstein cost matrix, plus the bars and the matchers' arrays
  uint64_t bytes = 0;
  for (const auto& [d, sides] : job->dims) {
    const uint64_t n = sides.first.size(), m = sides.second.size();
    bytes = std::max(bytes, (job->wasserstein ? n * m * sizeof(double) : 0) + (n + m) * 64);
  }
  job->memory_bytes = bytes;
  return grpc::Status::OK;
}

void compute(const DistanceJob& job, const tda::core::CancelCheck& cancelled, common::DistanceResult* out) {
  double worst = 0., total = 0.;
  for (const auto& [d, sides] : job.dims) {
    common::DimensionDistance* dd = out->add_dimensions();
    dd->set_dimension(d);
    dd->set_bars_a(sides.first.size());
    dd->set_bars_b(sides.second.size());
    if (job.bottleneck) {
      const double b = tda::core::bottleneck_distance(sides.first, sides.second, cancelled);
      dd->set_bottleneck(b);
      worst = std::max(worst, b);
    }
    if (job.wasserstein) {
      const double w = tda::core::wasserstein_distance(sides.first, sides.second, job.order, job.internal_p, cancelled);
      dd->set_wasserstein(w);
      total += std::isinf(w) ? kInf : std::pow(w, job.order);
    }
  }
  if (job.bottleneck) out->set_bottleneck(worst);
  if (job.wasserstein)
    out->set_wasserstein(std::isinf(total) || job.order == 1. ? total : std::pow(total, 1. / job.order));
}

}  // namespace

grpc::ServerUnaryReactor* diagram_distance(EngineContext& engine, grpc::CallbackServerContext* context,
                                           const engine::DiagramDistanceRequest* request,
                                           engine::DiagramDistanceResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto job = std::make_shared<DistanceJob>();
  grpc::Status st = validate(*request, job.get());
  if (!st.ok()) {
    reactor->Finish(st);
    return reactor;
  }
  if (engine.shutting_down()) {
    reactor->Finish(errors::shutting_down());
    return reactor;
  }
  if (!engine.pool().try_acquire_slot()) {
    reactor->Finish(errors::engine_busy(engine.pool().workers(), engine.pool().queue_depth()));
    return reactor;
  }
  uint64_t available = 0;
  if (!engine.memory().try_reserve(job->memory_bytes, &available)) {
    engine.pool().release_slot();
    reactor->Finish(errors::memory_limit_exceeded(job->memory_bytes, available, engine.memory().limit()));
    return reactor;
  }
  engine.pool().submit([&engine, context, reactor, response, job] {
    const auto started = std::chrono::steady_clock::now();
    const auto cancelled = [&engine, context] { return context->IsCancelled() || engine.shutting_down(); };
    grpc::Status status;
    try {
      if (cancelled()) throw tda::core::Cancelled();
      compute(*job, cancelled, response->mutable_result());
    } catch (const tda::core::Cancelled&) {
      status = engine.shutting_down() ? errors::shutting_down() : errors::cancelled();
    } catch (const tda::core::InvalidInput& e) {
      status = errors::invalid_argument(std::string("invalid diagrams: ") + e.what(), {{"a", e.what()}});
    } catch (const std::bad_alloc&) {
      status = errors::out_of_memory();
    } catch (const std::exception& e) {
      log_line("diagram distance failed: %s", e.what());
      status = errors::internal();
    }
    engine.memory().release(job->memory_bytes);
    size_t bars = 0;
    for (const auto& [d, sides] : job->dims) bars += sides.first.size() + sides.second.size();
    log_line("diagram distance: %zu dimensions, %zu bars, %.3f s%s", job->dims.size(), bars,
             std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
             status.ok() ? "" : " (failed)");
    reactor->Finish(status);
  });
  return reactor;
}

}  // namespace tda::server
