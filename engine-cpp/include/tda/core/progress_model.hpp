// The overall fraction of a computation and its estimated time remaining, from
// the core's stage reports (ProgressInfo, persistence.hpp).
//
// Each stage (and each dimension of the assembly and the reduction) owns a
// segment of [start, 1] proportional to its expected work, so that the
// fraction moves at a roughly even pace: for Rips the work follows the simplex
// counts the data-following estimate measured (estimate.hpp's ComplexProfile),
// where dimension 2 of a dense cloud easily costs a hundred times dimension 1.
// Within a segment the fraction follows the stage's own count (edges, facets;
// the square of the columns' share for a reduction, whose last columns are the
// costly ones). The fraction never decreases, reaches 1 at Stage::Done, and between
// two reports that did not move it (one long column, a sort) it creeps towards
// the end of the current segment, never past its middle, so that it still
// moves on long runs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "tda/core/persistence.hpp"

namespace tda::core {

// Expected work of each part of a computation, in seconds of one core (only the
// ratios matter).
struct WorkPlan {
  double loading = 0;             // input (Alpha: preparation)
  double distances = 0;           // distance matrix or neighbour lists, the edge list
  double collapse = 0;            // edge collapse (0: does not run)
  double dim0 = 0;                // sort of the edges, apparent pairs, union-find
  std::vector<double> assembly;   // index k >= 2: the columns of dimension k
  std::vector<double> reduction;  // index k >= 1: the reduction of dimension k
};

// Rips from the measured complex: n points in R^dim (dim 0: a distance matrix),
// `edges` below the cutoff and simplices[k] k-simplices (k >= 2). Per-item costs
// measured with one thread on tore3D_1307 and o3_1024 (with and without a
// threshold): the assembly and the reduction of dimension k each cost about
// 0.3-1 us per k-simplex below the cutoff, dimension 1 about 4-13 us per edge,
// and the collapse grows with the cube of the mean degree (under Collapse::Auto
// it often stops after its probe, hence the smaller constant).
// Large thresholded clouds (bench/large_cloud_bench.py's torus and cube, 100k to
// 1M points, mean degree ~50) differ: the sparse build compares the grid's
// candidates (scanned_pairs: n times the mean candidates; 0: all pairs), the
// collapse costs 0.8-1.9 us of CPU per edge whatever the degree, and the apparent
// pairs and the dimension-1 reduction cost per edge in proportion to the
// degree (the cofacets enumerated), 0.1-1.7 us per edge there: dimension 1 and
// Dim0 scale with min(1, degree / 1000) (no change on the dense clouds above;
// before, the 300k cube's bar stood at 80 % after its first second of ten).
inline WorkPlan rips_work_plan(uint64_t n, uint32_t dim, double edges, const std::vector<double>& simplices,
                               int max_dim, bool collapse, double scanned_pairs = 0) {
  const double nn = static_cast<double>(n);
  const double pairs = nn * (nn - 1) / 2;
  const double scanned = scanned_pairs > 0 ? std::min(pairs, scanned_pairs) : pairs;
  const double degree = nn > 0 ? 2 * edges / nn : 0.0;
  const double dense = std::min(1.0, degree / 1000);
  WorkPlan w;
  w.distances = scanned * (dim ? dim : 1) * 2e-9 + edges * 2e-8;
  w.collapse = collapse ? edges * (6e-7 + degree * degree * degree * 4e-12) : 0;
  w.dim0 = edges * (1e-7 + 4e-7 * dense);
  const int top = std::max(0, max_dim);
  w.reduction.assign(static_cast<size_t>(top) + 1, 0.0);
  w.assembly.assign(static_cast<size_t>(top) + 1, 0.0);
  if (top >= 1) w.reduction[1] = edges * 8e-6 * std::max(dense, 0.05);
  for (int k = 2; k <= top; ++k) {
    const double s = k < static_cast<int>(simplices.size()) ? simplices[k] : 0.0;
    w.assembly[k] = s * 4e-7;
    w.reduction[k] = s * 4e-7;
  }
  return w;
}

// Equal shares per dimension when nothing is measured (Alpha, sparse Rips).
inline WorkPlan uniform_work_plan(int max_dim) {
  WorkPlan w;
  w.loading = 0.05;
  w.distances = 0.10;
  w.collapse = 0.05;
  w.dim0 = 0.10;
  const int top = std::max(1, max_dim);
  w.reduction.assign(static_cast<size_t>(top) + 1, 0.0);
  w.assembly.assign(static_cast<size_t>(top) + 1, 0.0);
  for (int k = 1; k <= top; ++k) w.reduction[k] = 0.70 / top;
  return w;
}

// Alpha (alpha.hpp): the Delaunay complex and its filtration values (Distances)
// outweigh the rest; one Reduction stage (dimension 1) covers every dimension.
// Measured at 2 threads (`tda-engine --algorithm alpha --threads 2 --stats` on the
// 1M-point cube and torus of bench/large_cloud_bench.py): the duplicate check
// 1-2 % of the run, the complex 66-85 %, the reduction (the sorts, both
// union-finds, dimension 1) 14-32 %, Dim0 alone too short to see.
inline WorkPlan alpha_work_plan() {
  WorkPlan w;
  w.loading = 0.02;
  w.distances = 0.72;
  w.dim0 = 0.01;
  w.reduction = {0.0, 0.25};
  return w;
}

class ProgressModel {
 public:
  // The computation maps to [start, 1] (the server keeps [0, start) for the input).
  explicit ProgressModel(const WorkPlan& plan, double start = 0.0) : start_(std::clamp(start, 0.0, 1.0)) {
    // segments in the order the stages run
    add(Stage::Loading, 0, plan.loading);
    add(Stage::Distances, 0, plan.distances);
    add(Stage::Collapse, 1, plan.collapse);
    add(Stage::Dim0, 0, plan.dim0);
    const size_t top = std::max(plan.reduction.size(), plan.assembly.size());
    for (size_t k = 1; k < top; ++k) {
      if (k >= 2 && k < plan.assembly.size()) add(Stage::Assembly, static_cast<int>(k), plan.assembly[k]);
      if (k < plan.reduction.size()) add(Stage::Reduction, static_cast<int>(k), plan.reduction[k]);
    }
    double total = 0;
    for (const Segment& s : segments_) total += s.weight;
    double at = start_;
    const double span = 1.0 - start_;
    for (Segment& s : segments_) {
      s.begin = at;
      at += total > 0 ? span * s.weight / total : 0.0;
      s.end = at;
    }
    if (!segments_.empty()) segments_.back().end = 1.0;
    fraction_ = start_;
  }

  // [begin, end] of a stage (a dimension past the plan: the last reduction's end).
  std::pair<double, double> segment(Stage stage, int dim) const {
    if (stage == Stage::Done) return {1.0, 1.0};
    if (const Segment* s = find(stage, dim)) return {s->begin, s->end};
    return {fraction_, fraction_};
  }

  // Takes a report made `now` seconds after any fixed origin; returns the
  // overall fraction (never below an earlier one).
  double update(const ProgressInfo& p, double now) {
    double f = fraction_;
    if (p.stage == Stage::Done) {
      f = 1.0;
      seg_end_ = 1.0;
    } else if (const Segment* s = find(p.stage, p.dimension)) {
      const double part =
          p.columns_total > 0
              ? std::clamp(static_cast<double>(p.columns_done) / static_cast<double>(p.columns_total), 0.0, 1.0)
              : 0.0;
      // (a reduction's last columns, the shortest simplices, carry most of the
      // additions: its count enters squared)
      f = s->begin + (s->end - s->begin) * (p.stage == Stage::Reduction ? part * part : part);
      seg_end_ = s->end;
    }
    if (f > reported_) {
      reported_ = f;
      reported_at_ = now;
    }
    if (!seen_) {
      seen_ = true;
      first_at_ = now;
      first_fraction_ = fraction_;
      reported_at_ = now;
    }
    fraction_ = std::max(fraction_, f);
    return fraction_;
  }

  // The fraction at `now` with no new report: the last one, crept towards the
  // end of its segment at the pace seen so far (at most half-way to it).
  double at(double now) {
    if (!seen_ || reported_ >= seg_end_) return fraction_;
    const double elapsed = reported_at_ - first_at_;
    const double rate = elapsed > 0 && reported_ > first_fraction_ ? (reported_ - first_fraction_) / elapsed : 0.0;
    const double left = seg_end_ - reported_;
    // expected seconds to the segment's end at the pace so far (unknown: 10 s)
    const double tau = rate > 0 ? std::max(0.5, left / rate) : 10.0;
    const double quiet = std::max(0.0, now - reported_at_);
    const double crept = reported_ + 0.5 * left * (1.0 - std::exp(-quiet / tau));
    fraction_ = std::max(fraction_, crept);
    return fraction_;
  }

  double fraction() const { return fraction_; }

 private:
  struct Segment {
    Stage stage;
    int dim;
    double weight, begin = 0, end = 0;
  };
  void add(Stage s, int dim, double weight) {
    segments_.push_back(Segment{s, dim, std::isfinite(weight) ? std::max(0.0, weight) : 0.0});
  }
  const Segment* find(Stage stage, int dim) const {
    const Segment* last_reduction = nullptr;
    for (const Segment& s : segments_) {
      if (s.stage == Stage::Reduction) last_reduction = &s;
      if (s.stage != stage) continue;
      if (stage == Stage::Assembly || stage == Stage::Reduction) {
        if (s.dim == dim) return &s;
      } else {
        return &s;
      }
    }
    // a dimension the plan does not list (reductions beyond it): the last one's
    if (stage == Stage::Reduction || stage == Stage::Assembly) return last_reduction;
    return nullptr;
  }

  double start_;
  std::vector<Segment> segments_;
  double fraction_ = 0;     // what was returned last (monotone)
  double reported_ = 0;     // the latest report's own fraction (no creep)
  double reported_at_ = 0;  // when the reports' fraction last rose
  double seg_end_ = 0;      // end of the latest report's segment
  bool seen_ = false;
  double first_at_ = 0, first_fraction_ = 0;
};

// Estimated time remaining from the fraction and the elapsed time: the pace of
// the recent past (the last 30 % of the run, at least 3 s: the shares of the
// early stages are the least certain, and a long dimension's pace is what
// counts), smoothed exponentially over ~2 s so that it counts down between
// changes of pace instead of jumping. Absent until the fraction has moved by
// kMinProgress and kMinSeconds have passed.
class EtaEstimator {
 public:
  static constexpr double kMinProgress = 0.01;
  static constexpr double kMinSeconds = 1.0;
  static constexpr double kSmoothing = 2.0;    // seconds
  static constexpr double kWindowShare = 0.3;  // of the elapsed time
  static constexpr double kMinWindow = 3.0;    // seconds

  // `fraction` at `now` (seconds since any fixed origin).
  std::optional<double> update(double fraction, double now) {
    if (!started_) {
      started_ = true;
      t0_ = now;
      f0_ = fraction;
    }
    if (fraction >= 1.0) return eta_ = 0.0;
    if (samples_.empty() || now - samples_.back().first >= 0.25) samples_.emplace_back(now, fraction);
    const double elapsed = now - t0_;
    if (fraction - f0_ < kMinProgress || elapsed < kMinSeconds) return eta_;
    // the pace over the window (the oldest sample inside it)
    const double window = std::max(kMinWindow, kWindowShare * elapsed);
    while (samples_.size() > 2 && now - samples_[1].first >= window) samples_.pop_front();
    const auto [t_then, f_then] = samples_.front();
    double rate = now > t_then ? (fraction - f_then) / (now - t_then) : 0.0;
    if (!(rate > 0)) rate = (fraction - f0_) / elapsed;  // (no move in the window: the whole run's pace)
    // A slowdown counts at once, half-way: when the last kMinWindow seconds went
    // slower (but moved), the geometric mean of both paces. The costly last
    // columns of a large reduction otherwise sat at "0:00 left" for as long as
    // the window remembered the fast ones (the 1M cube: ten seconds at
    // 97-98 %); the recent pace alone overshot by over a minute near the end
    // (those columns come in a band, not at the very end).
    const double recent = recent_rate(fraction, now);
    if (recent > 0 && recent < rate) rate = std::sqrt(recent * rate);
    const double raw = (1.0 - fraction) / rate;
    if (!eta_) {
      eta_ = raw;
    } else {
      const double dt = std::max(0.0, now - at_);
      const double predicted = std::max(0.0, *eta_ - dt);
      const double a = 1.0 - std::exp(-dt / kSmoothing);
      eta_ = predicted + a * (raw - predicted);
    }
    at_ = now;
    return eta_;
  }

 private:
  // The pace since the oldest sample of the last kMinWindow seconds (0 when the
  // samples cover less than half of it).
  double recent_rate(double fraction, double now) const {
    double t_then = now, f_then = fraction;
    for (auto it = samples_.rbegin(); it != samples_.rend() && now - it->first <= kMinWindow; ++it)
      t_then = it->first, f_then = it->second;
    return now - t_then >= kMinWindow / 2 ? (fraction - f_then) / (now - t_then) : 0.0;
  }

  bool started_ = false;
  double t0_ = 0, f0_ = 0, at_ = 0;
  std::deque<std::pair<double, double>> samples_;  // (time, fraction), at most 4 a second
  std::optional<double> eta_;
};

}  // namespace tda::core
