// Scalar types and error types shared by the tda::core headers.
#pragma once

#include <cstdint>
#include <exception>
#include <stdexcept>

namespace tda::core {

using value_t = float;    // distances, as in Ripser (float32)
using index_t = int64_t;  // simplex index in the combinatorial number system
using coef_t = uint32_t;  // coefficient in Z/p (always < 256)

// Thrown when Callbacks::is_cancelled() reports true.
struct Cancelled : std::exception {
  const char* what() const noexcept override { return "cancelled"; }
};

// Thrown by validation, before any computation starts.
struct InvalidInput : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

}  // namespace tda::core
