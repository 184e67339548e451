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
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
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
  // the edges after the probe went in this many blocks of vertices at once
  // (detail::collapse_blocks); 0: in filtration order on one thread
  uint32_t blocks = 0;
};

inline constexpr size_t kCollapseProbe = 4096;
inline constexpr double kCollapseBar = 0.75;
// Below this many edges after the probe the collapse stays on one thread.
inline constexpr size_t kCollapseParallelEdges = 200000;

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
  explicit EdgeCollapser(SparseDistances& g) : g_(g) {}

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
    // common neighbours (open), split by the time they become common: a merge
    // of the two lists (both sorted by vertex), so now_ comes out sorted
    uint32_t best = 0;
    value_t best_t = kRemoved;
    const Neighbor* a = g_.begin(u);
    const Neighbor* const ae = g_.end(u);
    const Neighbor* b = g_.begin(v);
    const Neighbor* const be = g_.end(v);
    while (a != ae && b != be) {
      const uint32_t x = a->vertex;
      const uint32_t y = b->vertex;
      if (x == y) {
        const value_t tw = std::max(a->dist, b->dist);
        if (tw <= t) {
          now_.push_back(x);
          if (tw < best_t) {
            best_t = tw;
            best = x;
          }
        } else if (tw != kRemoved) {
          later_.push_back({tw, x});
        }
      }
      a += x <= y;
      b += y <= x;
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
  // searches in c's list when now_ is small against it, else by one merge of
  // the two (both sorted by vertex); either stops at the first vertex missing.
  bool dominates(uint32_t c, value_t time) const {
    const Neighbor* lo = g_.begin(c);
    const Neighbor* const hi = g_.end(c);
    const bool search = now_.size() * 8 < static_cast<size_t>(hi - lo);
    for (uint32_t x : now_) {
      if (x == c) continue;
      if (search) {
        lo = std::lower_bound(lo, hi, x, [](const Neighbor& a, uint32_t w) { return a.vertex < w; });
      } else {
        while (lo != hi && lo->vertex < x) ++lo;
      }
      if (lo == hi || lo->vertex != x || lo->dist > time) return false;
      ++lo;  // (now_ is sorted)
    }
    return true;
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
};

// The measured rule for Collapse::Auto (bench/rips_bench.py --collapse-rows,
// bench/large_cloud_bench.py): not on dense graphs, where every dominance test
// walks a list of ~n neighbours: a mean degree above 300 loses (fractal_r,
// degree 480: 1.8 s against 3.2 s; dragon_2000, H1 without a threshold, degree
// ~1600), up to 300 wins (o3_1024 65, celegans 278, vicsek300 287: 3-6x
// faster). From H2 on that is all. H1 alone is reduced quickly (most of its
// columns are apparent pairs), so there the collapse pays only on many edges:
// torus and cube clouds at degree ~50 (large_cloud_bench.py --sizes
// 3000,10000,30000,100000, one thread) go from a loss at 3000 points (cube 0.05
// against 0.09 CPU s) to a tie around 10000 and a win from 30000 (cube 1.79 to
// 1.37 s), 100000 (9.7 to 6.7 s) and up (1M cube, 2 threads: 74.9 to 49.5 s);
// the bar is kCollapseMinEdgesH1. Without the edges yet (edges = 0) they are
// guessed as 80% of the pairs, the share below the enclosing radius. The
// collapse then stops after its first tenth if that did not remove three
// quarters of its edges (probe_pays; sphere_3_192, degree 186, loses 0.07%).
inline constexpr double kCollapseMinEdgesH1 = 1e6;
inline bool collapse_pays(size_t n, size_t edges, int max_dim) {
  if (max_dim < 1 || n < 2) return false;
  const double e = edges ? static_cast<double>(edges) : 0.4 * static_cast<double>(n) * static_cast<double>(n - 1);
  if (2 * e / static_cast<double>(n) > 300) return false;
  return max_dim >= 2 || e >= kCollapseMinEdgesH1;
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

// Blocks of consecutive vertices whose edges (each edge going with the block
// of its larger vertex) can be collapsed at the same time. Handling edge uv
// reads and writes only the lists of vertices in u's closed neighbourhood N[u]
// (v, the common neighbours, their lists), so two edges whose closed
// neighbourhoods share no vertex touch disjoint lists. The blocks are checked
// so: the closed neighbourhoods of blocks i and i + 2 lie in disjoint vertex
// ranges, and the even blocks, then the odd ones, run concurrently. On a grid-
// numbered cloud (grid_neighbors numbers close points closely) the blocks are
// slabs of space; on a graph without that locality no split passes and the
// collapse stays on one thread. Each step of the collapse preserves the diagram
// whatever the order of the edges (see the top of this file), so handling the
// blocks apart gives the same diagram; only how many edges go may differ.
// Returns the first vertex of each block and then n, or nothing.
inline std::vector<uint32_t> collapse_blocks(const SparseDistances& g, int threads) {
  const size_t n = g.size();
  if (threads < 2 || n < 4 || n > std::numeric_limits<uint32_t>::max()) return {};
  std::vector<uint64_t> below(n + 1, 0);  // edges whose larger vertex is < v
  for (size_t v = 0; v < n; ++v) {
    uint64_t d = 0;
    for (const Neighbor* a = g.begin(v); a != g.end(v) && a->vertex < v; ++a) ++d;
    below[v + 1] = below[v] + d;
  }
  for (int k : {std::min(8 * threads, 240), std::min(4 * threads, 240), std::min(2 * threads, 240)}) {
    std::vector<uint32_t> first(static_cast<size_t>(k) + 1, 0);
    for (int b = 1; b < k; ++b) {  // equal shares of the edges
      const uint64_t share = below[n] * static_cast<uint64_t>(b) / static_cast<uint64_t>(k);
      first[b] = static_cast<uint32_t>(std::lower_bound(below.begin(), below.end(), share) - below.begin());
      first[b] = std::max(first[b], first[b - 1]);
    }
    first[k] = static_cast<uint32_t>(n);
    std::vector<uint32_t> lo(k), hi(k);  // the vertex range of each block's closed neighbourhood
    for (int b = 0; b < k; ++b) {
      lo[b] = first[b];
      hi[b] = first[b + 1] > first[b] ? first[b + 1] - 1 : first[b];
      for (uint32_t v = first[b]; v < first[b + 1]; ++v)
        if (g.begin(v) != g.end(v)) {
          lo[b] = std::min(lo[b], g.begin(v)->vertex);
          hi[b] = std::max(hi[b], (g.end(v) - 1)->vertex);
        }
    }
    bool apart = true;
    for (int b = 0; b + 2 < k && apart; ++b) apart = hi[b] < lo[b + 2];
    if (apart) return first;
  }
  return {};
}

// Handles edge e = uv with collapser c: its new value goes into the lists and
// into e (kRemoved: dropped). Returns whether it was delayed.
inline bool collapse_one(EdgeCollapser& c, Simplex& e, uint32_t u, uint32_t v) {
  const value_t t = c.process(u, v, e.diam);
  if (t == e.diam) return false;
  c.set_value(u, v, t);
  e.diam = t;
  return t != kRemoved;
}

// Collapses the edges at(j), j in [lo, hi), in that order; each() runs before
// every edge (polls). The lists of the edges a few steps ahead are fetched
// meanwhile: the edges come longest first, from anywhere in the graph, so
// each would otherwise wait for its two lists from memory. Each edge is
// decoded once, kFar steps ahead, into a ring the later steps read. Returns
// how many were delayed.
template <class At, class Each>
uint64_t collapse_run(const SparseDistances& g, EdgeCollapser& c, size_t lo, size_t hi, At&& at, Each&& each) {
  constexpr size_t kNear = 4, kFar = 8, kRing = 16;  // lists, then offsets, that far ahead
  uint32_t ring_u[kRing], ring_v[kRing];
  auto decode = [&](size_t j) {
    decode_edge(at(j).index, ring_u[j % kRing], ring_v[j % kRing]);
    g.prefetch_offset(ring_u[j % kRing]);
    g.prefetch_offset(ring_v[j % kRing]);
  };
  for (size_t j = lo; j < std::min(hi, lo + kFar); ++j) decode(j);
  uint64_t delayed = 0;
  for (size_t j = lo; j < hi; ++j) {
    if (j + kFar < hi) decode(j + kFar);
    if (j + kNear < hi) {
      g.prefetch_list(ring_u[(j + kNear) % kRing]);
      g.prefetch_list(ring_v[(j + kNear) % kRing]);
    }
    if (!each(j)) break;
    delayed += collapse_one(c, at(j), ring_u[j % kRing], ring_v[j % kRing]);
  }
  return delayed;
}

// The edges [from, end) (longest first) collapsed block by block (blocks from
// collapse_blocks): even blocks concurrently, then odd ones, each block's edges
// longest first; `handled` counts the edges done. Returns how many were delayed.
template <class Poll>
uint64_t collapse_in_blocks(SparseDistances& g, std::vector<Simplex>& edges, size_t from,
                            const std::vector<uint32_t>& first, EdgeCollapser& c0, WorkerGroup& group,
                            std::atomic<uint64_t>& handled, Poll&& poll, const std::function<void(uint64_t)>& charge) {
  const size_t k = first.size() - 1;
  const size_t count = edges.size() - from;
  if (charge) charge(count * (sizeof(uint8_t) + sizeof(uint32_t)));  // (before allocating them)
  // the positions of the edges grouped by block, in their order
  std::vector<uint8_t> block(count);
  group.chunks(count, 1 << 16, [&](size_t lo, size_t hi, int) {
    for (size_t i = lo; i < hi; ++i) {
      uint32_t u, v;
      decode_edge(edges[from + i].index, u, v);
      block[i] = static_cast<uint8_t>(std::upper_bound(first.begin(), first.end(), u) - first.begin() - 1);
    }
  });
  std::vector<size_t> start(k + 1, 0);
  for (uint8_t b : block) ++start[b + 1];
  for (size_t b = 0; b < k; ++b) start[b + 1] += start[b];
  std::vector<uint32_t> order(count);
  {
    std::vector<size_t> fill(start.begin(), start.end() - 1);
    for (size_t i = 0; i < count; ++i) order[fill[block[i]]++] = static_cast<uint32_t>(i);
  }
  std::vector<uint8_t>().swap(block);
  std::vector<std::unique_ptr<EdgeCollapser>> more;
  for (int w = 1; w < group.size(); ++w) more.push_back(std::make_unique<EdgeCollapser>(g));
  std::atomic<uint64_t> delayed{0};
  for (size_t phase = 0; phase < 2; ++phase) {
    std::atomic<size_t> next{phase};
    group.run_polled(
        [&](int w) {
          EdgeCollapser& c = w == 0 ? c0 : *more[static_cast<size_t>(w) - 1];
          uint64_t mine = 0;
          size_t since = 0;
          for (size_t b; (b = next.fetch_add(2)) < k && !group.failed();) {
            mine += collapse_run(
                g, c, start[b], start[b + 1], [&](size_t j) -> Simplex& { return edges[from + order[j]]; },
                [&](size_t) {
                  if ((++since & 0xFFF) != 0) return true;
                  handled.fetch_add(0x1000, std::memory_order_relaxed);
                  if (w == 0) poll();
                  return !group.failed();
                });
          }
          delayed.fetch_add(mine, std::memory_order_relaxed);
        },
        poll);
  }
  return delayed.load();
}

}  // namespace detail

// Collapses the flag filtration given by the neighbour lists g in place (values
// may grow, edges may go) and returns the remaining edges with their values (in
// no particular order; the reducer sorts them). `edges` holds
// all edges of g; it is consumed. poll() runs every few thousand edges on the
// calling thread; progress(done, total) reports the edges handled. With more
// than one thread, the edges after the probe are handled in blocks of vertices
// at once where the numbering allows it (detail::collapse_blocks); charge(bytes)
// is told the memory the blocks take besides the edges, before it is allocated.
template <class Poll, class Progress>
std::vector<detail::Simplex> collapse_edges(SparseDistances& g, std::vector<detail::Simplex> edges, int threads,
                                            CollapseStats& stats, Poll&& poll, Progress&& progress,
                                            bool adaptive = false, const std::function<void(uint64_t)>& charge = {}) {
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
  // adaptive (Collapse::Auto): stop when the first tenth of the edges (the
  // longest; at least kCollapseProbe) did not lose kCollapseBar of its edges
  // (probe_pays); the edges handled keep their new values (every step
  // preserves the diagram), the rest stay as they are
  const size_t probe = std::min(total, std::max<size_t>(kCollapseProbe, total / 10));
  auto in_order = [&](size_t i) -> Simplex& { return edges[i]; };
  auto polled = [&](size_t i) {
    if ((i & 0xFFF) == 0) {
      poll();
      progress(i, total);
    }
    return true;
  };
  stats.edges_delayed += detail::collapse_run(g, c, 0, probe, in_order, polled);
  auto removed = [&](size_t hi) {
    return static_cast<uint64_t>(std::count_if(edges.begin(), edges.begin() + static_cast<std::ptrdiff_t>(hi),
                                               [](const Simplex& e) { return e.diam == detail::kRemoved; }));
  };
  if (probe < total) {
    stats.probe_edges = probe;
    stats.probe_removed = removed(probe);
    stats.probe_delayed = stats.edges_delayed;
  }
  if (adaptive && probe < total && !detail::probe_pays(stats.probe_removed, stats.probe_edges)) {
    stats.stopped_early = true;
  } else if (probe < total) {
    // the rest: in blocks on all threads where the numbering allows, else in order
    WorkerGroup group(threads);
    const std::vector<uint32_t> first =
        total - probe >= kCollapseParallelEdges ? detail::collapse_blocks(g, threads) : std::vector<uint32_t>{};
    if (!first.empty() && total - probe <= std::numeric_limits<uint32_t>::max()) {
      std::atomic<uint64_t> done{probe};
      stats.blocks = static_cast<uint32_t>(first.size() - 1);
      stats.edges_delayed += detail::collapse_in_blocks(
          g, edges, probe, first, c, group, done,
          [&] {
            poll();
            progress(done.load(std::memory_order_relaxed), total);
          },
          charge);
    } else {
      stats.edges_delayed += detail::collapse_run(g, c, probe, total, in_order, polled);
    }
  }
  const auto kept_end =
      std::remove_if(edges.begin(), edges.end(), [](const Simplex& e) { return e.diam == detail::kRemoved; });
  edges.erase(kept_end, edges.end());
  edges.shrink_to_fit();
  g.drop_removed();
  stats.edges_after = edges.size();
  progress(total, total);
  return edges;
}

}  // namespace tda::core
