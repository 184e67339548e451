// Resource estimates of a Vietoris-Rips computation, for admission control.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

#include "tda/core/persistence.hpp"
#include "tda/core/rips_options.hpp"

namespace tda::core {


// Cost model for admission control, calibrated against the measured peak RSS
// (/usr/bin/time %M) and CPU time of the CLI on random clouds (R^3, n = 500..2000,
// H2) and the benchmark inputs; meant to be an upper-ish estimate.
//  - edges: a fraction q of all pairs lies below the cutoff. Without a threshold
//    the cutoff is the enclosing radius, below which typically 70-85% of the pairs
//    lie (q = 0.8); with a threshold the scale is unknown before the data is seen
//    (q = 0.25 unless the caller measured it: edge_fraction, e.g. from a sample).
//  - storage: input, the dense matrix (plus the lower triangle the CLI builds) or
//    neighbour lists, the edge list, the dimension-1 columns and their pivot map.
//  - dimension k >= 2: S_k ~ C(n, k+1) q^k simplices below the cutoff; the list
//    of all of them is kept for k < max_dim (16 bytes each), and a fraction of the
//    top dimension's survive apparent pairs and clearing as columns.
//  - time: about 70 ns per simplex below the cutoff, plus the distances.
inline Estimate estimate_rips(uint64_t n, uint32_t dim, bool is_distance_matrix, int max_dim,
                              std::optional<double> threshold, double edge_fraction = -1) {
  const double nn = static_cast<double>(n);
  const double pairs = nn * (nn - 1) / 2;
  const double q = edge_fraction >= 0 ? std::min(1.0, edge_fraction) : threshold ? 0.25 : 0.8;
  const double edges = q * pairs;
  const bool dense = !threshold && n <= kDenseMaxPoints;
  double mem = 16.0 * (1 << 20);                              // process, libraries, result
  mem += is_distance_matrix ? pairs * 4 : nn * dim * 4.0;    // input
  if (dense) mem += nn * nn * 4 + (is_distance_matrix ? 0 : pairs * 4);
  else mem += edges * 24;                                     // lists (both ways) + transposition
  // reductions get harder with the intrinsic dimension (unknown for a matrix)
  const double eff_dim = is_distance_matrix ? 8 : std::min<double>(dim, 16);
  if (max_dim >= 1) {
    mem += edges * 16;                                        // edge list (kept as dimension-1 simplices)
    mem += edges * (24 + 4 * eff_dim);                        // dimension-1 columns, pivot map, V
  }
  double work = pairs * (is_distance_matrix ? 1 : std::max<uint32_t>(dim, 1)) * 2e-9 + edges * 5e-7;
  double simplices = edges;  // S_1
  double extra = 0;
  for (int k = 2; k <= max_dim && k < static_cast<int>(n); ++k) {
    simplices *= (nn - k) / (k + 1) * q;  // S_k = S_{k-1} (n - k) / (k + 1) q
    const double columns = simplices * (k == 2 ? 0.004 : is_distance_matrix ? 0.045 : 0.01);
    double here = columns * 16 * 3;  // columns, pivot map, V and working columns
    if (k < max_dim) here += simplices * 16;
    extra = std::max(extra, here + (k >= 3 ? simplices / ((nn - k + 1) / k * q) * 16 : 0));
    work += simplices * 7e-8;
  }
  mem += extra;
  return Estimate{static_cast<uint64_t>(std::min(mem, 1.8e19)), work};
}
}  // namespace tda::core
