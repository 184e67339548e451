// The reduction's fill-in, measured: bounded pilot runs of the real reduction on
// nested subsamples of the input, extrapolated to the whole input.
//
// Why: the estimate's structures (simplices, columns, pivots) follow from the
// measured complex, but the working columns and V of dimensions >= 2 can grow far
// beyond them (a long bar whose column collects ~10^8 entries: rp2_600 over Z/2,
// 1.6 GB against a 19 MB model). That growth depends on the data and the field,
// not on the counts, so it is measured: the core's own reduction runs on seeded
// random subsamples of kPilots sizes (ratio kPilotRatio, each a prefix of the
// next; the job's cutoff, modulus, dimension and collapse decision, one thread),
// the memory guard recording the peak W(m) of the working columns and V. A power
// law fitted to them by least squares (log W against log m) is extrapolated to n.
// The samples span a factor ~3 up to n / 2.7: on rp2_600 over Z/2 the fill-in
// turns on between n/8 and n/3 (local exponent 1.4 .. 4.6), and a narrower or
// smaller span misses it (measured: 0.3x .. 8x of the true peak).
// Bounds: the largest sample also has at most kPilotMaxPoints points and
// kPilotSimplices top-dimensional simplices by the profile's count (they grow
// like m^(k+1)), so the pilots cost a fraction of the run (measured: 0.7 s CPU
// against 17 s for rp2_600 over Z/2, 0.5 s against 4.4 s over Z/3, 0.2 s against
// 2.5 s for fractal_r); all pilots together stop after kPilotCpuSeconds of CPU
// time, and each at kPilotBytes (a pilot cut short counts with the peak it
// reached, a lower bound, grown at least like the complex: m^(k+1)).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "tda/core/estimate.hpp"
#include "tda/core/rips.hpp"
#include "tda/core/thread_cpu.hpp"

namespace tda::core {

inline constexpr int kPilots = 5;                  // sample sizes run
inline constexpr double kPilotRatio = 1.3;         // between successive sizes
inline constexpr double kPilotFraction = 2.7;      // the largest sample: at most n / this ...
inline constexpr double kPilotSimplices = 2e6;     // ... and this many top-dimensional simplices
inline constexpr double kPilotMaxPoints = 8000;    // ... and points (large inputs: the sample's edges cost)
inline constexpr double kPilotCpuSeconds = 2.0;    // CPU time of all pilots together (one thread; a safety net)
inline constexpr uint64_t kPilotBytes = 64 << 20;  // accounted memory of one pilot
inline constexpr size_t kPilotMinPoints = 24;      // smaller samples say nothing about growth
// The most the fill-in has been measured to add over the model's figure (rp2_600
// over Z/2: 1.6 GB on 19 MB, 84x), rounded up: a job whose model figure fits this
// many times over in the engine's limit is admitted whatever the pilots say.
inline constexpr double kFillInMaxGrowth = 128;

// What the pilots measured and the fill-in they extrapolate to.
struct FillIn {
  double bytes = 0;              // extrapolated peak of the working columns and V on the whole input
  double seconds = 0;            // wall time of the pilots
  std::vector<uint32_t> points;  // sample sizes run
  std::vector<double> peaks;     // the peak of the working columns and V on each
  double exponent = 0;           // growth exponent at the largest sample
  bool cut = false;              // a pilot hit the time or memory cap
};

namespace fill_in_detail {

// kPilots sample sizes, ratio kPilotRatio, the largest at most n / kPilotFraction
// and kPilotMaxPoints points and kPilotSimplices simplices of dimension top (by the profile's count
// top_simplices, which grows like m^(top+1)); empty when too small.
inline std::vector<size_t> sample_sizes(size_t n, int top, double top_simplices) {
  double largest = std::min(static_cast<double>(n) / kPilotFraction, kPilotMaxPoints);
  if (top_simplices > kPilotSimplices)
    largest = std::min(largest, static_cast<double>(n) * std::pow(kPilotSimplices / top_simplices, 1.0 / (top + 1)));
  std::vector<size_t> out;
  for (int i = kPilots - 1; i >= 0; --i) out.push_back(static_cast<size_t>(largest / std::pow(kPilotRatio, i)));
  if (out[0] < kPilotMinPoints) return {};
  return out;
}

// Least-squares line through (x_i, y_i): *slope, and its value at x_last.
inline void fit_line(const std::vector<double>& x, const std::vector<double>& y, double* slope, double* at_last) {
  const double k = static_cast<double>(x.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) sx += x[i], sy += y[i], sxx += x[i] * x[i], sxy += x[i] * y[i];
  const double den = k * sxx - sx * sx;
  *slope = den > 0 ? (k * sxy - sx * sy) / den : 0;
  *at_last = (sy - *slope * sx) / k + *slope * x.back();
}

}  // namespace fill_in_detail

// run(sample, budget, cancelled): the job's computation on the points `sample`
// (sorted indices into the input) with the memory guard `budget`. Runs the pilots
// and extrapolates their reduction peaks to n points.
template <class Run>
FillIn measure_fill_in(size_t n, int max_dim, const ComplexProfile& p, Run&& run) {
  FillIn f;
  const int top = std::min<int>(max_dim, static_cast<int>(p.simplices.size()) - 1);
  if (max_dim < 2 || top < 2) return f;  // dimension 1: no fill-in beyond the model's columns
  const std::vector<size_t> sizes = fill_in_detail::sample_sizes(n, top, p.simplices[top]);
  if (sizes.empty()) return f;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_deadline = thread_cpu_seconds() + kPilotCpuSeconds;  // (load does not shrink it)
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  estimate_detail::Rng rng{0x5DEECE66Dull};
  for (size_t i = 0; i < sizes.back(); ++i) std::swap(order[i], order[i + rng.below(n - i)]);  // seeded shuffle
  for (size_t m : sizes) {
    std::vector<uint32_t> sample(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(m));
    std::sort(sample.begin(), sample.end());
    MemoryBudget budget(kPilotBytes);
    try {
      run(sample, budget, [&] { return thread_cpu_seconds() > cpu_deadline; });
    } catch (const MemoryLimitExceeded&) {
      f.cut = true;
    } catch (const Cancelled&) {
      f.cut = true;
    }
    f.points.push_back(static_cast<uint32_t>(m));
    f.peaks.push_back(static_cast<double>(std::max<uint64_t>(budget.working_peak(), 1)));
    if (f.cut) break;
  }
  f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> x, y;
  for (size_t i = 0; i < f.points.size(); ++i)
    x.push_back(std::log(1.0 * f.points[i])), y.push_back(std::log(f.peaks[i]));
  double at_last = y.back();
  f.exponent = 0;
  if (x.size() >= 2) fill_in_detail::fit_line(x, y, &f.exponent, &at_last);
  f.exponent = std::max(f.exponent, 0.0);
  if (f.cut) {  // the last peak is a lower bound, grown at least like the complex
    f.exponent = std::max<double>(f.exponent, top + 1);
    at_last = y.back();
  }
  f.bytes = std::exp(std::min(700.0, at_last + f.exponent * std::log(static_cast<double>(n) / f.points.back())));
  return f;
}

// The pilot options: the job's, on one thread, with the job's collapse decision.
inline RipsOptions pilot_options(size_t n, int max_dim, int modulus, double cutoff, Collapse collapse) {
  RipsOptions o;
  o.max_dim = max_dim;
  o.modulus = modulus;
  o.threads = 1;
  o.threshold = cutoff;
  const bool job_collapses =
      collapse == Collapse::On || (collapse == Collapse::Auto && detail::collapse_pays(n, 0, max_dim));
  o.collapse = job_collapses ? Collapse::On : Collapse::Off;
  return o;
}

// Strict lower triangle row by row (as rips_from_lower_distances takes it).
inline FillIn fill_in_lower(const std::vector<value_t>& lower, size_t n, int max_dim, int modulus,
                            const ComplexProfile& p, Collapse collapse = Collapse::Auto) {
  const RipsOptions o = pilot_options(n, max_dim, modulus, p.cutoff, collapse);
  return measure_fill_in(n, max_dim, p, [&](const std::vector<uint32_t>& s, MemoryBudget& budget, auto&& cancelled) {
    const size_t m = s.size();
    std::vector<value_t> sub;
    sub.reserve(m * (m - 1) / 2);
    for (size_t a = 1; a < m; ++a)
      for (size_t b = 0; b < a; ++b) sub.push_back(lower[size_t{s[a]} * (s[a] - 1) / 2 + s[b]]);
    Callbacks cb;
    cb.memory = &budget;
    cb.is_cancelled = cancelled;
    rips_from_lower_distances(std::move(sub), m, o, cb);
  });
}

// Point cloud: n * dim coordinates, row-major.
inline FillIn fill_in_points(const std::vector<value_t>& coords, size_t n, size_t dim, int max_dim, int modulus,
                             const ComplexProfile& p, Collapse collapse = Collapse::Auto) {
  const RipsOptions o = pilot_options(n, max_dim, modulus, p.cutoff, collapse);
  return measure_fill_in(n, max_dim, p, [&](const std::vector<uint32_t>& s, MemoryBudget& budget, auto&& cancelled) {
    std::vector<value_t> sub;
    sub.reserve(s.size() * dim);
    for (uint32_t i : s) sub.insert(sub.end(), coords.begin() + i * dim, coords.begin() + (i + 1) * dim);
    Callbacks cb;
    cb.memory = &budget;
    cb.is_cancelled = cancelled;
    rips_from_points(sub, s.size(), dim, o, cb);
  });
}

}  // namespace tda::core
