// Edge collapse of a flag filtration (Boissonnat & Pritam, "Edge collapse and
// persistence of flag complexes", SoCG 2020; the one-pass form of Glisse &
// Pritam, "Swap, shift and trim to edge collapse a filtration", SoCG 2022).
//
// An edge uv is dominated in a graph G by a vertex c (not u, v) when every common
// neighbour of u and v is c or a neighbour of c. The flag complex of G then
// collapses onto the flag complex of G - uv, and the inclusion of the smaller
// complex induces isomorphisms in homology. So if uv is dominated in the graph
// at every time of [f, f'), letting it enter at f' instead of f gives a
// filtration whose persistence module is isomorphic (the inclusion of the delayed
// filtration is an isomorphism at every time), hence the same diagram; an edge
// dominated until the end is dropped.
//
// The edges are handled from the last to the first of the filtration; when an
// edge is handled the graph holds the earlier edges at their own values and the
// later ones at the values already given to them (each step preserves the
// diagram, so the sequence does). The graph only grows with time, so once an
// edge is dominated by c it stays dominated by c until a new common neighbour
// that is not adjacent to c appears: only those times need a new search.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "tda/core/complex.hpp"
#include "tda/core/distances.hpp"
#include "tda/core/parallel.hpp"
#include "tda/core/persistence.hpp"
#include "tda/core/types.hpp"

namespace tda::core {

struct CollapseStats {
  uint64_t edges_before = 0;
  uint64_t edges_after = 0;
  uint64_t edges_delayed = 0;  // kept, entering later than their length
  bool stopped_early = false;  // adaptive: the first edges did not collapse enough
  // the probe (the first edges handled, the longest): how many, and of them
  // how many went and how many were delayed
  uint64_t probe_edges = 0;
  uint64_t probe_removed = 0;
  uint64_t probe_delayed = 0;
};

inline constexpr size_t kCollapseProbe = 4096;
inline constexpr double kCollapseBar = 0.75;

namespace detail {

inline constexpr value_t kRemoved = std::numeric_limits<value_t>::infinity();

// (u, v), u > v, of an edge index u(u-1)/2 + v.
inline void decode_edge(index_t idx, uint32_t& u, uint32_t& v) {
  uint64_t a = static_cast<uint64_t>((1 + std::sqrt(1 + 8.0 * static_cast<double>(idx))) / 2);
  while (a * (a - 1) / 2 > static_cast<uint64_t>(idx)) --a;
  while ((a + 1) * a / 2 <= static_cast<uint64_t>(idx)) ++a;
  u = static_cast<uint32_t>(a);
  v = static_cast<uint32_t>(static_cast<uint64_t>(idx) - a * (a - 1) / 2);
}

class EdgeCollapser {
 public:
  explicit EdgeCollapser(SparseDistances& g) : g_(g), stamp_(g.size(), 0), val_(g.size(), 0) {}

  // Value of edge ab in the current graph (kRemoved if absent).
  value_t value(uint32_t a, uint32_t b) const {
    const Neighbor* lo = g_.begin(a);
    const Neighbor* hi = g_.end(a);
    const Neighbor* it = std::lower_bound(lo, hi, b, [](const Neighbor& x, uint32_t w) { return x.vertex < w; });
    return (it != hi && it->vertex == b) ? it->dist : kRemoved;
  }

  void set_value(uint32_t a, uint32_t b, value_t t) {
    set_half(a, b, t);
    set_half(b, a, t);
  }

  // Handles edge uv entering at t; returns its new value (kRemoved: dropped).
  value_t process(uint32_t u, uint32_t v, value_t t) {
    now_.clear();
    later_.clear();
    // common neighbours (open), split by the time they become common: u's
    // neighbours are marked, then v's list is scanned
    uint32_t best = 0;
    value_t best_t = kRemoved;
    const uint32_t su = next_stamp();
    for (const Neighbor* a = g_.begin(u); a != g_.end(u); ++a) {
      stamp_[a->vertex] = su;
      val_[a->vertex] = a->dist;
    }
    for (const Neighbor* b = g_.begin(v); b != g_.end(v); ++b) {
      if (stamp_[b->vertex] != su) continue;
      const value_t tw = std::max(val_[b->vertex], b->dist);
      if (tw == kRemoved) continue;
      if (tw <= t) {
        now_.push_back(b->vertex);
        if (tw < best_t) {
          best_t = tw;
          best = b->vertex;
        }
      } else {
        later_.push_back({tw, b->vertex});
      }
    }
    std::sort(later_.begin(), later_.end(), [](const Event& x, const Event& y) { return x.t < y.t; });
    size_t next = 0;
    value_t time = t;
    while (true) {
      // a dominator at `time`: the common neighbour that joined first is tried
      // first, then at most kTries others (an edge not shown dominated simply
      // stays: this bounds the work on dense graphs, the result stays exact)
      int64_t dom = -1;
      if (!now_.empty() && dominates(best, time)) {
        dom = best;
      } else {
        int tries = 0;
        for (uint32_t c : now_) {
          if (c == best) continue;
          if (++tries > kTries) break;
          if (dominates(c, time)) {
            dom = c;
            break;
          }
        }
      }
      if (dom < 0) return time;
      // still dominated by dom until a new common neighbour is not adjacent to it
      bool dominated = true;
      while (dominated) {
        if (next == later_.size()) return kRemoved;
        time = later_[next].t;
        for (; next < later_.size() && later_[next].t <= time; ++next) {
          const uint32_t w = later_[next].w;
          if (value(static_cast<uint32_t>(dom), w) > time) dominated = false;
          now_.insert(std::lower_bound(now_.begin(), now_.end(), w), w);
        }
      }
      best = static_cast<uint32_t>(dom);
    }
  }

 private:
  static constexpr int kTries = 16;
  struct Event {
    value_t t;
    uint32_t w;
  };

  // Every vertex of now_ other than c is adjacent to c at `time`: by binary
  // searches in c's list when now_ is small against it, else by marking c's
  // neighbours first.
  bool dominates(uint32_t c, value_t time) {
    const Neighbor* lo = g_.begin(c);
    const Neighbor* hi = g_.end(c);
    if (now_.size() * 8 < static_cast<size_t>(hi - lo)) {
      for (uint32_t x : now_) {
        if (x == c) continue;
        const Neighbor* it = std::lower_bound(lo, hi, x, [](const Neighbor& a, uint32_t w) { return a.vertex < w; });
        if (it == hi || it->vertex != x || it->dist > time) return false;
        lo = it + 1;  // (now_ is sorted)
      }
      return true;
    }
    const uint32_t sc = next_stamp();
    for (const Neighbor* p = lo; p != hi; ++p)
      if (p->dist <= time) stamp_[p->vertex] = sc;
    stamp_[c] = sc;
    for (uint32_t x : now_)
      if (stamp_[x] != sc) return false;
    return true;
  }

  uint32_t next_stamp() {
    if (++stamp_now_ == 0) {  // (wrapped: clear the marks)
      std::fill(stamp_.begin(), stamp_.end(), 0);
      stamp_now_ = 1;
    }
    return stamp_now_;
  }

  void set_half(uint32_t a, uint32_t b, value_t t) {
    Neighbor* lo = g_.mutable_begin(a);
    Neighbor* hi = g_.mutable_end(a);
    Neighbor* it = std::lower_bound(lo, hi, b, [](const Neighbor& x, uint32_t w) { return x.vertex < w; });
    it->dist = t;
  }

  SparseDistances& g_;
  std::vector<uint32_t> now_;
  std::vector<Event> later_;
  // per-vertex marks: stamp_[w] == the current stamp marks w; val_ holds the
  // value of the edge from the marked vertex u (common neighbours)
  std::vector<uint32_t> stamp_;
  std::vector<value_t> val_;
  uint32_t stamp_now_ = 0;
};

// The measured rule for Collapse::Auto (bench/rips_bench.py --collapse-rows):
// H1 alone is reduced faster than the edges collapse (dragon_2000 0.7 s against
// 42 s; a 1M-point torus 58 against 78 CPU seconds), so only from H2 on; and not
// on dense graphs, where every dominance test walks a list of ~n neighbours: a
// mean degree above 300 loses (fractal_r, degree 480: 1.8 s against 3.2 s), up
// to 300 wins (o3_1024 65, celegans 278, vicsek300 287: 3-6x faster). Without
// the edges yet (edges = 0) they are guessed as 80% of the pairs, the share below
// the enclosing radius. The collapse then stops after its first tenth if that did
// not remove three quarters of its edges (probe_pays; sphere_3_192, degree 186,
// loses 0.07%).
inline bool collapse_pays(size_t n, size_t edges, int max_dim) {
  if (max_dim < 2 || n < 2) return false;
  const double e = edges ? static_cast<double>(edges) : 0.4 * static_cast<double>(n) * static_cast<double>(n - 1);
  return 2 * e / static_cast<double>(n) <= 300;
}

// Whether the collapse goes on after its probe (Collapse::Auto): the probe
// lost at least kCollapseBar of its edges. Measured (bench/rips_bench.py
// --collapse-rows, 2 threads): the winners lose 89-100 % (o3_1024, o3_4096,
// celegans, vicsek300, the 50000-point Clifford torus, a 1500-point torus in
// R^3 at threshold 0.7); that torus at 0.75 loses 55 % and the whole collapse
// then removes 31 % of the edges and delays most of the rest, which leaves
// fewer apparent pairs and more columns to reduce in dimension 2 (2x the CPU
// time of no collapse); stopped after the probe it costs about as much as none.
inline bool probe_pays(uint64_t removed, uint64_t handled) {
  return static_cast<double>(removed) >= kCollapseBar * static_cast<double>(handled);
}

}  // namespace detail

// Collapses the flag filtration given by the neighbour lists g in place (values
// may grow, edges may go) and returns the remaining edges with their values (in
// no particular order; the reducer sorts them). `edges` holds
// all edges of g; it is consumed. poll() runs every few thousand edges;
// progress(done, total) reports the edges handled.
template <class Poll, class Progress>
std::vector<detail::Simplex> collapse_edges(SparseDistances& g, std::vector<detail::Simplex> edges, int threads,
                                            CollapseStats& stats, Poll&& poll, Progress&& progress,
                                            bool adaptive = false) {
  using detail::Simplex;
  stats.edges_before = edges.size();
  // from the last edge of the filtration to the first
  parallel_sort(
      edges,
      [](const Simplex& a, const Simplex& b) { return a.diam > b.diam || (a.diam == b.diam && a.index < b.index); },
      threads);
  poll();
  detail::EdgeCollapser c(g);
  const size_t total = edges.size();
  size_t kept = 0;
  // adaptive (Collapse::Auto): stop when the first tenth of the edges (the
  // longest; at least kCollapseProbe) did not lose kCollapseBar of its edges
  // (probe_pays); the edges handled keep their new values (every step
  // preserves the diagram), the rest stay as they are
  const size_t probe = std::max<size_t>(kCollapseProbe, total / 10);
  size_t i = 0;
  for (; i < total; ++i) {
    if ((i & 0xFFF) == 0) {
      poll();
      progress(i, total);
    }
    if (i == probe) {
      stats.probe_edges = i;
      stats.probe_removed = i - kept;
      stats.probe_delayed = stats.edges_delayed;
      if (adaptive && !detail::probe_pays(stats.probe_removed, stats.probe_edges)) {
        stats.stopped_early = true;
        break;
      }
    }
    uint32_t u, v;
    detail::decode_edge(edges[i].index, u, v);
    const value_t t = c.process(u, v, edges[i].diam);
    if (t != edges[i].diam) {
      c.set_value(u, v, t);
      if (t == detail::kRemoved) continue;
      ++stats.edges_delayed;
    }
    edges[kept++] = Simplex{t, edges[i].index};
  }
  for (; i < total; ++i) edges[kept++] = edges[i];
  edges.resize(kept);
  edges.shrink_to_fit();
  g.drop_removed();
  stats.edges_after = kept;
  progress(total, total);
  return edges;
}

}  // namespace tda::core
