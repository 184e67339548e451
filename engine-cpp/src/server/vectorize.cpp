#include "server/vectorize.hpp"

#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "server/errors.hpp"
#include "server/log.hpp"
#include "tda/core/vectorize.hpp"

namespace tda::server {
namespace {

namespace common = tda::common::v1;
namespace engine = tda::engine::v1;
using Bars = std::vector<tda::core::Interval>;

struct VectorizeJob {
  common::FeatureKind kind = common::FEATURE_KIND_UNSPECIFIED;
  std::map<uint32_t, Bars> dims;
  common::VectorizeParams params;
  uint32_t resolution = 0;
  uint32_t layers = 0;
  double bandwidth = 1.;
  double weight_power = 1.;
  double order = 1.;
  double internal_p = std::numeric_limits<double>::infinity();
};

bool finite_opt(bool has, double v) { return !has || std::isfinite(v); }

bool is_gridded(common::FeatureKind kind) {
  return kind == common::FEATURE_KIND_BETTI_CURVE || kind == common::FEATURE_KIND_LANDSCAPE;
}

// The kind, grid sizes and ranges of the request's parameters (defaults filled in job).
void validate_kind_and_grid(const common::VectorizeParams& p, VectorizeJob* job, std::vector<FieldViolation>& v) {
  const bool gridded = is_gridded(p.kind());
  switch (p.kind()) {
    case common::FEATURE_KIND_BETTI_CURVE:
    case common::FEATURE_KIND_LANDSCAPE:
    case common::FEATURE_KIND_PERSISTENCE_IMAGE:
    case common::FEATURE_KIND_ENTROPY:
    case common::FEATURE_KIND_AMPLITUDES:
      break;
    default:
      v.push_back({"params.kind", "one of BETTI_CURVE, LANDSCAPE, PERSISTENCE_IMAGE, ENTROPY, AMPLITUDES"});
  }
  const bool image = p.kind() == common::FEATURE_KIND_PERSISTENCE_IMAGE;
  job->resolution = p.resolution() == 0 ? (image ? 20 : 100) : p.resolution();
  const uint32_t max_res = image ? kVectorizeMaxImageSide : kVectorizeMaxResolution;
  if ((gridded || image) && job->resolution > max_res)
    v.push_back(
        {"params.resolution", "at most " + std::to_string(max_res) + (image ? " pixels per side" : " grid points")});
  job->layers = p.layers() == 0 ? 5 : p.layers();
  if (p.kind() == common::FEATURE_KIND_LANDSCAPE && job->layers > kVectorizeMaxLayers)
    v.push_back({"params.layers", "at most " + std::to_string(kVectorizeMaxLayers)});
  if (!finite_opt(p.has_range_min(), p.range_min())) v.push_back({"params.range_min", "must be finite"});
  if (!finite_opt(p.has_range_max(), p.range_max())) v.push_back({"params.range_max", "must be finite"});
  if (p.has_range_min() && p.has_range_max() && p.range_min() > p.range_max())
    v.push_back({"params.range_max", "must be >= range_min"});
  if (!finite_opt(p.has_persistence_min(), p.persistence_min()))
    v.push_back({"params.persistence_min", "must be finite"});
  if (!finite_opt(p.has_persistence_max(), p.persistence_max()))
    v.push_back({"params.persistence_max", "must be finite"});
  if (p.has_persistence_min() && p.has_persistence_max() && p.persistence_min() > p.persistence_max())
    v.push_back({"params.persistence_max", "must be >= persistence_min"});
}

// The kernels' and norms' parameters (0 stands for the default, filled in job).
void validate_kernel_params(const common::VectorizeParams& p, VectorizeJob* job, std::vector<FieldViolation>& v) {
  job->bandwidth = p.bandwidth() == 0. ? 1. : p.bandwidth();
  if (!(job->bandwidth > 0.) || std::isinf(job->bandwidth))
    v.push_back({"params.bandwidth", "must be finite and > 0 (0: 1)"});
  job->weight_power = p.weight_power() == 0. ? 1. : p.weight_power();
  if (!std::isfinite(job->weight_power)) v.push_back({"params.weight_power", "must be finite"});
  job->order = p.order() == 0. ? 1. : p.order();
  if (!(job->order >= 1.) || std::isinf(job->order)) v.push_back({"params.order", "must be finite and >= 1 (0: 1)"});
  job->internal_p = p.internal_p() == 0. ? std::numeric_limits<double>::infinity() : p.internal_p();
  if (!(job->internal_p >= 1.)) v.push_back({"params.internal_p", "must be >= 1 or +Infinity (0: +Infinity)"});
}

// The diagrams into job->dims, up to the first bad one (only when the
// parameters were valid).
void read_diagrams(const engine::VectorizeRequest& req, VectorizeJob* job, std::vector<FieldViolation>& v) {
  if (static_cast<uint32_t>(req.diagrams_size()) > kDistanceMaxDiagrams)
    v.push_back({"diagrams", "at most " + std::to_string(kDistanceMaxDiagrams) + " diagrams"});
  for (int i = 0; i < req.diagrams_size() && v.empty(); ++i) {
    const auto& d = req.diagrams(i);
    const std::string field = "diagrams[" + std::to_string(i) + "]";
    if (d.dimension() >= kDistanceMaxDiagrams || job->dims.count(d.dimension())) {
      v.push_back({field + ".dimension", "below " + std::to_string(kDistanceMaxDiagrams) + " and not repeated"});
      break;
    }
    if (static_cast<uint64_t>(d.intervals_size()) > kVectorizeMaxBars) {
      v.push_back({field + ".intervals", "at most " + std::to_string(kVectorizeMaxBars) + " bars"});
      break;
    }
    Bars& bars = job->dims[d.dimension()];
    for (int k = 0; k < d.intervals_size(); ++k) {
      const double b = d.intervals(k).birth(), e = d.intervals(k).death();
      if (!std::isfinite(b) || std::isnan(e) || e < b) {
        v.push_back({field + ".intervals[" + std::to_string(k) + "]",
                     "birth must be finite and death >= birth (or +Infinity)"});
        break;
      }
      bars.push_back({b, e});
    }
  }
}

// Keeps only the dimensions asked for, if any (a missing one is empty).
grpc::Status choose_dimensions(const common::VectorizeParams& p, VectorizeJob* job) {
  if (p.dimensions_size() == 0) return grpc::Status::OK;
  std::map<uint32_t, Bars> chosen;
  for (uint32_t d : p.dimensions()) {
    if (d >= kDistanceMaxDiagrams)
      return errors::invalid_argument("invalid Vectorize request",
                                      {{"params.dimensions", "each below " + std::to_string(kDistanceMaxDiagrams)}});
    chosen[d] = job->dims[d];
  }
  job->dims = std::move(chosen);
  return grpc::Status::OK;
}

// The work and the answer's size, bounded.
grpc::Status check_size(const common::VectorizeParams& p, const VectorizeJob& job) {
  const bool gridded = is_gridded(p.kind());
  const bool image = p.kind() == common::FEATURE_KIND_PERSISTENCE_IMAGE;
  // the work of landscapes and images grows with bars x grid points (pixels)
  uint64_t bars = 0;
  for (const auto& [d, b] : job.dims) bars += b.size();
  const uint64_t points = image ? uint64_t{job.resolution} * job.resolution : (gridded ? job.resolution : 1);
  if ((image || p.kind() == common::FEATURE_KIND_LANDSCAPE) && bars * points > kVectorizeMaxWork)
    return errors::invalid_argument(
        "too much work for one call",
        {{"params.resolution", "bars x " + std::string(image ? "pixels" : "grid points") + " must be at most " +
                                   std::to_string(kVectorizeMaxWork) + " (" + std::to_string(bars) + " bars)"}});
  // every size was bounded above: the answer's values
  uint64_t per_dim = 3;
  if (gridded) per_dim = uint64_t{job.resolution} * (p.kind() == common::FEATURE_KIND_LANDSCAPE ? job.layers : 1);
  if (image) per_dim = uint64_t{job.resolution} * job.resolution;
  if (per_dim * std::max<size_t>(1, job.dims.size()) > kVectorizeMaxValues)
    return errors::invalid_argument("the answer would be too large",
                                    {{"params", "at most " + std::to_string(kVectorizeMaxValues) +
                                                    " values in all (resolution, layers, dimensions)"}});
  return grpc::Status::OK;
}

grpc::Status validate(const engine::VectorizeRequest& req, VectorizeJob* job) {
  std::vector<FieldViolation> v;
  const auto& p = req.params();
  job->kind = p.kind();
  job->params = p;
  validate_kind_and_grid(p, job, v);
  validate_kernel_params(p, job, v);
  read_diagrams(req, job, v);
  if (!v.empty()) return errors::invalid_argument("invalid Vectorize request", v);
  grpc::Status st = choose_dimensions(p, job);
  if (!st.ok()) return st;
  return check_size(p, *job);
}

// The grid's range: the caller's, else the smallest birth and largest finite death.
std::pair<double, double> birth_death_range(const Bars& bars, const common::VectorizeParams& p) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& b : bars) {
    lo = std::min(lo, b.birth);
    if (std::isfinite(b.death)) hi = std::max(hi, b.death);
  }
  if (!std::isfinite(lo)) lo = 0.;
  if (!std::isfinite(hi)) hi = lo;
  return {p.has_range_min() ? p.range_min() : lo, p.has_range_max() ? p.range_max() : hi};
}

void put(const std::vector<double>& xs, google::protobuf::RepeatedField<double>* to) {
  to->Reserve(static_cast<int>(xs.size()));
  for (double x : xs) to->Add(x);
}

void betti_curve_vector(const Bars& bars, const VectorizeJob& job, common::FeatureVector* fv) {
  const auto [lo, hi] = birth_death_range(bars, job.params);
  const auto grid = tda::core::linspace(lo, hi, job.resolution);
  put(tda::core::betti_curve(bars, grid), fv->mutable_values());
  put(grid, fv->mutable_grid());
  fv->set_rows(1);
  fv->set_cols(job.resolution);
}

void landscape_vector(const Bars& bars, const VectorizeJob& job, const tda::core::CancelCheck& cancelled,
                      common::FeatureVector* fv) {
  const auto [lo, hi] = birth_death_range(tda::core::finite_bars(bars), job.params);
  const auto grid = tda::core::linspace(lo, hi, job.resolution);
  put(tda::core::landscape(bars, grid, job.layers, cancelled), fv->mutable_values());
  put(grid, fv->mutable_grid());
  fv->set_rows(job.layers);
  fv->set_cols(job.resolution);
}

void persistence_image_vector(const Bars& bars, const VectorizeJob& job, const tda::core::CancelCheck& cancelled,
                              common::FeatureVector* fv) {
  const auto& p = job.params;
  const Bars f = tda::core::finite_bars(bars);
  double bmin = 0., bmax = 0., pmin = 0., pmax = 0.;
  if (!f.empty()) {
    bmin = pmin = std::numeric_limits<double>::infinity();
    bmax = pmax = -bmin;
    for (const auto& b : f) {
      bmin = std::min(bmin, b.birth);
      bmax = std::max(bmax, b.birth);
      pmin = std::min(pmin, b.death - b.birth);
      pmax = std::max(pmax, b.death - b.birth);
    }
  }
  const auto xs = tda::core::linspace(p.has_range_min() ? p.range_min() : bmin,
                                      p.has_range_max() ? p.range_max() : bmax, job.resolution);
  const auto ys = tda::core::linspace(p.has_persistence_min() ? p.persistence_min() : pmin,
                                      p.has_persistence_max() ? p.persistence_max() : pmax, job.resolution);
  const auto weight = p.weight() == common::IMAGE_WEIGHT_PERSISTENCE_POWER ? tda::core::ImageWeight::PersistencePower
                                                                           : tda::core::ImageWeight::Constant;
  put(tda::core::persistence_image(f, xs, ys, job.bandwidth, weight, job.weight_power, cancelled),
      fv->mutable_values());
  put(xs, fv->mutable_grid());
  put(ys, fv->mutable_grid_y());
  fv->set_rows(job.resolution);
  fv->set_cols(job.resolution);
}

void entropy_vector(const Bars& bars, common::FeatureVector* fv) {
  fv->add_values(tda::core::persistence_entropy(bars));
  fv->add_names("entropy");
  fv->set_rows(1);
  fv->set_cols(1);
}

void amplitudes_vector(const Bars& bars, const VectorizeJob& job, common::FeatureVector* fv) {
  const auto a = tda::core::amplitudes(bars, job.order, job.internal_p);
  fv->add_values(a.total_persistence);
  fv->add_values(a.bottleneck);
  fv->add_values(a.wasserstein);
  fv->add_names("total_persistence");
  fv->add_names("bottleneck");
  fv->add_names("wasserstein");
  fv->set_rows(1);
  fv->set_cols(3);
}

void compute(const VectorizeJob& job, const tda::core::CancelCheck& cancelled, common::FeatureResult* out) {
  out->set_kind(job.kind);
  for (const auto& [d, bars] : job.dims) {
    if (cancelled && cancelled()) throw tda::core::Cancelled();
    common::FeatureVector* fv = out->add_vectors();
    fv->set_dimension(d);
    switch (job.kind) {
      case common::FEATURE_KIND_BETTI_CURVE:
        betti_curve_vector(bars, job, fv);
        break;
      case common::FEATURE_KIND_LANDSCAPE:
        landscape_vector(bars, job, cancelled, fv);
        break;
      case common::FEATURE_KIND_PERSISTENCE_IMAGE:
        persistence_image_vector(bars, job, cancelled, fv);
        break;
      case common::FEATURE_KIND_ENTROPY:
        entropy_vector(bars, fv);
        break;
      case common::FEATURE_KIND_AMPLITUDES:
        amplitudes_vector(bars, job, fv);
        break;
      default:
        break;
    }
  }
}

}  // namespace

grpc::ServerUnaryReactor* vectorize(EngineContext& engine, grpc::CallbackServerContext* context,
                                    const engine::VectorizeRequest* request, engine::VectorizeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto job = std::make_shared<VectorizeJob>();
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
  engine.pool().submit([&engine, context, reactor, response, job] {
    const auto cancelled = [&engine, context] { return context->IsCancelled() || engine.shutting_down(); };
    grpc::Status status;
    try {
      compute(*job, cancelled, response->mutable_result());
    } catch (const tda::core::Cancelled&) {
      status = engine.shutting_down() ? errors::shutting_down() : errors::cancelled();
    } catch (const std::bad_alloc&) {
      status = errors::out_of_memory();
    } catch (const std::exception& e) {
      log_line("vectorize failed: %s", e.what());
      status = errors::internal();
    }
    reactor->Finish(status);
  });
  return reactor;
}

}  // namespace tda::server
