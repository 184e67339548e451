// The sparse Rips filtration: a filtration of linear size whose persistence
// diagram is within a factor (1 + eps) of the Rips diagram, multiplicatively
// (Sheehy, "Linear-size approximations to the Vietoris-Rips filtration", 2013;
// here in the form of Cavanna, Jahanseir and Sheehy, "A geometric perspective on
// sparse filtrations", 2015, written in diameter units). An approximation, only
// on request (RipsOptions::sparse); never the default.
//
// Construction. A greedy (farthest-point) permutation p_1, p_2, ... gives each
// point its insertion radius l_p = d(p, {points before p}) (l_{p_1} = +inf).
// With e = eps / (1 + eps), each point has the times A_p = 2 l_p / e and
// T_p = A_p / (1 - e) and a weight, at filtration value s,
//   w_p(s) = 0 (s <= A_p),  (s - A_p) / 2 (A_p <= s <= T_p),  e s / 2 (s >= T_p).
// The relaxed complex R'_s is the flag complex of {pq : d(p,q) + w_p(s) + w_q(s) <= s};
// the sparse filtration S_s is the union over u <= s of R'_u restricted to the
// points with T_p >= u. Its simplices: sigma appears at u(sigma) = the largest
// value of its edges, and exists only if u(sigma) <= T_v for each vertex v
// (complex.hpp's cofacet walk skips the others: "vertex deaths"). An edge pq,
// p before q (so l_p >= l_q), has the value
//   u = d                 if d <= A_q,
//   u = 2 d - A_q         if A_q < d and 2 d - A_q <= min(A_p, T_q),
//   and does not exist otherwise.
//
// Guarantee (proof sketch; every step is elementary):
//  1. s - w_p(s) - w_q(s) is non-decreasing (weights grow with slope <= 1/2), so R'
//     is a filtration, and 0 <= w_p(s) <= e s / 2 gives R_{(1-e)s} c R'_s c R_s for
//     the Rips complexes R (edges d <= s).
//  2. For every t > 0 the points with l >= t cover all points within distance < t
//     (the greedy property). So a point p with T_p < s has a point m with
//     l_m >= e s / 2, hence w_m(s) = 0, T_m > T_p and d(p, m) < e s / 2 = w_p(s):
//     m dominates p in R'_s (d'(m, x) <= d'(p, x) for every x). Projecting the
//     dead points onto such m's is a retraction of R'_s onto Q_s (R'_s on the
//     points alive at s) contiguous to the identity; removing the dead points of
//     S_s in order of death, each is dominated (its link is a cone) by the point m
//     chosen at s = T_p, so S_s collapses onto Q_s. Both inclusions Q_s c S_s c R'_s
//     are homotopy equivalences, hence H(S_s) -> H(R'_s) is an isomorphism for
//     every s, natural in s: S and R' have the same diagram.
//  3. By 1, R' and R are (1, 1/(1-e))-interleaved multiplicatively; 1/(1-e) = 1 + eps.
// So every bar (b, d) of the Rips diagram is matched to a bar of the sparse one
// within [b, (1 + eps) b] x [d, (1 + eps) d] and unmatched bars have
// d <= (1 + eps) b: the bottleneck distance of the diagrams in log scale is at
// most log(1 + eps). (GUDHI's RipsComplex(sparse=e) gives the same bound with its
// parameter e = eps / (1 + eps).) With a threshold t the guarantee holds below t;
// a bar the Rips complex kills between t / (1 + eps) and t may be essential here.
// When e <= 2 min l / max d (all pairs within every A_q) the filtration is the
// Rips filtration itself.
//
// Size: the points before q within reach of q are at least l_q apart and within
// O(l_q / e), so a point has O(e^-dim) edges: memory follows n, not n^2.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <queue>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tda/core/complex.hpp"
#include "tda/core/distances.hpp"
#include "tda/core/grid.hpp"  // NoProgress
#include "tda/core/persistence.hpp"
#include "tda/core/types.hpp"

namespace tda::core {

// A greedy permutation: points in insertion order and their insertion radii
// (radius[0] = +inf; non-increasing).
struct GreedyPermutation {
  std::vector<uint32_t> order;
  std::vector<double> radius;
};

namespace sparse_detail {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Hash grid over up to three coordinates; cells of side h, chained lists.
class HashGrid {
 public:
  HashGrid(const value_t* coords, size_t dim)
      : coords_(coords), dim_(dim), axes_(static_cast<int>(std::min<size_t>(dim, 3))) {}
  void reset(double h, size_t capacity) {
    h_ = h;
    head_.clear();
    head_.reserve(capacity);
    next_.assign(capacity, kEnd);
  }
  double cell() const { return h_; }
  void insert(uint32_t slot, uint32_t point) {
    const uint64_t key = key_of(cell_of(point));
    auto it = head_.try_emplace(key, kEnd).first;
    next_[slot] = it->second;
    it->second = slot;
    if (slot >= point_.size()) point_.resize(size_t{slot} + 1);
    point_[slot] = point;
  }
  // f(slot) for the slots whose cells are within `radius` of the cell of point p
  // on every gridded axis (a superset of the points within radius).
  template <class F>
  void near(uint32_t p, double radius, F&& f) const {
    const Cell c = cell_of(p);
    const int64_t m = static_cast<int64_t>(std::ceil(radius / h_));
    int64_t lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
    for (int a = 0; a < axes_; ++a) {
      lo[a] = c.x[a] - m;
      hi[a] = c.x[a] + m;
    }
    Cell q = c;
    for (q.x[0] = lo[0]; q.x[0] <= hi[0]; ++q.x[0])
      for (q.x[1] = lo[1]; q.x[1] <= hi[1]; ++q.x[1])
        for (q.x[2] = lo[2]; q.x[2] <= hi[2]; ++q.x[2]) {
          auto it = head_.find(key_of(q));
          if (it == head_.end()) continue;
          for (uint32_t s = it->second; s != kEnd; s = next_[s]) f(s, point_[s]);
        }
  }

 private:
  static constexpr uint32_t kEnd = std::numeric_limits<uint32_t>::max();
  struct Cell {
    int64_t x[3] = {0, 0, 0};
  };
  Cell cell_of(uint32_t p) const {
    Cell c;
    for (int a = 0; a < axes_; ++a) {
      const double v = std::floor(static_cast<double>(coords_[size_t{p} * dim_ + a]) / h_);
      c.x[a] = static_cast<int64_t>(std::max(-1e18, std::min(1e18, v)));  // (clamped: far cells may share a key)
    }
    return c;
  }
  // (cells sharing a key share a chain: their points are all visited, which
  // only costs distance evaluations)
  static uint64_t key_of(const Cell& c) {
    uint64_t k = static_cast<uint64_t>(c.x[0]) * 0x9E3779B97F4A7C15ull;
    k ^= static_cast<uint64_t>(c.x[1]) * 0xC2B2AE3D27D4EB4Full + (k >> 29);
    k ^= static_cast<uint64_t>(c.x[2]) * 0x165667B19E3779F9ull + (k >> 31);
    return k;
  }
  const value_t* coords_;
  size_t dim_;
  int axes_;
  double h_ = 1;
  std::unordered_map<uint64_t, uint32_t> head_;
  std::vector<uint32_t> next_;
  std::vector<uint32_t> point_;
};

inline double sparse_e(double eps) { return eps / (1 + eps); }

// Times A and T of a point with insertion radius l.
inline double time_a(double l, double e) { return l == kInf ? kInf : 2 * l / e; }
inline double time_t(double l, double e) { return l == kInf ? kInf : 2 * l / (e * (1 - e)); }

// Filtration value of the edge pq (p inserted before q, lp >= lq) at distance
// d, or +inf when the sparse filtration has no such edge.
inline double edge_value(double d, double lp, double lq, double e) {
  const double aq = time_a(lq, e);
  if (d <= aq) return d;
  const double u = 2 * d - aq;
  return u <= std::min(time_a(lp, e), time_t(lq, e)) ? u : kInf;
}

// The farthest a later point q can be from an earlier one and still share an edge.
inline double reach(double lq, double e) { return (time_a(lq, e) + time_t(lq, e)) / 2; }

// The state of the greedy permutation of a point cloud: each point's distance
// to its nearest centre so far (dmin), the cells (points by nearest centre, by
// centre rank) with their radii, and a heap of the cells by radius (entries
// made stale by a later refresh are skipped when popped).
template <class Dist>
struct GreedyCells {
  GreedyPermutation& g;
  const Dist dist;  // (a copy: the loops read the coordinates without a further indirection)
  std::vector<double> dmin;
  std::vector<std::vector<uint32_t>> cell;  // by centre rank
  std::vector<double> rad;                  // cell radius (largest dmin)
  std::vector<uint32_t> far;                // a point realising it (lowest id on ties)
  std::vector<uint32_t> version;
  using Top = std::pair<double, std::pair<int64_t, uint32_t>>;  // (radius, (-far point, rank))
  std::priority_queue<Top> heap;
  std::vector<uint32_t> keep;  // move_closer's scratch

  GreedyCells(GreedyPermutation& perm, const Dist& d, size_t n) : g(perm), dist(d), dmin(n) {}

  void refresh(uint32_t c) {
    double r = 0;
    uint32_t f = g.order[c];
    for (uint32_t x : cell[c])
      if (dmin[x] > r || (dmin[x] == r && x < f)) r = dmin[x], f = x;
    rad[c] = r;
    far[c] = f;
    ++version[c];
    if (r > 0) heap.push({r, {-static_cast<int64_t>(f), c}});
  }
  void add_centre(uint32_t p, double l) {
    g.order.push_back(p);
    g.radius.push_back(l);
    cell.emplace_back();
    rad.push_back(0);
    far.push_back(p);
    version.push_back(0);
    dmin[p] = 0;
  }
  // Point 0 is the first centre; every other point is in its cell.
  void start(size_t n) {
    add_centre(0, kInf);
    cell[0].reserve(n - 1);
    for (uint32_t x = 1; x < n; ++x) {
      dmin[x] = dist(x, 0);
      cell[0].push_back(x);
    }
    refresh(0);
  }
  // The cell holding the point farthest from the centres (its radius rad[c],
  // the point far[c]); false when every point is a centre or a duplicate of one.
  bool pop_farthest(uint32_t& c) {
    while (!heap.empty()) {
      const Top t = heap.top();
      heap.pop();
      c = t.second.second;
      if (t.first != rad[c] || -t.second.first != static_cast<int64_t>(far[c]) || rad[c] == 0) continue;
      return true;
    }
    return false;
  }
  // Moves the points of cell a that are closer to the new centre q (rank qr)
  // into its cell; only cells with d(a, q) <= 2 rad(a) can have such points.
  void move_closer(uint32_t a, uint32_t q, uint32_t qr) {
    if (a == qr || rad[a] == 0) return;
    if (dist(g.order[a], q) > 2 * rad[a]) return;
    keep.clear();
    for (uint32_t x : cell[a]) {
      if (x == q) continue;
      const double dq = dist(x, q);
      if (dq < dmin[x]) {
        dmin[x] = dq;
        cell[qr].push_back(x);
      } else {
        keep.push_back(x);
      }
    }
    cell[a].swap(keep);
    if (cell[a].capacity() > 2 * cell[a].size() + 16) cell[a].shrink_to_fit();
    refresh(a);
  }
};

// Points at distance 0 from a centre (duplicates) come last, radius 0.
inline void append_duplicates(GreedyPermutation& g, size_t n) {
  if (g.order.size() >= n) return;
  std::vector<char> placed(n, 0);
  for (uint32_t p : g.order) placed[p] = 1;
  for (uint32_t x = 0; x < n; ++x)
    if (!placed[x]) {
      g.order.push_back(x);
      g.radius.push_back(0);
    }
}

}  // namespace sparse_detail

// Greedy permutation of a point cloud (Euclidean float distances, as the Rips
// core), starting at point 0; ties go to the lower point. Each point keeps its
// nearest centre so far; the cells (points by nearest centre) are visited only
// for centres within twice their cell's radius of a new centre (no point of a
// farther cell can come closer to it), found through a grid of the centres.
// progress(done, n) every 1024 centres.
template <class Poll = NoPoll, class Progress = NoProgress>
GreedyPermutation greedy_permutation_points(const std::vector<value_t>& coords, size_t n, size_t dim, Poll&& poll = {},
                                            Progress&& progress = {}) {
  GreedyPermutation g;
  if (n == 0) return g;
  auto dist = [&](uint32_t a, uint32_t b) {
    return static_cast<double>(euclidean_distance(&coords[size_t{a} * dim], &coords[size_t{b} * dim], dim));
  };
  sparse_detail::GreedyCells<decltype(dist)> s(g, dist, n);
  s.start(n);
  sparse_detail::HashGrid grid(coords.data(), dim);
  bool grid_ready = false;
  uint32_t c = 0;
  while (s.pop_farthest(c)) {
    const double R = s.rad[c];  // the largest distance of any point to the centres
    const uint32_t q = s.far[c];
    if ((g.order.size() & 1023) == 0) {
      poll();
      progress(g.order.size(), n);
    }
    if (!grid_ready || 2 * R < grid.cell() / 4) {  // cells of side >= 2R: one ring around a cell
      grid.reset(2 * R, n);
      for (uint32_t k = 0; k < g.order.size(); ++k) grid.insert(k, g.order[k]);
      grid_ready = true;
    }
    const uint32_t qr = static_cast<uint32_t>(g.order.size());
    s.add_centre(q, R);
    grid.insert(qr, q);
    // cells whose points may come closer to q
    grid.near(q, 2 * R, [&s, q, qr](uint32_t a, uint32_t) { s.move_closer(a, q, qr); });
    s.refresh(qr);
  }
  sparse_detail::append_duplicates(g, n);
  return g;
}

// Greedy permutation from a strict lower triangle (O(n^2), as the input).
template <class Poll = NoPoll>
GreedyPermutation greedy_permutation_lower(const std::vector<value_t>& lower, size_t n, Poll&& poll = {}) {
  GreedyPermutation g;
  if (n == 0) return g;
  auto dist = [&](size_t a, size_t b) {
    return a == b ? 0.0 : static_cast<double>(a > b ? lower[lower_position(a, b)] : lower[lower_position(b, a)]);
  };
  std::vector<double> dmin(n, sparse_detail::kInf);
  std::vector<char> used(n, 0);
  size_t cur = 0;
  double l = sparse_detail::kInf;
  for (size_t step = 0; step < n; ++step) {
    g.order.push_back(static_cast<uint32_t>(cur));
    g.radius.push_back(l);
    used[cur] = 1;
    if ((step & 255) == 0) poll();
    size_t best = n;
    double bd = -1;
    for (size_t x = 0; x < n; ++x) {
      if (used[x]) continue;
      dmin[x] = std::min(dmin[x], dist(x, cur));
      if (dmin[x] > bd) bd = dmin[x], best = x;
    }
    if (best == n) break;
    cur = best;
    l = bd;
  }
  return g;
}

// The sparse filtration's edges and vertex deaths as neighbour lists, from a
// greedy permutation; edges above `threshold` are left out.
struct SparseGraph {
  SparseDistances lists;
  std::vector<detail::Simplex> edges;
};

namespace sparse_detail {

inline SparseGraph graph_from_edges(size_t n, std::vector<std::pair<uint64_t, value_t>>& pairs,
                                    std::vector<value_t> death) {
  // pairs: (i * 2^32 + j, value), i > j
  std::sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<size_t> offsets(n + 1, 0);
  for (const auto& e : pairs) {
    ++offsets[(e.first >> 32) + 1];
    ++offsets[(e.first & 0xffffffffu) + 1];
  }
  for (size_t v = 0; v < n; ++v) offsets[v + 1] += offsets[v];
  std::vector<Neighbor> nb(offsets.back());
  std::vector<size_t> fill(offsets.begin(), offsets.end() - 1);
  SparseGraph g;
  g.edges.reserve(pairs.size());
  // sorted by (i, j): list i gets its lower neighbours j in order, then the
  // upper ones (i' > i) arrive in order of i'
  for (const auto& e : pairs) {
    const uint32_t i = static_cast<uint32_t>(e.first >> 32), j = static_cast<uint32_t>(e.first & 0xffffffffu);
    nb[fill[i]++] = Neighbor{j, e.second};
    g.edges.push_back(detail::Simplex{e.second, static_cast<index_t>(size_t{i} * (i - 1) / 2 + j)});
  }
  for (const auto& e : pairs) {
    const uint32_t i = static_cast<uint32_t>(e.first >> 32), j = static_cast<uint32_t>(e.first & 0xffffffffu);
    nb[fill[j]++] = Neighbor{i, e.second};
  }
  std::vector<std::pair<uint64_t, value_t>>().swap(pairs);
  g.lists = SparseDistances::from_lists(std::move(offsets), std::move(nb));
  g.lists.set_vertex_deaths(std::move(death));
  return g;
}

// Vertex deaths (rounded to float like the edge values, so the comparisons of
// the cofacet walk agree with the double ones made here).
inline std::vector<value_t> deaths(const GreedyPermutation& g, size_t n, double e) {
  std::vector<value_t> death(n, std::numeric_limits<value_t>::infinity());
  for (size_t k = 0; k < g.order.size(); ++k) death[g.order[k]] = static_cast<value_t>(time_t(g.radius[k], e));
  return death;
}

inline void keep_edge(std::vector<std::pair<uint64_t, value_t>>& out, uint32_t a, uint32_t b, double u, double thr) {
  if (u > thr) return;
  const value_t v = static_cast<value_t>(u);
  const uint32_t i = std::max(a, b), j = std::min(a, b);
  out.push_back({(uint64_t{i} << 32) | j, v});
}

}  // namespace sparse_detail

// Point cloud: for each point q (in permutation order) the earlier points within
// reach(l_q), found in a grid of the earlier points whose cells are rebuilt
// smaller as the radii fall.
// progress(done, n) every 1024 points.
template <class Poll = NoPoll, class Progress = NoProgress>
SparseGraph sparse_rips_graph_points(const std::vector<value_t>& coords, size_t n, size_t dim,
                                     const GreedyPermutation& g, double eps, double threshold, Poll&& poll = {},
                                     Progress&& progress = {}) {
  using namespace sparse_detail;
  const double e = sparse_e(eps);
  std::vector<std::pair<uint64_t, value_t>> pairs;
  std::vector<double> lam(n, 0);
  for (size_t k = 0; k < g.order.size(); ++k) lam[g.order[k]] = g.radius[k];
  HashGrid grid(coords.data(), dim);
  bool ready = false;
  for (uint32_t k = 0; k < g.order.size(); ++k) {
    const uint32_t q = g.order[k];
    if (k > 0) {
      // (a point at distance 0 from an earlier one, radius 0, only meets its
      // duplicates, which share its cell)
      const double rq = std::min(reach(g.radius[k], e), threshold * 1.0001 + 1e-30);
      if (!ready || (rq > 0 && rq < grid.cell() / 4)) {
        grid.reset(rq > 0 ? rq : 1.0, n);
        for (uint32_t t = 0; t < k; ++t) grid.insert(t, g.order[t]);
        ready = true;
      }
      grid.near(q, rq, [&](uint32_t, uint32_t p) {
        const double d =
            static_cast<double>(euclidean_distance(&coords[size_t{p} * dim], &coords[size_t{q} * dim], dim));
        const double u = edge_value(d, lam[p], lam[q], e);
        if (u != kInf) keep_edge(pairs, p, q, u, threshold);
      });
      if ((k & 1023) == 0) {
        poll();
        progress(k, n);
      }
    }
    if (ready) grid.insert(k, q);
  }
  return graph_from_edges(n, pairs, deaths(g, n, e));
}

// Distance matrix (strict lower triangle): all pairs.
template <class Poll = NoPoll>
SparseGraph sparse_rips_graph_lower(const std::vector<value_t>& lower, size_t n, const GreedyPermutation& g, double eps,
                                    double threshold, Poll&& poll = {}) {
  using namespace sparse_detail;
  const double e = sparse_e(eps);
  std::vector<double> lam(n, 0);
  for (size_t k = 0; k < g.order.size(); ++k) lam[g.order[k]] = g.radius[k];
  std::vector<std::pair<uint64_t, value_t>> pairs;
  for (size_t i = 1; i < n; ++i) {
    if ((i & 255) == 0) poll();
    for (size_t j = 0; j < i; ++j) {
      const double d = lower[lower_position(i, j)];
      // the earlier point has the larger radius (ties: either order gives the same value)
      const double lp = std::max(lam[i], lam[j]), lq = std::min(lam[i], lam[j]);
      const double u = edge_value(d, lp, lq, e);
      if (u != kInf) keep_edge(pairs, static_cast<uint32_t>(i), static_cast<uint32_t>(j), u, threshold);
    }
  }
  return graph_from_edges(n, pairs, deaths(g, n, e));
}

// Rough resources of a sparse Rips computation (admission), an upper-ish
// estimate: 1.4 (2 / e)^k edges per point with k = min(dim, 3) as if the cloud
// filled its space (measured with large_cloud_bench --sparse 0.5, e = 1/3: 297
// per point in a cube, k = 3; a torus, intrinsically 2-dimensional, has 49, so
// it is over-estimated ~6x), ~50 bytes and ~3.2 CPU microseconds per edge
// (neighbour lists, edge list, dimension-1 columns; cube 100k: 1.44 GB, 98 s;
// torus 1M: 2.38 GB, 152 s); a matrix scans all pairs.
inline Estimate estimate_sparse_rips(uint64_t n, uint32_t dim, bool is_distance_matrix, int max_dim, double eps) {
  const double nn = static_cast<double>(n);
  const double e = sparse_detail::sparse_e(eps);
  const double k = is_distance_matrix ? 3 : std::min<double>(dim, 3);
  const double per_point = std::min(nn, 1.4 * std::pow(2 / e, k));
  const double edges = nn * per_point;
  double mem = 16.0 * (1 << 20) + (is_distance_matrix ? nn * (nn - 1) / 2 * 4 : nn * dim * 4.0);
  mem += nn * 64 + edges * 56;  // permutation and cells; edges
  double simplices = edges, work = edges * 3.5e-6 + (is_distance_matrix ? nn * nn * 4e-9 : nn * 1e-5);
  for (int d = 2; d <= max_dim; ++d) {
    simplices *= per_point / (d + 1);
    mem += simplices * 16 * 0.1;
    work += simplices * 1e-7;
  }
  return Estimate{static_cast<uint64_t>(std::min(mem, 1.8e19)), work};
}

}  // namespace tda::core
