// Distances between persistence diagrams: the bottleneck distance and the
// p-Wasserstein distance, both exact (no approximation factor).
//
// A diagram is a list of bars (birth, death); death = +infinity marks an
// essential class. Finite bars may be matched to each other or to the
// diagonal; essential bars only to essential bars (sorted by birth, the
// optimal pairing on a line), and diagrams with different numbers of
// essential bars are at distance +infinity. Bars of length 0 change nothing.
//
// Bottleneck: the answer is one of the finitely many candidate values (a
// distance between two points, or from a point to the diagonal), and so the
// least double r at which a matching of cost <= r exists: a binary search on
// the doubles' bit patterns finds it in at most 63 decisions. A decision uses the Mendelsohn–Dulmage theorem: with A_r, B_r the points
// farther than r from the diagonal, a matching covering A_r ∪ B_r exists iff
// one covers A_r and one covers B_r (each found by Hopcroft–Karp over the
// points sorted by birth, so a point only meets those within r in birth).
//
// Wasserstein: the assignment problem on the smaller diagram's points against
// the larger one's plus one diagonal slot per row (Hungarian algorithm with
// potentials, O(n^2 (n + m))), then raised to 1/p.
//
// Conventions follow GUDHI: L-infinity between points for the bottleneck, the
// diagonal point of (b, d) is its projection ((b + d) / 2, (b + d) / 2).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "tda/core/persistence.hpp"
#include "tda/core/types.hpp"

namespace tda::core {

inline constexpr double kInfinity = std::numeric_limits<double>::infinity();

// Checked at coarse points (between matchings, every few rows); throws Cancelled.
using CancelCheck = std::function<bool()>;

namespace distance_detail {

struct Point {
  double x;  // birth
  double y;  // death
};

struct SplitDiagram {
  std::vector<Point> finite;      // death > birth, both finite
  std::vector<double> essential;  // births of bars with death = +inf, sorted
};

// Throws InvalidInput for bars no diagram holds: NaN, birth not finite,
// death below birth or -infinity.
inline SplitDiagram split(const std::vector<Interval>& bars, const char* side) {
  SplitDiagram out;
  for (size_t i = 0; i < bars.size(); ++i) {
    const double b = bars[i].birth;
    const double d = bars[i].death;
    if (!std::isfinite(b) || std::isnan(d) || d < b) {
      throw InvalidInput(std::string(side) + " bar " + std::to_string(i) +
                         ": birth must be finite and death >= birth (or +inf)");
    }
    if (d == kInfinity) {
      out.essential.push_back(b);
    } else if (d > b) {
      out.finite.push_back({b, d});
    }
  }
  std::sort(out.essential.begin(), out.essential.end());
  return out;
}

inline double linf(const Point& a, const Point& b) { return std::max(std::fabs(a.x - b.x), std::fabs(a.y - b.y)); }

// L-infinity distance to the diagonal, through the projection (as GUDHI).
inline double diag_linf(const Point& a) {
  const double m = (a.x + a.y) / 2.;
  return std::max(std::fabs(a.x - m), std::fabs(a.y - m));
}

// L_q distance (q >= 1 or +inf) between two points.
inline double lq(double dx, double dy, double q) {
  dx = std::fabs(dx);
  dy = std::fabs(dy);
  if (std::isinf(q)) return std::max(dx, dy);
  if (q == 1.) return dx + dy;
  if (q == 2.) return std::hypot(dx, dy);
  return std::pow(std::pow(dx, q) + std::pow(dy, q), 1. / q);
}

inline double diag_lq(const Point& a, double q) {
  const double m = (a.x + a.y) / 2.;
  return lq(a.x - m, a.y - m, q);
}

inline double pow_p(double x, double p) { return p == 1. ? x : (p == 2. ? x * x : std::pow(x, p)); }

inline void check_cancel(const CancelCheck& cancelled) {
  if (cancelled && cancelled()) throw Cancelled();
}

// Whether every point of `must` (indices into `left`) can be matched to a
// distinct point of `right` within L-infinity distance r. `right_by_x` holds
// the indices of `right` sorted by birth, `right_x` their births.
class CoverMatcher {
 public:
  CoverMatcher(const std::vector<Point>& right, const std::vector<uint32_t>& right_by_x,
               const std::vector<double>& right_x)
      : right_(right), by_x_(right_by_x), xs_(right_x) {}

  bool covers(const std::vector<Point>& left, const std::vector<uint32_t>& must, double r) {
    const size_t n = must.size();
    if (n == 0) return true;
    if (n > right_.size()) return false;
    lo_.assign(n, 0);
    hi_.assign(n, 0);
    for (size_t u = 0; u < n; ++u) {
      const Point& p = left[must[u]];
      // births within r of p's: a contiguous range of the sorted births
      lo_[u] = static_cast<uint32_t>(std::lower_bound(xs_.begin(), xs_.end(), p.x - r) - xs_.begin());
      hi_[u] = static_cast<uint32_t>(std::upper_bound(xs_.begin(), xs_.end(), p.x + r) - xs_.begin());
      // p.x +- r is rounded: widen while the exact test still holds
      while (lo_[u] > 0 && std::fabs(xs_[lo_[u] - 1] - p.x) <= r) --lo_[u];
      while (hi_[u] < xs_.size() && std::fabs(xs_[hi_[u]] - p.x) <= r) ++hi_[u];
      if (lo_[u] >= hi_[u]) return false;
    }
    const uint32_t none = std::numeric_limits<uint32_t>::max();
    match_left_.assign(n, none);
    match_right_.assign(right_.size(), none);
    left_pts_ = &left;
    must_ = &must;
    r_ = r;
    size_t matched = 0;
    // warm start: the previous call's pairs that are still edges at r
    if (kept_.size() != left.size()) kept_.assign(left.size(), none);
    for (size_t u = 0; u < n; ++u) {
      const uint32_t v = kept_[must[u]];
      if (v != none && match_right_[v] == none && adjacent(u, v)) {
        match_left_[u] = v;
        match_right_[v] = static_cast<uint32_t>(u);
        ++matched;
      }
    }
    // greedy start
    for (size_t u = 0; u < n; ++u) {
      if (match_left_[u] != none) continue;
      for (uint32_t k = lo_[u]; k < hi_[u]; ++k) {
        const uint32_t v = by_x_[k];
        if (match_right_[v] == none && adjacent(u, v)) {
          match_left_[u] = v;
          match_right_[v] = static_cast<uint32_t>(u);
          ++matched;
          break;
        }
      }
    }
    bool ok = true;
    while (matched < n) {
      if (!bfs()) {
        ok = false;
        break;
      }
      it_.assign(lo_.begin(), lo_.end());
      size_t found = 0;
      for (size_t u = 0; u < n; ++u) {
        if (match_left_[u] == none && dfs(static_cast<uint32_t>(u))) ++found;
      }
      if (found == 0) {
        ok = false;
        break;
      }
      matched += found;
    }
    std::fill(kept_.begin(), kept_.end(), none);
    for (size_t u = 0; u < n; ++u) kept_[must[u]] = match_left_[u];
    return ok;
  }

 private:
  bool adjacent(size_t u, uint32_t v) const { return linf((*left_pts_)[(*must_)[u]], right_[v]) <= r_; }

  // Layers from the free left vertices; true when a free right vertex is reachable.
  bool bfs() {
    const uint32_t none = std::numeric_limits<uint32_t>::max();
    const size_t n = match_left_.size();
    dist_.assign(n, none);
    queue_.clear();
    for (size_t u = 0; u < n; ++u) {
      if (match_left_[u] == none) {
        dist_[u] = 0;
        queue_.push_back(static_cast<uint32_t>(u));
      }
    }
    bool reach_free = false;
    for (size_t qi = 0; qi < queue_.size(); ++qi) {
      const uint32_t u = queue_[qi];
      for (uint32_t k = lo_[u]; k < hi_[u]; ++k) {
        const uint32_t v = by_x_[k];
        if (!adjacent(u, v)) continue;
        const uint32_t w = match_right_[v];
        if (w == none) {
          reach_free = true;
        } else if (dist_[w] == none) {
          dist_[w] = dist_[u] + 1;
          queue_.push_back(w);
        }
      }
    }
    return reach_free;
  }

  // Augmenting path along the layers, iteratively (paths can be long).
  bool dfs(uint32_t root) {
    const uint32_t none = std::numeric_limits<uint32_t>::max();
    stack_.clear();
    stack_.push_back(root);
    while (!stack_.empty()) {
      const uint32_t u = stack_.back();
      bool advanced = false;
      while (it_[u] < hi_[u]) {
        const uint32_t v = by_x_[it_[u]];
        if (!adjacent(u, v)) {
          ++it_[u];
          continue;
        }
        const uint32_t w = match_right_[v];
        if (w == none) {
          // augment along the stack: each stacked vertex takes the vertex its iterator points at
          for (size_t i = stack_.size(); i-- > 0;) {
            const uint32_t s = stack_[i];
            const uint32_t t = by_x_[it_[s]];
            match_left_[s] = t;
            match_right_[t] = s;
          }
          for (uint32_t s : stack_) dist_[s] = none;  // used up in this phase
          return true;
        }
        if (dist_[w] == dist_[u] + 1) {
          stack_.push_back(w);
          advanced = true;
          break;
        }
        ++it_[u];
      }
      if (!advanced) {
        dist_[u] = none;  // dead end in this phase
        stack_.pop_back();
        if (!stack_.empty()) ++it_[stack_.back()];
      }
    }
    return false;
  }

  const std::vector<Point>& right_;
  const std::vector<uint32_t>& by_x_;
  const std::vector<double>& xs_;
  const std::vector<Point>* left_pts_ = nullptr;
  const std::vector<uint32_t>* must_ = nullptr;
  double r_ = 0;
  std::vector<uint32_t> lo_, hi_, it_, match_left_, match_right_, dist_, queue_, stack_;
  std::vector<uint32_t> kept_;  // by left index: the last call's partner, for a warm start
};

struct SortedSide {
  std::vector<uint32_t> by_x;
  std::vector<double> xs;
  explicit SortedSide(const std::vector<Point>& pts) : by_x(pts.size()), xs(pts.size()) {
    for (uint32_t i = 0; i < pts.size(); ++i) by_x[i] = i;
    std::sort(by_x.begin(), by_x.end(), [&](uint32_t a, uint32_t b) { return pts[a].x < pts[b].x; });
    for (size_t k = 0; k < by_x.size(); ++k) xs[k] = pts[by_x[k]].x;
  }
};

// Bottleneck distance between the finite parts.
inline double bottleneck_finite(const std::vector<Point>& a, const std::vector<Point>& b,
                                const CancelCheck& cancelled) {
  std::vector<double> da(a.size()), db(b.size());
  double hi_value = 0.;  // everything to the diagonal is always a matching
  for (size_t i = 0; i < a.size(); ++i) hi_value = std::max(hi_value, da[i] = diag_linf(a[i]));
  for (size_t j = 0; j < b.size(); ++j) hi_value = std::max(hi_value, db[j] = diag_linf(b[j]));
  if (hi_value == 0.) return 0.;

  const SortedSide sa(a), sb(b);
  CoverMatcher cover_a(b, sb.by_x, sb.xs);  // A's far points into B
  CoverMatcher cover_b(a, sa.by_x, sa.xs);  // B's far points into A
  std::vector<uint32_t> must;
  auto feasible = [&](double r) {
    check_cancel(cancelled);
    must.clear();
    for (uint32_t i = 0; i < a.size(); ++i)
      if (da[i] > r) must.push_back(i);
    if (!cover_a.covers(a, must, r)) return false;
    must.clear();
    for (uint32_t j = 0; j < b.size(); ++j)
      if (db[j] > r) must.push_back(j);
    return cover_b.covers(b, must, r);
  };

  // Feasibility changes only at candidate values (a point-point or
  // point-diagonal distance, computed exactly as the decision compares them),
  // so the least feasible double is the answer. Non-negative doubles are
  // ordered as their bit patterns: a binary search over those takes at most
  // 63 decisions and finds it exactly.
  auto bits = [](double x) {
    uint64_t u;
    std::memcpy(&u, &x, sizeof u);
    return u;
  };
  auto value = [](uint64_t u) {
    double x;
    std::memcpy(&x, &u, sizeof x);
    return x;
  };
  uint64_t lo = 0, hi = bits(hi_value);  // the answer is in [lo, hi]
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (feasible(value(mid))) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return value(lo);
}

// Minimum-cost assignment of every row to a distinct column (rows <= cols),
// Hungarian algorithm with potentials; cost(i, j) is called O(rows^2 cols) times.
template <typename Cost>
double assignment(size_t rows, size_t cols, const Cost& cost, const CancelCheck& cancelled) {
  const double inf = kInfinity;
  std::vector<double> u(rows + 1, 0.), v(cols + 1, 0.), minv(cols + 1);
  std::vector<size_t> p(cols + 1, 0), way(cols + 1, 0);
  std::vector<char> used(cols + 1);
  for (size_t i = 1; i <= rows; ++i) {
    if ((i & 15) == 0) check_cancel(cancelled);
    p[0] = i;
    size_t j0 = 0;
    std::fill(minv.begin(), minv.end(), inf);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[j0] = 1;
      const size_t i0 = p[j0];
      double delta = inf;
      size_t j1 = 0;
      for (size_t j = 1; j <= cols; ++j) {
        if (used[j]) continue;
        const double cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (size_t j = 0; j <= cols; ++j) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      const size_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  double total = 0.;
  for (size_t j = 1; j <= cols; ++j)
    if (p[j] != 0) total += cost(p[j] - 1, j - 1);
  return total;
}

// Sum of p-th powers of an optimal matching's costs between the finite parts.
inline double wasserstein_finite_pow(std::vector<Point> a, std::vector<Point> b, double p, double q,
                                     const CancelCheck& cancelled) {
  if (a.size() > b.size()) std::swap(a, b);  // rows: the smaller diagram
  const size_t n = a.size(), m = b.size();
  std::vector<double> da(n), db(m);
  for (size_t i = 0; i < n; ++i) da[i] = pow_p(diag_lq(a[i], q), p);
  double base = 0.;
  for (size_t j = 0; j < m; ++j) base += (db[j] = pow_p(diag_lq(b[j], q), p));
  if (n == 0) return base;
  // Columns 0..m-1: b's points, at cost c(a, b) - c(b, diagonal) (b then leaves
  // the diagonal it was charged to in `base`); columns m..m+n-1: the diagonal.
  std::vector<double> c(n * m);  // the callers bound n * m
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < m; ++j) c[i * m + j] = pow_p(lq(a[i].x - b[j].x, a[i].y - b[j].y, q), p) - db[j];
  auto cost = [&](size_t i, size_t j) { return j >= m ? da[i] : c[i * m + j]; };
  return base + assignment(n, m + n, cost, cancelled);
}

}  // namespace distance_detail

// Bottleneck distance (L-infinity ground distance), +inf when the numbers of
// essential bars differ.
inline double bottleneck_distance(const std::vector<Interval>& a, const std::vector<Interval>& b,
                                  const CancelCheck& cancelled = {}) {
  using namespace distance_detail;
  const SplitDiagram sa = split(a, "first diagram's"), sb = split(b, "second diagram's");
  if (sa.essential.size() != sb.essential.size()) return kInfinity;
  double essential = 0.;
  for (size_t i = 0; i < sa.essential.size(); ++i)
    essential = std::max(essential, std::fabs(sa.essential[i] - sb.essential[i]));
  return std::max(essential, bottleneck_finite(sa.finite, sb.finite, cancelled));
}

// p-Wasserstein distance (order p >= 1) with the L_q ground distance between
// points (internal_p = q in [1, +inf]), +inf when the numbers of essential bars differ.
inline double wasserstein_distance(const std::vector<Interval>& a, const std::vector<Interval>& b, double order,
                                   double internal_p, const CancelCheck& cancelled = {}) {
  using namespace distance_detail;
  if (!(order >= 1.) || std::isinf(order)) throw InvalidInput("order must be finite and >= 1");
  if (!(internal_p >= 1.)) throw InvalidInput("internal_p must be >= 1 (or +inf)");
  const SplitDiagram sa = split(a, "first diagram's"), sb = split(b, "second diagram's");
  if (sa.essential.size() != sb.essential.size()) return kInfinity;
  double total = 0.;
  for (size_t i = 0; i < sa.essential.size(); ++i) total += pow_p(std::fabs(sa.essential[i] - sb.essential[i]), order);
  total += wasserstein_finite_pow(sa.finite, sb.finite, order, internal_p, cancelled);
  if (total <= 0.) return 0.;  // rounding of the reduced costs cannot make it negative
  return order == 1. ? total : std::pow(total, 1. / order);
}

}  // namespace tda::core
