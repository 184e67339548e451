#include "server/input.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include "server/distance.hpp"
#include "server/vectorize.hpp"
#include "server/errors.hpp"
#include "tda/core/rips_options.hpp"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the wire format is little-endian; add byte swapping for this host");

namespace tda::server {
namespace {

using tda::common::v1::InputKind;

bool is_prime(uint32_t p) { return p <= static_cast<uint32_t>(INT32_MAX) && tda::core::is_prime(static_cast<int>(p)); }

std::string kind_name(InputKind k) { return tda::common::v1::InputKind_Name(k); }

}  // namespace

bool alpha_supported() {
#ifdef TDA_HAVE_ALPHA
  return true;
#else
  return false;
#endif
}

tda::engine::v1::EngineLimits engine_limits(uint32_t max_threads, uint64_t memory_limit, uint64_t max_message_bytes) {
  tda::engine::v1::EngineLimits l;
  l.set_rips_max_dim(kMaxHomologyDim);
  l.set_max_modulus(kMaxModulus);
  l.set_max_points(kMaxPoints);
  l.set_max_ambient_dim(kMaxAmbientDim);
  if (alpha_supported()) {
    l.set_alpha_max_dim(kAlphaMaxHomologyDim);
    for (uint32_t d = tda::core::kAlphaMinDim; d <= tda::core::kAlphaMaxDim; ++d) l.add_alpha_ambient_dims(d);
    l.set_alpha_max_points(tda::core::kAlphaMaxPoints);
  }
  l.set_max_threads(max_threads);
  l.set_memory_limit_bytes(memory_limit);
  l.set_max_message_bytes(max_message_bytes);
  l.set_distance_max_bars(kDistanceMaxBars);
  l.set_wasserstein_max_bars(kWassersteinMaxBars);
  l.set_vectorize_max_resolution(kVectorizeMaxResolution);
  l.set_vectorize_max_layers(kVectorizeMaxLayers);
  l.set_vectorize_max_values(kVectorizeMaxValues);
  return l;
}

uint64_t JobSpec::storage_bytes() const {
  const uint64_t values = is_distance_matrix() ? n * (n - 1) / 2 : n * uint64_t{dim};
  return values * (stores_double() ? sizeof(double) : sizeof(float));
}

namespace {

using Violations = std::vector<FieldViolation>;

// spec.params.algorithm: RIPS, or ALPHA where this build has it (else UNIMPLEMENTED).
grpc::Status check_algorithm(const tda::common::v1::Algorithm algorithm, Violations& v) {
  switch (algorithm) {
    case tda::common::v1::ALGORITHM_RIPS:
      break;
    case tda::common::v1::ALGORITHM_ALPHA:
      if (!alpha_supported()) return errors::algorithm_unimplemented("ALPHA");
      break;
    default:
      v.push_back({"spec.params.algorithm", "must be ALGORITHM_RIPS (or ALGORITHM_ALPHA)"});
  }
  return grpc::Status::OK;
}

// spec.input_kind and spec.encoding: what the values are and how they travel.
void check_input_format(const tda::engine::v1::ComputeSpec& spec, JobSpec& s, Violations& v) {
  s.kind = spec.input_kind();
  switch (s.kind) {
    case tda::common::v1::INPUT_KIND_POINT_CLOUD:
    case tda::common::v1::INPUT_KIND_DISTANCE_MATRIX:
    case tda::common::v1::INPUT_KIND_LOWER_DISTANCE_MATRIX:
    case tda::common::v1::INPUT_KIND_UPPER_DISTANCE_MATRIX:
      break;
    default:
      v.push_back({"spec.input_kind",
                   "must be POINT_CLOUD, DISTANCE_MATRIX, "
                   "LOWER_DISTANCE_MATRIX or UPPER_DISTANCE_MATRIX"});
  }

  switch (spec.encoding()) {
    case tda::common::v1::VALUE_ENCODING_UNSPECIFIED:
    case tda::common::v1::VALUE_ENCODING_FLOAT64:
      s.float32 = false;
      break;
    case tda::common::v1::VALUE_ENCODING_FLOAT32:
      s.float32 = true;
      break;
    default:
      v.push_back({"spec.encoding", "must be FLOAT64 or FLOAT32"});
  }
}

// spec.n and, for a point cloud, spec.dim.
void check_sizes(const tda::engine::v1::ComputeSpec& spec, JobSpec& s, Violations& v) {
  s.n = spec.n();
  if (s.n < 1 || s.n > kMaxPoints) v.push_back({"spec.n", "must be between 1 and " + std::to_string(kMaxPoints)});

  if (s.kind == tda::common::v1::INPUT_KIND_POINT_CLOUD) {
    s.dim = spec.dim();
    if (s.dim < 1 || s.dim > kMaxAmbientDim)
      v.push_back({"spec.dim", "a point cloud needs dim between 1 and " + std::to_string(kMaxAmbientDim)});
  }
}

// spec.params.max_dim and spec.params.modulus (every algorithm).
void check_homology(const tda::common::v1::ComputeParams& params, JobSpec& s, Violations& v) {
  if (params.max_dim() > kMaxHomologyDim)
    v.push_back({"spec.params.max_dim", "must be at most " + std::to_string(kMaxHomologyDim)});
  s.max_dim = static_cast<int>(params.max_dim());

  const uint32_t modulus = params.modulus() == 0 ? 2 : params.modulus();
  if (modulus > kMaxModulus || !is_prime(modulus))
    v.push_back({"spec.params.modulus", "must be a prime at most " + std::to_string(kMaxModulus) + " (0 means 2)"});
  s.modulus = static_cast<int>(modulus);
}

// The Rips options: spec.params.threshold and spec.params.sparse_epsilon.
void check_rips_options(const tda::common::v1::ComputeParams& params, JobSpec& s, Violations& v) {
  if (params.has_threshold()) {
    const double t = params.threshold();
    if (std::isnan(t) || t < 0) v.push_back({"spec.params.threshold", "must be a non-negative number"});
    else if (std::isfinite(t)) s.threshold = t;  // +inf means no threshold
  }

  if (params.has_sparse_epsilon()) {
    const double e = params.sparse_epsilon();
    if (!(e > 0 && e <= tda::core::kSparseMaxEpsilon))
      v.push_back({"spec.params.sparse_epsilon", "must be in (0, 1] (unset: the exact Rips filtration)"});
    else s.sparse_epsilon = e;
  }
}

// ALPHA: a point cloud in R^2 or R^3 of at most kAlphaMaxPoints points, its own options
// (alpha_radius, max_alpha) and none of the Rips ones.
void check_alpha_options(const tda::common::v1::ComputeParams& params, JobSpec& s, Violations& v) {
  if (s.kind != tda::common::v1::INPUT_KIND_POINT_CLOUD) v.push_back({"spec.input_kind", "ALPHA needs a POINT_CLOUD"});
  else if (s.dim < tda::core::kAlphaMinDim || s.dim > tda::core::kAlphaMaxDim)
    v.push_back({"spec.dim", "ALPHA needs points in dimension 2 or 3"});
  if (s.n > tda::core::kAlphaMaxPoints)
    v.push_back({"spec.n", "ALPHA takes at most " + std::to_string(tda::core::kAlphaMaxPoints) + " points"});
  s.alpha_radius = params.alpha_radius();
  if (params.has_max_alpha()) {
    const double a = params.max_alpha();
    if (std::isnan(a)) v.push_back({"spec.params.max_alpha", "must be a number"});
    else if (std::isfinite(a)) s.max_alpha = a;  // +inf means no cut-off
  }
  s.threshold.reset();  // a Rips parameter
  if (params.has_sparse_epsilon())
    v.push_back({"spec.params.sparse_epsilon", "is a Rips parameter (the sparse Rips filtration)"});
}

// The values the client sends: n*dim coordinates, the full n*n matrix, or one triangle.
uint64_t expected_values(const JobSpec& s) {
  switch (s.kind) {
    case tda::common::v1::INPUT_KIND_POINT_CLOUD:
      return s.n * s.dim;
    case tda::common::v1::INPUT_KIND_DISTANCE_MATRIX:
      return s.n * s.n;
    default:
      return s.n * (s.n - 1) / 2;
  }
}

}  // namespace

grpc::Status validate_spec(const tda::engine::v1::ComputeSpec& spec, JobSpec* out) {
  Violations v;  // every violation, in the order of the checks
  const auto& params = spec.params();
  if (grpc::Status st = check_algorithm(params.algorithm(), v); !st.ok()) return st;

  JobSpec s;
  check_input_format(spec, s, v);
  check_sizes(spec, s, v);
  check_homology(params, s, v);
  check_rips_options(params, s, v);
  s.algorithm = params.algorithm();
  if (s.is_alpha()) check_alpha_options(params, s, v);
  s.requested_threads = params.threads();
  s.job_id = spec.job_id();
  s.estimate_only = spec.estimate_only();

  if (!v.empty()) return errors::invalid_argument("invalid compute spec", v);
  s.expected_values = expected_values(s);
  *out = s;
  return grpc::Status::OK;
}

InputAssembler::InputAssembler(const JobSpec& spec) : spec_(spec) {
  if (spec_.stores_double()) data64_.resize(spec_.expected_values);
  else data_.resize(spec_.storage_bytes() / sizeof(float));
  // matrix cursor starts at (0, 0) for full matrices, (0, 1) for upper, (1, 0) for lower
  if (spec_.kind == tda::common::v1::INPUT_KIND_UPPER_DISTANCE_MATRIX) col_ = 1;
  if (spec_.kind == tda::common::v1::INPUT_KIND_LOWER_DISTANCE_MATRIX) row_ = 1;
}

grpc::Status InputAssembler::store(double v) {
  const float f = static_cast<float>(v);
  if (!std::isfinite(v) || (!spec_.stores_double() && !std::isfinite(f))) {
    return errors::invalid_argument(
        "input contains a non-finite value",
        {{"chunk", "value #" + std::to_string(values_) + " is NaN, infinite or beyond float32 range"}});
  }
  const uint64_t index = values_++;
  switch (spec_.kind) {
    case tda::common::v1::INPUT_KIND_POINT_CLOUD:
      if (spec_.stores_double()) data64_[index] = v;
      else data_[index] = f;
      return grpc::Status::OK;
    default:
      break;
  }
  if (f < 0) {
    return errors::invalid_argument(
        "distance matrix contains a negative distance",
        {{"chunk", "entry (" + std::to_string(row_) + ", " + std::to_string(col_) + ") is negative"}});
  }
  switch (spec_.kind) {
    case tda::common::v1::INPUT_KIND_LOWER_DISTANCE_MATRIX:
      data_[next_lower_++] = f;
      if (++col_ == row_) {
        ++row_;
        col_ = 0;
      }
      break;
    case tda::common::v1::INPUT_KIND_DISTANCE_MATRIX:
      // keep the strict lower triangle; the diagonal and upper half are ignored
      if (col_ < row_) data_[next_lower_++] = f;
      if (++col_ == spec_.n) {
        ++row_;
        col_ = 0;
      }
      break;
    case tda::common::v1::INPUT_KIND_UPPER_DISTANCE_MATRIX:
      // entry (row_, col_) with col_ > row_ is d(col_, row_) of the lower triangle
      data_[col_ * (col_ - 1) / 2 + row_] = f;
      if (++col_ == spec_.n) {
        ++row_;
        col_ = row_ + 1;
      }
      break;
    default:
      break;
  }
  return grpc::Status::OK;
}

grpc::Status InputAssembler::add_chunk(const std::string& bytes) {
  const size_t width = spec_.value_width();
  const uint64_t expected_bytes = spec_.expected_values * width;
  if (bytes.size() > expected_bytes - bytes_) {
    return errors::invalid_argument(
        "too much input data",
        {{"chunk", "received more than the " + std::to_string(expected_bytes) + " bytes announced by the spec (" +
                       std::to_string(spec_.expected_values) + " values of " + std::to_string(width) + " bytes)"}});
  }
  bytes_ += bytes.size();

  const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t left = bytes.size();

  auto decode = [&](const unsigned char* src) -> double {
    if (width == 8) {
      double d;
      std::memcpy(&d, src, 8);
      return d;
    }
    float f;
    std::memcpy(&f, src, 4);
    return f;
  };

  if (carry_size_ > 0) {
    const size_t need = std::min(width - carry_size_, left);
    std::memcpy(carry_ + carry_size_, p, need);
    carry_size_ += need;
    p += need;
    left -= need;
    if (carry_size_ < width) return grpc::Status::OK;
    carry_size_ = 0;
    if (auto st = store(decode(carry_)); !st.ok()) return st;
  }
  while (left >= width) {
    if (auto st = store(decode(p)); !st.ok()) return st;
    p += width;
    left -= width;
  }
  if (left > 0) {
    std::memcpy(carry_, p, left);
    carry_size_ = left;
  }
  return grpc::Status::OK;
}

grpc::Status InputAssembler::check_complete() const {
  if (complete()) return grpc::Status::OK;
  std::string what = "received " + std::to_string(values_) + " values";
  if (carry_size_ > 0) what += " and " + std::to_string(carry_size_) + " stray bytes (a partial value)";
  what += "; the spec (" + kind_name(spec_.kind) + ", n=" + std::to_string(spec_.n);
  if (!spec_.is_distance_matrix()) what += ", dim=" + std::to_string(spec_.dim);
  what += ") needs exactly " + std::to_string(spec_.expected_values) + " values of " +
          std::to_string(spec_.value_width()) + " bytes";
  return errors::invalid_argument("input ended early", {{"chunk", what}});
}

}  // namespace tda::server
