// Vectorisations of a persistence diagram, for machine-learning pipelines:
// Betti curves, persistence landscapes, persistence images, persistence
// entropy, total persistence and amplitudes. The definitions and their
// conventions are GUDHI's (gudhi.representations, 3.13), so that a result is
// interchangeable with what a user gets from GUDHI on the same bars:
//
//   grid          x_i = lo + i (hi - lo) / (resolution - 1), as numpy.linspace
//   Betti curve   beta(x) = #{bars: birth <= x < death} (essential bars count)
//   landscape     lambda_k(x) = sqrt(2) * k-th largest of max(0, (d-b)/2 - |x - (b+d)/2|),
//                 layer by layer (k = 1..layers), each on the grid
//   image         pixel (row j: persistence y_j, column i: birth x_i) =
//                 sum w(b, d-b) exp(-((b-x_i)^2 + (d-b-y_j)^2) / (2 s^2)) / (2 pi s^2)
//   entropy       -sum p log p with p = (d-b) / sum (d-b)
//   amplitudes    total persistence sum (d-b)^p; the bottleneck and
//                 p-Wasserstein distances to the empty diagram
//
// Landscapes, images, entropy and amplitudes use the finite bars of positive
// length (essential bars are left out, as GUDHI's DiagramSelector does).
// Callers bound every size (resolution, layers) before calling.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <vector>

#include "tda/core/diagram_distance.hpp"
#include "tda/core/persistence.hpp"
#include "tda/core/types.hpp"

namespace tda::core {

// numpy.linspace(lo, hi, n).
inline std::vector<double> linspace(double lo, double hi, size_t n) {
  std::vector<double> g(n);
  if (n == 0) return g;
  if (n == 1) {
    g[0] = lo;
    return g;
  }
  const double step = (hi - lo) / static_cast<double>(n - 1);
  for (size_t i = 0; i < n; ++i) g[i] = lo + static_cast<double>(i) * step;
  g[n - 1] = hi;
  return g;
}

// Finite bars of positive length.
inline std::vector<Interval> finite_bars(const std::vector<Interval>& bars) {
  std::vector<Interval> out;
  for (const Interval& b : bars)
    if (std::isfinite(b.death) && b.death > b.birth) out.push_back(b);
  return out;
}

inline std::vector<double> betti_curve(const std::vector<Interval>& bars, const std::vector<double>& grid) {
  std::vector<double> births, deaths;
  for (const Interval& b : bars) {
    births.push_back(b.birth);
    if (!std::isinf(b.death)) deaths.push_back(b.death);
  }
  std::sort(births.begin(), births.end());
  std::sort(deaths.begin(), deaths.end());
  std::vector<double> out(grid.size());
  for (size_t i = 0; i < grid.size(); ++i) {
    const auto born = std::upper_bound(births.begin(), births.end(), grid[i]) - births.begin();
    const auto died = std::upper_bound(deaths.begin(), deaths.end(), grid[i]) - deaths.begin();
    out[i] = static_cast<double>(born - died);
  }
  return out;
}

// layers * grid.size() values, layer by layer.
inline std::vector<double> landscape(const std::vector<Interval>& bars, const std::vector<double>& grid, size_t layers,
                                     const CancelCheck& cancelled = {}) {
  const std::vector<Interval> f = finite_bars(bars);
  std::vector<double> out(layers * grid.size(), 0.);
  std::vector<double> tents;
  tents.reserve(f.size());
  const double root2 = std::sqrt(2.);
  for (size_t i = 0; i < grid.size(); ++i) {
    if ((i & 63) == 0 && cancelled && cancelled()) throw Cancelled();
    tents.clear();
    for (const Interval& b : f) {
      const double mid = (b.birth + b.death) / 2., height = (b.death - b.birth) / 2.;
      const double t = height - std::fabs(grid[i] - mid);
      if (t > 0.) tents.push_back(t);
    }
    const size_t k = std::min(layers, tents.size());
    std::partial_sort(tents.begin(), tents.begin() + static_cast<std::ptrdiff_t>(k), tents.end(),
                      std::greater<double>());
    for (size_t l = 0; l < k; ++l) out[l * grid.size() + i] = root2 * tents[l];
  }
  return out;
}

enum class ImageWeight { Constant, PersistencePower };

// rows (persistence) x cols (birth) values, row-major, rows ascending in persistence.
inline std::vector<double> persistence_image(const std::vector<Interval>& bars, const std::vector<double>& xs,
                                             const std::vector<double>& ys, double bandwidth, ImageWeight weight,
                                             double power, const CancelCheck& cancelled = {}) {
  const std::vector<Interval> f = finite_bars(bars);
  std::vector<double> out(xs.size() * ys.size(), 0.);
  const double two_s2 = 2. * bandwidth * bandwidth;
  const double norm = bandwidth * bandwidth * 2. * M_PI;
  std::vector<double> ex(xs.size());
  for (size_t k = 0; k < f.size(); ++k) {
    if ((k & 63) == 0 && cancelled && cancelled()) throw Cancelled();
    const double bx = f[k].birth, py = f[k].death - f[k].birth;
    const double w = weight == ImageWeight::Constant ? 1. : std::pow(py, power);
    for (size_t i = 0; i < xs.size(); ++i) ex[i] = (bx - xs[i]) * (bx - xs[i]);
    for (size_t j = 0; j < ys.size(); ++j) {
      const double dy2 = (py - ys[j]) * (py - ys[j]);
      double* row = &out[j * xs.size()];
      for (size_t i = 0; i < xs.size(); ++i) row[i] += w * (std::exp((-ex[i] - dy2) / two_s2) / norm);
    }
  }
  return out;
}

inline double persistence_entropy(const std::vector<Interval>& bars) {
  const std::vector<Interval> f = finite_bars(bars);
  double total = 0.;
  for (const Interval& b : f) total += b.death - b.birth;
  if (total <= 0.) return 0.;
  double e = 0.;
  for (const Interval& b : f) {
    const double p = (b.death - b.birth) / total;
    e -= p * std::log(p);
  }
  return e;
}

struct Amplitudes {
  double total_persistence;  // sum of (d-b)^order
  double bottleneck;         // bottleneck distance to the empty diagram
  double wasserstein;        // order-Wasserstein distance to the empty diagram (ground norm internal_p)
};

inline Amplitudes amplitudes(const std::vector<Interval>& bars, double order, double internal_p) {
  using namespace distance_detail;
  const std::vector<Interval> f = finite_bars(bars);
  Amplitudes a{0., 0., 0.};
  double w = 0.;
  for (const Interval& b : f) {
    const Point pt{b.birth, b.death};
    a.total_persistence += pow_p(b.death - b.birth, order);
    a.bottleneck = std::max(a.bottleneck, diag_linf(pt));
    w += pow_p(diag_lq(pt, internal_p), order);
  }
  a.wasserstein = order == 1. ? w : std::pow(w, 1. / order);
  return a;
}

}  // namespace tda::core
