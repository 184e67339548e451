// Options, statistics and results of a Vietoris-Rips computation, and the checks
// that run on them before any work.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tda/core/binomial.hpp"
#include "tda/core/persistence.hpp"
#include "tda/core/types.hpp"

namespace tda::core {

// Edge collapse before the reduction: Auto applies it where it pays (collapse_pays).
enum class Collapse { Auto, On, Off };

struct RipsOptions {
  int max_dim = 1;
  std::optional<double> threshold;  // keep edges with d <= threshold; default: enclosing radius
  int modulus = 2;                  // prime field Z/p
  int threads = 1;                  // workers for distances, sorting, apparent pairs, assembly (0 = all cores)
  size_t column_split = 0;          // working-column entries before it is cut into buckets (0 = default; tuning, tests)
  Collapse collapse = Collapse::Auto;
  // The sparse Rips filtration (sparse_rips.hpp), an approximation: its diagram is
  // within a factor 1 + sparse of the Rips diagram (log-scale bottleneck distance
  // <= log(1 + sparse)). Unset: the exact Rips filtration.
  std::optional<double> sparse;
};

// The accepted values of RipsOptions::sparse: (0, 1], a factor of at most 2.
inline constexpr double kSparseMaxEpsilon = 1.0;

struct RipsStats {
  uint64_t points = 0;
  uint64_t edges = 0;            // edges up to the threshold used
  uint64_t columns_reduced = 0;  // columns entering the reduction (all dimensions >= 1)
  uint64_t apparent_pairs = 0;   // columns skipped as zero-persistence apparent pairs
  double threshold_used = 0;
  bool collapsed = false;               // edge collapse applied
  bool collapse_stopped_early = false;  // ... and stopped by the rule (too few edges went)
  uint64_t edges_after_collapse = 0;    // edges left by it (the reduction's input)
  uint64_t edges_delayed = 0;           // kept by the collapse, entering later
  uint64_t probe_edges = 0;             // the collapse's probe: edges handled first,
  uint64_t probe_removed = 0;           // ... of them dropped
  uint64_t probe_delayed = 0;           // ... of them delayed
  uint32_t collapse_blocks = 0;         // blocks of vertices collapsed concurrently (0: in order, one thread)
  // wall and CPU (all threads of the process) seconds of the stages
  double seconds_edges = 0, cpu_seconds_edges = 0;  // neighbour lists and edge list
  double seconds_collapse = 0, cpu_seconds_collapse = 0;
  double seconds_reduction = 0, cpu_seconds_reduction = 0;  // dimension 0 and the reductions
  double seconds_sort = 0;                                  // of it: sorting the edges
  double sparse_epsilon = 0;       // > 0: the sparse Rips filtration with this eps (an approximation)
  double seconds_permutation = 0;  // sparse: the greedy permutation (part of seconds_edges)
};

struct RipsResult {
  std::vector<std::vector<Interval>> diagrams;  // index = dimension, 0..max_dim
  std::vector<uint64_t> betti;                  // essential bars per dimension
  RipsStats stats;
};

// Dense mode keeps a full n x n float matrix; above this many points the
// neighbour lists (sparse mode) are used even without a threshold.
inline constexpr size_t kDenseMaxPoints = 20000;

namespace detail {

// Checks everything that does not depend on the distances themselves.
inline void validate_options(uint64_t n, const RipsOptions& opt) {
  if (n < 1) throw InvalidInput("at least one point is required");
  if (n > (uint64_t{1} << 31)) throw InvalidInput("too many points");
  if (opt.max_dim < 0 || opt.max_dim > kMaxDimension)
    throw InvalidInput("max_dim must be between 0 and " + std::to_string(kMaxDimension));
  if (opt.modulus < 2 || opt.modulus > kMaxModulus || !is_prime(opt.modulus))
    throw InvalidInput("modulus must be a prime between 2 and " + std::to_string(kMaxModulus));
  if (opt.threads < 0 || opt.threads > 4096) throw InvalidInput("threads must be between 0 and 4096");
  if (opt.threshold && std::isnan(*opt.threshold)) throw InvalidInput("threshold is NaN");
  if (opt.sparse) {
    if (!(*opt.sparse > 0 && *opt.sparse <= kSparseMaxEpsilon)) throw InvalidInput("sparse epsilon must be in (0, 1]");
    if (opt.collapse == Collapse::On)
      throw InvalidInput("the edge collapse applies to the Rips (flag) filtration, not to the sparse one");
  }
  // Simplex indices of the top dimension computed, max_dim + 1, must fit
  // (Z/p packs an 8-bit coefficient above a 55-bit index).
  const uint64_t k = std::min<uint64_t>(opt.max_dim, n >= 2 ? n - 2 : 0) + 2;
  const unsigned __int128 limit =
      opt.modulus == 2 ? (unsigned __int128)BinomialTable::kSaturated - 1 : ((unsigned __int128)1 << 55) - 1;
  unsigned __int128 c = 1;  // C(n - k + i, i) for i = 0..k
  for (uint64_t i = 1; i <= k && k <= n; ++i) {
    c = c * (n - k + i) / i;
    if (c > limit)
      throw InvalidInput("simplex indices overflow 64 bits for " + std::to_string(n) + " points in dimension " +
                         std::to_string(opt.max_dim));
  }
}

inline void validate_values(const std::vector<value_t>& v, bool nonnegative, const char* what) {
  for (value_t x : v) {
    if (!std::isfinite(x)) throw InvalidInput(std::string(what) + " contain a non-finite value");
    if (nonnegative && x < 0) throw InvalidInput(std::string(what) + " contain a negative value");
  }
}

inline RipsResult make_result(size_t n, const RipsOptions& opt, value_t thr) {
  RipsResult r;
  r.diagrams.resize(opt.max_dim + 1);
  r.betti.assign(opt.max_dim + 1, 0);
  r.stats.points = n;
  r.stats.threshold_used = thr;
  return r;
}

}  // namespace detail
}  // namespace tda::core
