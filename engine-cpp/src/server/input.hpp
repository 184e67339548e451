// Validation of a ComputeSpec and assembly of the raw value chunks that follow
// it into the layout the core expects (float32 coordinates, or the strict
// lower triangle of the distance matrix, row by row).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/support/status.h>

#include "tda/core/rips.hpp"
#include "tda/engine/v1/engine.pb.h"

namespace tda::server {

// Largest homological dimension accepted (the core goes further, but the
// cost explodes long before).
inline constexpr uint32_t kMaxHomologyDim = std::min<uint32_t>(8, static_cast<uint32_t>(tda::core::kMaxDimension));
// Largest number of points / matrix rows accepted (simplex indices stay in range).
inline constexpr uint64_t kMaxPoints = uint64_t{1} << 31;
// Largest ambient dimension of a point cloud.
inline constexpr uint32_t kMaxAmbientDim = 1u << 16;
// Largest coefficient prime (the core's limit).
inline constexpr uint32_t kMaxModulus = static_cast<uint32_t>(tda::core::kMaxModulus);
// Alpha: the same largest max_dim (dimensions past the ambient one are empty).
inline constexpr uint32_t kAlphaMaxHomologyDim = kMaxHomologyDim;

// A validated ComputeSpec.
struct JobSpec {
  tda::common::v1::Algorithm algorithm = tda::common::v1::ALGORITHM_RIPS;
  tda::common::v1::InputKind kind = tda::common::v1::INPUT_KIND_POINT_CLOUD;
  bool float32 = false;  // encoding of the incoming values
  uint64_t n = 0;
  uint32_t dim = 0;              // ambient dimension (point clouds), else 0
  uint64_t expected_values = 0;  // values the client must send
  int max_dim = 1;
  std::optional<double> threshold;
  std::optional<double> sparse_epsilon;  // Rips: the sparse filtration (an approximation)
  int modulus = 2;
  bool alpha_radius = false;        // Alpha: report radii
  std::optional<double> max_alpha;  // Alpha: cut-off in the reported unit
  uint32_t requested_threads = 0;   // 0 = engine default
  std::string job_id;
  bool estimate_only = false;  // answer with the estimate once the input is there

  bool is_distance_matrix() const { return kind != tda::common::v1::INPUT_KIND_POINT_CLOUD; }
  bool is_alpha() const { return algorithm == tda::common::v1::ALGORITHM_ALPHA; }
  // Alpha keeps the coordinates in double precision (exact predicates); Rips
  // works in float32 like Ripser.
  bool stores_double() const { return is_alpha(); }
  size_t value_width() const { return float32 ? 4 : 8; }
  // Bytes of the storage the input occupies once assembled.
  uint64_t storage_bytes() const;
};

// Checks `spec`; returns OK and fills *out, or INVALID_ARGUMENT (BadRequest
// listing every violation) / UNIMPLEMENTED (ALPHA).
grpc::Status validate_spec(const tda::engine::v1::ComputeSpec& spec, JobSpec* out);

// Whether this build serves ALGORITHM_ALPHA (CGAL available).
bool alpha_supported();

// The limits validate_spec enforces, as GetInfo publishes them.
tda::engine::v1::EngineLimits engine_limits(uint32_t max_threads, uint64_t memory_limit, uint64_t max_message_bytes);

// Receives the raw little-endian chunks and stores them as float32 (Rips) or
// double (Alpha).
class InputAssembler {
 public:
  // Allocates the storage; call only after memory admission.
  explicit InputAssembler(const JobSpec& spec);

  // Consumes one chunk. INVALID_ARGUMENT on too many bytes or a non-finite
  // (or, for matrices, negative) value.
  grpc::Status add_chunk(const std::string& bytes);

  // True once exactly the expected number of values has arrived.
  bool complete() const { return values_ == spec_.expected_values && carry_size_ == 0; }
  // Status to report when the client half-closes: OK iff complete().
  grpc::Status check_complete() const;

  uint64_t values_received() const { return values_; }
  uint64_t bytes_received() const { return bytes_; }

  // Point clouds: n*dim row-major coordinates. Matrices: strict lower triangle.
  std::vector<float> take_values() { return std::move(data_); }
  // Alpha: n*dim row-major coordinates in double precision.
  std::vector<double> take_values64() { return std::move(data64_); }

 private:
  grpc::Status store(double v);

  JobSpec spec_;
  std::vector<float> data_;
  std::vector<double> data64_;
  uint64_t values_ = 0;
  uint64_t bytes_ = 0;
  unsigned char carry_[8] = {};
  size_t carry_size_ = 0;
  // position in the streamed matrix (row, col) for matrix layouts
  uint64_t row_ = 0;
  uint64_t col_ = 0;
  uint64_t next_lower_ = 0;  // write position for full / lower layouts
};

}  // namespace tda::server
