// The filtered Delaunay complex of the alpha filtration, as flat arrays.
//
// The Delaunay triangulation comes from CGAL (exact predicates). Every simplex
// gets the alpha value of Edelsbrunner's definition, as a squared radius:
//   - a top-dimensional cell: its squared circumradius;
//   - a lower simplex s: if some cofacet's opposite vertex lies strictly inside
//     the smallest circumsphere of s (s is "attached", not Gabriel), the minimum
//     of its cofacets' values, else its own smallest circumsphere's squared radius;
//   - a vertex: 0.
// (For a Delaunay simplex the minimum of the radius function over its Voronoi
// face is reached on a face dual to a cofacet it is attached to, so "minimum over
// all cofacets" and "minimum over the cofacets it is attached to" agree.)
#pragma once

#include <CGAL/Delaunay_triangulation_2.h>
#include <CGAL/Delaunay_triangulation_3.h>
#include <CGAL/Triangulation_cell_base_with_info_3.h>
#include <CGAL/Triangulation_data_structure_2.h>
#include <CGAL/Triangulation_data_structure_3.h>
#include <CGAL/Triangulation_face_base_with_info_2.h>
#include <CGAL/Triangulation_vertex_base_with_info_2.h>
#include <CGAL/Triangulation_vertex_base_with_info_3.h>
#include <CGAL/Spatial_sort_traits_adapter_2.h>
#include <CGAL/Spatial_sort_traits_adapter_3.h>
#include <CGAL/property_map.h>
#include <CGAL/spatial_sort.h>

#ifdef CGAL_LINKED_WITH_TBB
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <type_traits>
#include <optional>
#include <utility>
#include <vector>

#include "tda/core/alpha_geometry.hpp"
#include "tda/core/parallel.hpp"

namespace tda::core::alpha_detail {

inline constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
inline constexpr double kInf = std::numeric_limits<double>::infinity();

// The wall time of the pipeline's steps, for --stats: lap(name) closes the
// step that ran since the previous lap (or since the clock was made) under
// that name. The functions below take a StepClock* that may be null.
class StepClock {
 public:
  void lap(const char* name) {
    const auto now = std::chrono::steady_clock::now();
    steps_.emplace_back(name, std::chrono::duration<double>(now - last_).count());
    last_ = now;
  }
  const std::vector<std::pair<const char*, double>>& steps() const { return steps_; }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
  std::vector<std::pair<const char*, double>> steps_;
};
inline void lap(StepClock* clock, const char* name) {
  if (clock) clock->lap(name);
}

// Called every few ten thousand elements with (done, total, held): held is the
// memory of a structure the caller cannot see (the triangulation), for the
// memory guard; may throw (cancellation, memory limit).
using Tick = std::function<void(uint64_t, uint64_t, uint64_t)>;
inline constexpr size_t kTickEvery = size_t{1} << 16;

// A double's bits and back (values >= 0, or +inf: their bits order like them).
inline uint64_t bits_of(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}
inline double from_bits(uint64_t b) {
  double v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

template <class V>
inline void release_vector(V& v) {
  v.clear();
  v.shrink_to_fit();
}

// A vector whose elements are left uninitialised when it grows (resize), for
// the large arrays that a pass on all threads then writes in full: their pages
// are first touched there, on every thread, not zeroed on one thread before.
template <class T>
struct UninitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitAllocator<U>;
  };
  UninitAllocator() = default;
  template <class U>
  UninitAllocator(const UninitAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
template <class T>
using Buffer = std::vector<T, UninitAllocator<T>>;

// The block of the passes split over threads: kTickEvery elements, smaller for
// small inputs so that every thread gets a few (at least 4096 elements).
inline size_t block_of(size_t count, int threads) {
  return std::clamp<size_t>(count / (8 * size_t(std::max(1, threads))), 4096, kTickEvery);
}

// Blocks of B elements [0, n) that each list a number of items (count(i) for
// element i), written in place in element order: the first item id of every
// block (n_blocks + 1 prefix sums, the last the total), counted on all threads.
template <class Count>
inline std::vector<size_t> block_starts(WorkerGroup& group, size_t n, size_t B, Count&& count) {
  const size_t blocks = (n + B - 1) / B;
  std::vector<size_t> first(blocks + 1, 0);
  group.chunks(blocks, 1, [&](size_t b, size_t, int) {
    for (size_t i = b * B; i < std::min(n, (b + 1) * B); ++i) first[b + 1] += count(i);
  });
  for (size_t b = 0; b < blocks; ++b) first[b + 1] += first[b];
  return first;
}

// Where the 3-D triangle pass starts in the Distances stage: the insertion has
// [0, 0.5), the passes between them [0.5, kTrianglesFrom).
inline constexpr double kTrianglesFrom = 0.65;

// Reports `fraction` of the stage, in thousandths (a progress bar shows "650/1000").
inline void tick_at(const Tick& tick, double fraction, uint64_t held) {
  constexpr uint64_t kParts = 1000;
  tick(static_cast<uint64_t>(std::llround(fraction * kParts)), kParts, held);
}

// The progress of the passes between the Delaunay insertion and the triangle
// pass: the cells' canonical order and flat arrays, the edge index. Without it
// those passes (about 1.5 s of the 1M-point cube's run: `distances 500/1000` to
// `650/1000` of `tda-engine --algorithm alpha --progress`) ran with no report,
// no memory figure and no cancellation check. Pass p of `passes` owns an
// equal share of [0.5, kTrianglesFrom) of the stage; within it, the items its
// chunks have done (add()). report() runs on worker 0 (the caller's thread),
// between chunks.
class PassTicks {
 public:
  PassTicks(const Tick& tick, int passes) : tick_(&tick), passes_(std::max(1, passes)) {}
  // the memory the passes hold beyond what the tick counts (the triangulation, then the cells' arrays)
  void hold(uint64_t bytes) { held_ = bytes; }
  // the next pass, of `total` items
  void start(size_t total) {
    ++pass_;
    total_ = std::max<size_t>(1, total);
    done_.store(0, std::memory_order_relaxed);
    report();
  }
  void add(size_t k) { done_.fetch_add(k, std::memory_order_relaxed); }
  void report() const {
    if (pass_ < 0) return;
    const double in_pass = std::min(1.0, static_cast<double>(done_.load(std::memory_order_relaxed)) / total_);
    const double at = 0.5 + (kTrianglesFrom - 0.5) * (std::min(pass_, passes_ - 1) + in_pass) / passes_;
    tick_at(*tick_, at, held_);
  }

 private:
  const Tick* tick_;
  int passes_, pass_ = -1;
  size_t total_ = 1;
  uint64_t held_ = 0;
  std::atomic<size_t> done_{0};
};

struct FilteredComplex {
  int dim = 0;              // dimension of the triangulation: 0..3
  uint32_t nv = 0;          // vertices (all have value 0)
  Buffer<uint32_t> edge_v;  // 2 per edge
  Buffer<double> edge_val;
  Buffer<double> tri_val;      // dim >= 2
  Buffer<uint32_t> tri_edges;  // dim == 3: 3 edge ids per triangle x < y < z: [x,y], [x,z], [y,z]
  Buffer<double> tet_val;      // dim == 3
  // Facets of the top cells (edges when dim == 2, triangles when dim == 3) with
  // their two cofacets (top cell ids; kNone = the outside), by facet id; the
  // persistence pass puts them in the facets' filtration order, as top cells'
  // ranks (cofacets_by_rank).
  Buffer<uint32_t> facet_cof;

  uint64_t simplices() const { return nv + edge_val.size() + tri_val.size() + tet_val.size(); }
  uint64_t bytes() const {
    return edge_v.capacity() * 4 + edge_val.capacity() * 8 + tri_val.capacity() * 8 + tri_edges.capacity() * 4 +
           tet_val.capacity() * 8 + facet_cof.capacity() * 4;
  }
};

// ---------------------------------------------------------------------------
// Collinear points (sorted along their line): a path.
template <int D>
inline void build_path(const std::vector<double>& X, uint32_t nv, FilteredComplex& K) {
  K.dim = nv > 1 ? 1 : 0;
  K.nv = nv;
  if (nv < 2) return;
  K.edge_v.reserve(2 * (nv - 1));
  K.edge_val.reserve(nv - 1);
  for (uint32_t i = 0; i + 1 < nv; ++i) {
    K.edge_v.push_back(i);
    K.edge_v.push_back(i + 1);
    K.edge_val.push_back(edge_sq_radius<D>(&X[size_t(i) * D], &X[size_t(i + 1) * D]));
  }
}

// ---------------------------------------------------------------------------
// A 2-dimensional triangulation given by its finite triangles (3 vertex ids
// each) and neighbours (fn[3f+k] = triangle across the edge opposite vertex k,
// kNone outside). Coordinates are in R^D (D = 2, or 3 for coplanar points).
// On `threads` threads: the triangles' values, then the edges (each listed once,
// from the lower of its two triangles, in the order of the triangles: every
// block of triangles counts its edges, then all blocks write theirs in place).
template <int D>
inline void build_from_triangles(const std::vector<double>& X, uint32_t nv, const Buffer<uint32_t>& fv,
                                 const Buffer<uint32_t>& fn, FilteredComplex& K, const Tick& tick, int threads) {
  const size_t F = fv.size() / 3;
  auto P = [&](uint32_t v) { return &X[size_t(v) * D]; };
  K.dim = 2;
  K.nv = nv;
  K.tri_val.resize(F);
  WorkerGroup group(threads);
  const size_t B = block_of(F, threads);
  group.chunks(F, B, [&](size_t f0, size_t f1, int) {
    for (size_t f = f0; f < f1; ++f)
      K.tri_val[f] = triangle_sq_radius<D>(P(fv[3 * f]), P(fv[3 * f + 1]), P(fv[3 * f + 2]));
  });
  // the first edge id of each block (an edge is listed from the outside or the lower triangle)
  const std::vector<size_t> first = block_starts(group, F, B, [&](size_t f) {
    int k = 0;
    for (int i = 0; i < 3; ++i) k += fn[3 * f + i] == kNone || fn[3 * f + i] > f;
    return k;
  });
  const size_t blocks = first.size() - 1, E = first[blocks];
  K.edge_v.resize(2 * E);
  K.edge_val.resize(E);
  K.facet_cof.resize(2 * E);
  std::atomic<size_t> done{0};
  auto block = [&](size_t b, size_t, int) {
    size_t e = first[b];
    for (size_t f = b * B; f < std::min(F, (b + 1) * B); ++f)
      for (int k = 0; k < 3; ++k) {
        const uint32_t g = fn[3 * f + k];
        if (g != kNone && g < f) continue;  // the edge is listed from g
        const uint32_t u = fv[3 * f + (k + 1) % 3], v = fv[3 * f + (k + 2) % 3], w = fv[3 * f + k];
        bool attached = Predicates<D>::edge_attached(P(u), P(v), P(w));
        double cof_min = K.tri_val[f];
        if (g != kNone) {
          int kg = 0;
          while (kg < 3 && fn[3 * size_t(g) + kg] != f) ++kg;
          const uint32_t w2 = fv[3 * size_t(g) + kg];
          if (!attached) attached = Predicates<D>::edge_attached(P(u), P(v), P(w2));
          cof_min = std::min(cof_min, K.tri_val[g]);
        }
        K.edge_v[2 * e] = std::min(u, v);
        K.edge_v[2 * e + 1] = std::max(u, v);
        K.edge_val[e] = attached ? cof_min : edge_sq_radius<D>(P(u), P(v));
        K.facet_cof[2 * e] = static_cast<uint32_t>(f);
        K.facet_cof[2 * e + 1] = g;
        ++e;
      }
    done.fetch_add(1, std::memory_order_relaxed);
  };
  group.chunks(blocks, 1, block, [&] { tick(std::min(F, done.load(std::memory_order_relaxed) * B), F, 0); });
}

// ---------------------------------------------------------------------------
// A 3-dimensional triangulation given by its finite tetrahedra (4 vertex ids
// each) and neighbours (tn[4t+i] = tetrahedron across the facet opposite
// vertex i, kNone outside) and their values (cells_3d), in three passes: the
// edge index, triangles (with their edges' attachment), edge values.

// The edges of the tetrahedra: for each vertex u the sorted list of its
// neighbours v > u (CSR); the edge id is the position in that list.
struct EdgeIndex {
  std::vector<uint32_t> off;  // nv + 1 row starts
  std::vector<uint32_t> adj;  // the rows

  size_t size() const { return adj.size(); }
  // (b is in a's row: a branch-free binary search keeps [base, base + n) around it)
  uint32_t id(uint32_t a, uint32_t b) const {
    if (a > b) std::swap(a, b);
    const uint32_t* base = adj.data() + off[a];
    size_t n = off[a + 1] - off[a];
    while (n > 1) {
      const size_t half = n >> 1;
      base = base[half] <= b ? base + half : base;
      n -= half;
    }
    return static_cast<uint32_t>(base - adj.data());
  }
};

// On `threads` threads, each owning a range of rows (vertices): it counts,
// lists and deduplicates the edges whose smaller vertex is in its range, reading
// the tetrahedra up to the last that can have one (tv is ordered by first
// vertex, cells_3d: the first worker reads the fewest, the last all of them);
// the rows then move to their final places. Same ids for any number of threads.
inline EdgeIndex index_tetrahedra_edges(const Buffer<uint32_t>& tv, uint32_t nv, int threads, PassTicks& ticks) {
  const size_t T = tv.size() / 4;
  WorkerGroup group(threads);
  const int W = group.size();
  auto row_lo = [&](int w) { return static_cast<uint32_t>(uint64_t{nv} * static_cast<uint64_t>(w) / W); };
  // the tetrahedra [0, t_end[w]) have a first vertex below row_lo(w + 1)
  std::vector<size_t> t_end(static_cast<size_t>(W));
  for (int w = 0; w < W; ++w) {
    size_t lo = 0, hi = T;
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (tv[4 * mid] < row_lo(w + 1)) lo = mid + 1;
      else hi = mid;
    }
    t_end[size_t(w)] = lo;
  }
  // each worker calls f(smaller, larger) on the edges whose smaller vertex is in its rows
  auto own_edges = [&](int w, auto&& f) {
    const uint32_t lo = row_lo(w), hi = row_lo(w + 1);
    for (size_t t = 0; t < t_end[size_t(w)]; ++t) {
      const uint32_t* q = &tv[4 * t];  // ascending
      for (int i = 0; i < 3; ++i) {
        if (q[i] < lo) continue;
        if (q[i] >= hi) break;
        for (int j = i + 1; j < 4; ++j) f(q[i], q[j]);
      }
    }
  };
  std::vector<uint64_t> cnt(size_t(nv) + 1, 0);
  const auto report = [&] { ticks.report(); };
  ticks.start(1);
  group.run_polled([&](int w) { own_edges(w, [&](uint32_t a, uint32_t) { ++cnt[a + 1]; }); }, report);
  for (size_t v = 0; v < nv; ++v) cnt[v + 1] += cnt[v];
  Buffer<uint32_t> raw(cnt[nv]);
  std::vector<uint32_t> kept(nv);  // each row's distinct neighbours, sorted at the front of its slot in raw
  ticks.start(1);
  group.run_polled(
      [&](int w) {
        {
          std::vector<uint64_t> pos(cnt.begin() + row_lo(w), cnt.begin() + row_lo(w + 1));
          own_edges(w, [&](uint32_t a, uint32_t b) { raw[pos[a - row_lo(w)]++] = b; });
        }
        std::vector<uint32_t> mark(nv, kNone);  // mark[x] == v: x already kept in row v
        for (uint32_t v = row_lo(w); v < row_lo(w + 1); ++v) {
          uint64_t out = cnt[v];
          for (uint64_t k = cnt[v]; k < cnt[v + 1]; ++k) {
            const uint32_t x = raw[k];
            if (mark[x] == v) continue;
            mark[x] = v;
            raw[out++] = x;
          }
          std::sort(raw.begin() + static_cast<long>(cnt[v]), raw.begin() + static_cast<long>(out));
          kept[v] = static_cast<uint32_t>(out - cnt[v]);
        }
      },
      report);
  EdgeIndex ix;
  ix.off.resize(size_t(nv) + 1);
  ix.off[0] = 0;
  for (size_t v = 0; v < nv; ++v) ix.off[v + 1] = ix.off[v] + kept[v];
  ix.adj.resize(ix.off[nv]);
  group.chunks(nv, block_of(nv, threads), [&](size_t v0, size_t v1, int) {
    for (size_t v = v0; v < v1; ++v)
      std::copy_n(raw.begin() + static_cast<long>(cnt[v]), kept[v], ix.adj.begin() + ix.off[v]);
  });
  return ix;
}

// K.edge_v in edge id order.
inline void list_edges(const EdgeIndex& ix, uint32_t nv, FilteredComplex& K) {
  K.edge_v.resize(2 * ix.size());
  for (uint32_t u = 0; u < nv; ++u)
    for (uint32_t k = ix.off[u]; k < ix.off[u + 1]; ++k) {
      K.edge_v[2 * size_t(k)] = u;
      K.edge_v[2 * size_t(k) + 1] = ix.adj[k];
    }
}

// What the triangle pass learns about each edge, in one 64-bit word (one
// cache line to miss, not two): the least value of its cofacets (the bits of
// a double >= 0, which order like the values) and, in the top bit, whether it
// is attached to one of them. Threads update the words with relaxed atomics: a
// minimum and an "or", so the result does not depend on the order.
struct EdgeCofacets {
  static constexpr uint64_t kAttached = uint64_t{1} << 63;
  std::vector<uint64_t> word;

  explicit EdgeCofacets(size_t E = 0) : word(E, bits_of(kInf)) {}
  void lower(uint32_t e, double v) {
    const uint64_t b = bits_of(v);
    uint64_t cur = __atomic_load_n(&word[e], __ATOMIC_RELAXED);
    while ((cur & ~kAttached) > b && !__atomic_compare_exchange_n(&word[e], &cur, (cur & kAttached) | b, true,
                                                                  __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
  }
  bool attached(uint32_t e) const { return (__atomic_load_n(&word[e], __ATOMIC_RELAXED) & kAttached) != 0; }
  void attach(uint32_t e) { __atomic_fetch_or(&word[e], kAttached, __ATOMIC_RELAXED); }
  double least(uint32_t e) const { return from_bits(word[e] & ~kAttached); }
};

// The triangles tetrahedron t lists: those across a facet to the outside or to a
// later tetrahedron (each triangle is listed once, from the lower of its two).
inline int listed_triangles(const Buffer<uint32_t>& tn, size_t t) {
  int k = 0;
  for (int i = 0; i < 4; ++i) k += tn[4 * t + i] == kNone || tn[4 * t + i] > t;
  return k;
}

// The edge ids of a tetrahedron (vertices q ascending), by vertex pair: (0,1),
// (0,2), (0,3), (1,2), (1,3), (2,3).
inline void tetrahedron_edges(const EdgeIndex& ix, const uint32_t* q, uint32_t* ids) {
  int k = 0;
  for (int i = 0; i < 3; ++i)
    for (int j = i + 1; j < 4; ++j) ids[k++] = ix.id(q[i], q[j]);
}

// The position of the vertex pair (i, j), i != j, in tetrahedron_edges' list.
inline constexpr int kPairSlot[4][4] = {{-1, 0, 1, 2}, {0, -1, 3, 4}, {1, 3, -1, 5}, {2, 4, 5, -1}};
// The positions other than i, ascending: the triangle opposite vertex i.
inline constexpr int kOthers[4][3] = {{1, 2, 3}, {0, 2, 3}, {0, 1, 3}, {0, 1, 2}};

// The triangles listed by tetrahedra [t0, t1), written from triangle id f on.
// The edge ids of the tetrahedron kAhead ahead are found (their rows fetched
// 2 kAhead ahead) and their words prefetched, into a ring of kAhead + 1.
inline void triangles_of_block(const std::vector<double>& X, const Buffer<uint32_t>& tv, const Buffer<uint32_t>& tn,
                               const EdgeIndex& ix, size_t t0, size_t t1, size_t f, FilteredComplex& K,
                               EdgeCofacets& ec) {
  auto P = [&](uint32_t v) { return &X[size_t(v) * 3]; };
  constexpr size_t kAhead = 4;  // tetrahedra
  uint32_t ring[kAhead + 1][6];
  auto look_ahead = [&](size_t t) {  // t: the tetrahedron kAhead ahead
    if (t + kAhead < t1)
      for (int i = 0; i < 3; ++i) __builtin_prefetch(&ix.adj[ix.off[tv[4 * (t + kAhead) + size_t(i)]]]);
    if (t >= t1) return;
    for (int i = 0; i < 4; ++i) {
      const uint32_t g = tn[4 * t + size_t(i)];
      if (g == kNone || g < t) continue;
      __builtin_prefetch(&tn[4 * size_t(g)]);
      __builtin_prefetch(&tv[4 * size_t(g)]);
      __builtin_prefetch(&K.tet_val[g]);
    }
    uint32_t* ids = ring[(t - t0) % (kAhead + 1)];
    tetrahedron_edges(ix, &tv[4 * t], ids);
    for (int k = 0; k < 6; ++k) __builtin_prefetch(&ec.word[ids[k]]);
  };
  for (size_t t = t0; t < std::min(t1, t0 + kAhead); ++t) look_ahead(t);
  for (size_t t = t0; t < t1; ++t) {
    look_ahead(t + kAhead);
    const uint32_t* ids = ring[(t - t0) % (kAhead + 1)];
    const uint32_t* q = &tv[4 * t];
    for (int i = 0; i < 4; ++i) {
      const uint32_t g = tn[4 * t + i];
      if (g != kNone && g < t) continue;
      const int ia = (i + 1) & 3, ib = (i + 2) & 3, ic = (i + 3) & 3;
      uint32_t a = q[ia], b = q[ib], c = q[ic];
      const uint32_t w = q[i];
      bool attached = Predicates<3>::triangle_attached(P(a), P(b), P(c), P(w));
      double cof_min = K.tet_val[t];
      if (g != kNone) {
        int ig = 0;
        while (ig < 4 && tn[4 * size_t(g) + ig] != t) ++ig;
        const uint32_t w2 = tv[4 * size_t(g) + ig];
        if (!attached) attached = Predicates<3>::triangle_attached(P(a), P(b), P(c), P(w2));
        cof_min = std::min(cof_min, K.tet_val[g]);
      }
      const double val = attached ? cof_min : triangle_sq_radius<3>(P(a), P(b), P(c));
      K.tri_val[f] = val;
      K.facet_cof[2 * f] = static_cast<uint32_t>(t);
      K.facet_cof[2 * f + 1] = g;
      // the three edges as [x,y], [x,z], [y,z] (x < y < z), each with the
      // opposite vertex of this triangle (the edge updates do not depend on
      // their order, and the attachment test not on its edge's orientation)
      const int* o = kOthers[i];
      const int ev[3][3] = {{o[0], o[1], o[2]}, {o[0], o[2], o[1]}, {o[1], o[2], o[0]}};
      for (int k = 0; k < 3; ++k) {
        const uint32_t e = ids[kPairSlot[ev[k][0]][ev[k][1]]];
        K.tri_edges[3 * f + k] = e;
        ec.lower(e, val);
        if (!ec.attached(e) && Predicates<3>::edge_attached(P(q[ev[k][0]]), P(q[ev[k][1]]), P(q[ev[k][2]])))
          ec.attach(e);
      }
      ++f;
    }
  }
}

// The triangles (each listed once, from the lower of its two tetrahedra, in
// the order of the tetrahedra) with their values, edges and cofacets, on
// `threads` threads over blocks of tetrahedra: the progress of this half of the stage.
inline EdgeCofacets triangles_from_tetrahedra(const std::vector<double>& X, const Buffer<uint32_t>& tv,
                                              const Buffer<uint32_t>& tn, const EdgeIndex& ix, FilteredComplex& K,
                                              const Tick& tick, int threads) {
  const size_t T = tv.size() / 4;
  EdgeCofacets ec(ix.size());
  const size_t B = block_of(T, threads);
  WorkerGroup group(threads);
  // the first triangle id of each block
  const std::vector<size_t> first = block_starts(group, T, B, [&](size_t t) { return listed_triangles(tn, t); });
  const size_t blocks = first.size() - 1, F = first[blocks];
  K.tri_val.resize(F);
  K.tri_edges.resize(3 * F);
  K.facet_cof.resize(2 * F);
  std::atomic<size_t> done{0};
  group.chunks(
      blocks, 1,
      [&](size_t b, size_t, int) {
        triangles_of_block(X, tv, tn, ix, b * B, std::min(T, (b + 1) * B), first[b], K, ec);
        done.fetch_add(1, std::memory_order_relaxed);
      },
      [&] { tick(std::min(T, done.load(std::memory_order_relaxed) * B), T, 0); });
  return ec;
}

// An edge's value: its least cofacet's if attached, else its own radius.
inline void edge_values(const std::vector<double>& X, const EdgeCofacets& ec, FilteredComplex& K, int threads) {
  auto P = [&](uint32_t v) { return &X[size_t(v) * 3]; };
  const size_t E = ec.word.size();
  K.edge_val.resize(E);
  WorkerGroup(threads).chunks(E, block_of(E, threads), [&](size_t e0, size_t e1, int) {
    for (size_t e = e0; e < e1; ++e)
      K.edge_val[e] = ec.attached(static_cast<uint32_t>(e))
                          ? ec.least(static_cast<uint32_t>(e))
                          : edge_sq_radius<3>(P(K.edge_v[2 * e]), P(K.edge_v[2 * e + 1]));
  });
}

// tv and tn are released on return (the edge index already before, once the
// triangles are listed).
inline void build_from_tetrahedra(const std::vector<double>& X, uint32_t nv, Buffer<uint32_t>& tv, Buffer<uint32_t>& tn,
                                  FilteredComplex& K, const Tick& tick, int threads, PassTicks& ticks,
                                  StepClock* clock = nullptr) {
  K.dim = 3;
  K.nv = nv;
  EdgeCofacets ec;
  ticks.hold((tv.size() + tn.size()) * sizeof(uint32_t));
  {
    const EdgeIndex ix = index_tetrahedra_edges(tv, nv, threads, ticks);
    list_edges(ix, nv, K);
    lap(clock, "edge_index");
    ec = triangles_from_tetrahedra(X, tv, tn, ix, K, tick, threads);
  }
  tv.clear();
  tv.shrink_to_fit();
  tn.clear();
  tn.shrink_to_fit();
  lap(clock, "triangles");
  edge_values(X, ec, K, threads);
  lap(clock, "edge_values");
}

// ---------------------------------------------------------------------------
// Delaunay triangulations (CGAL). X holds distinct points; on return it is
// permuted into CGAL's (spatially coherent) vertex order.

// The builders' progress as the second half of the stage.
inline Tick second_half(const Tick& tick) {
  return [&tick](uint64_t done, uint64_t total, uint64_t held) { tick(total + done, 2 * total, held); };
}

// The triangle pass's progress as the stage's last part, [kTrianglesFrom, 1].
inline Tick triangles_part(const Tick& tick) {
  return [&tick](uint64_t done, uint64_t total, uint64_t held) {
    tick_at(tick, kTrianglesFrom + (1 - kTrianglesFrom) * static_cast<double>(done) / std::max<uint64_t>(total, 1),
            held);
  };
}

// Inserts pts (spatially sorted first) in chunks, ticking between chunks.
// held(): the triangulation's memory so far (cells and vertices).
template <class DT, class Pairs, class SortTraits, class Held>
inline void insert_in_chunks(DT& dt, Pairs& pts, const SortTraits& traits, const Tick& tick, Held&& held) {
  CGAL::spatial_sort(pts.begin(), pts.end(), traits);
  const size_t n = pts.size();
  const uint64_t pts_bytes = pts.capacity() * sizeof(pts[0]);
  typename DT::Face_handle hint;
  for (size_t a = 0; a < n; a += kTickEvery) {
    // first half of the stage: insertion (the next chunk is charged ahead at the
    // triangulation's size per point so far)
    const uint64_t now = held();
    const uint64_t per_point = a ? now / a : 0;
    tick(a, 2 * n, pts_bytes + now + per_point * std::min<size_t>(kTickEvery, n - a));
    // one by one from the last vertex (CGAL's range insertion would sort the chunk again)
    for (size_t i = a; i < std::min(n, a + kTickEvery); ++i) {
      const auto v = dt.insert(pts[i].first, hint);
      v->info() = pts[i].second;
      hint = v->face();
    }
  }
  tick(n, 2 * n, pts_bytes + held());
}

inline void delaunay_2d(std::vector<double>& X, uint32_t nv, FilteredComplex& K, const Tick& tick, int threads = 1,
                        StepClock* clock = nullptr) {
  using Vb = CGAL::Triangulation_vertex_base_with_info_2<uint32_t, Kernel>;
  using Fb = CGAL::Triangulation_face_base_with_info_2<uint32_t, Kernel>;
  using Tds = CGAL::Triangulation_data_structure_2<Vb, Fb>;
  using DT = CGAL::Delaunay_triangulation_2<Kernel, Tds>;
  Buffer<uint32_t> fv, fn;
  {
    DT dt;
    {
      std::vector<std::pair<Point2, uint32_t>> pts(nv);
      for (uint32_t i = 0; i < nv; ++i) pts[i] = {Point2(X[2 * size_t(i)], X[2 * size_t(i) + 1]), i};
      using Pmap = CGAL::First_of_pair_property_map<std::pair<Point2, uint32_t>>;
      insert_in_chunks(dt, pts, CGAL::Spatial_sort_traits_adapter_2<Kernel, Pmap>(), tick, [&] {
        return uint64_t{dt.tds().number_of_faces()} * sizeof(typename Tds::Face) +
               uint64_t{dt.tds().number_of_vertices()} * sizeof(typename Tds::Vertex);
      });
    }
    lap(clock, "insertion");   // (the spatial sort included)
    if (dt.dimension() < 2) {  // all points on a line (X is sorted lexicographically)
      build_path<2>(X, nv, K);
      lap(clock, "path");
      return;
    }
    std::vector<double> Y(X.size());
    uint32_t id = 0;
    for (auto v = dt.finite_vertices_begin(); v != dt.finite_vertices_end(); ++v) {
      const uint32_t old = v->info();
      Y[2 * size_t(id)] = X[2 * size_t(old)];
      Y[2 * size_t(id) + 1] = X[2 * size_t(old) + 1];
      v->info() = id++;
    }
    X.swap(Y);
    uint32_t F = 0;
    for (auto f = dt.all_faces_begin(); f != dt.all_faces_end(); ++f) f->info() = dt.is_infinite(f) ? kNone : F++;
    fv.resize(3 * size_t(F));
    fn.resize(3 * size_t(F));
    for (auto f = dt.finite_faces_begin(); f != dt.finite_faces_end(); ++f) {
      const size_t i = f->info();
      for (int k = 0; k < 3; ++k) {
        fv[3 * i + k] = f->vertex(k)->info();
        fn[3 * i + k] = f->neighbor(k)->info();
      }
    }
  }
  lap(clock, "cells");  // (the triangulation freed included)
  build_from_triangles<2>(X, nv, fv, fn, K, second_half(tick), threads);
  lap(clock, "faces");
}

// Delaunay triangulation types in R^3: sequential, and (with TBB) CGAL's
// parallel insertion (Parallel_tag data structure, a lock grid over the bounding box).
using Vb3 = CGAL::Triangulation_vertex_base_with_info_3<uint32_t, Kernel>;
using Cb3 =
    CGAL::Triangulation_cell_base_with_info_3<uint32_t, Kernel, CGAL::Delaunay_triangulation_cell_base_3<Kernel>>;
using Dt3Serial = CGAL::Delaunay_triangulation_3<Kernel, CGAL::Triangulation_data_structure_3<Vb3, Cb3>>;
#ifdef CGAL_LINKED_WITH_TBB
using Dt3Parallel =
    CGAL::Delaunay_triangulation_3<Kernel, CGAL::Triangulation_data_structure_3<Vb3, Cb3, CGAL::Parallel_tag>>;
inline constexpr bool kParallelDelaunay = true;
#else
inline constexpr bool kParallelDelaunay = false;
#endif

// A cell's vertex ids, ascending (kNone after the last of a triangle's).
struct CellKey {
  uint32_t v[4];
  bool operator<(const CellKey& o) const { return std::lexicographical_compare(v, v + 4, o.v, o.v + 4); }
};

// The finite cells of dt with their keys, ordered by key, each cell's info
// set to its position (kNone for the infinite cells); nvert: vertices a cell.
template <class DT>
inline Buffer<std::pair<CellKey, typename DT::Cell_handle>> canonical_cells(DT& dt, uint32_t nv, int nvert,
                                                                            WorkerGroup& group, PassTicks& ticks) {
  using Cell = typename DT::Cell_handle;
  const auto inf = dt.infinite_vertex();
  std::vector<Cell> handles;
  handles.reserve(dt.tds().number_of_cells());
  for (auto c = dt.tds().raw_cells_begin(); c != dt.tds().raw_cells_end(); ++c) handles.push_back(c);
  const size_t H = handles.size();
  const int threads = group.size();
  // each cell's key (kNone first: infinite), and how many finite cells each vertex is the smallest of
  Buffer<CellKey> keys(H);
  std::vector<uint32_t> first(size_t(nv) + 1, 0);
  const auto report = [&] { ticks.report(); };
  ticks.start(H);
  group.chunks(
      H, block_of(H, threads),
      [&](size_t h0, size_t h1, int) {
        constexpr size_t kAhead = 8;  // cells: their vertices are prefetched this far ahead
        for (size_t h = h0; h < h1; ++h) {
          if (h + 2 * kAhead < h1) __builtin_prefetch(&*handles[h + 2 * kAhead]);
          if (h + kAhead < h1)
            for (int i = 0; i < nvert; ++i) __builtin_prefetch(&*handles[h + kAhead]->vertex(i));
          const Cell c = handles[h];
          CellKey& k = keys[h];
          k = CellKey{{kNone, kNone, kNone, kNone}};
          bool finite = true;
          for (int i = 0; i < nvert && finite; ++i) {
            if (c->vertex(i) == inf) finite = false;
            else k.v[i] = c->vertex(i)->info();
          }
          if (!finite) {
            c->info() = kNone;
            k.v[0] = kNone;
            continue;
          }
          for (int i = 1; i < nvert; ++i)  // (insertion sort of at most 4 ids)
            for (int j = i; j > 0 && k.v[j - 1] > k.v[j]; --j) std::swap(k.v[j - 1], k.v[j]);
          __atomic_fetch_add(&first[k.v[0] + 1], 1u, __ATOMIC_RELAXED);
        }
        ticks.add(h1 - h0);
      },
      report);
  // by smallest vertex (a counting sort; within a vertex the order is the
  // schedule's until the sort by the whole tuple below), then by the rest of the tuple
  for (size_t v = 0; v < nv; ++v) first[v + 1] += first[v];
  Buffer<std::pair<CellKey, Cell>> sorted(first[nv]);
  {
    std::vector<uint32_t> fill(first.begin(), first.end() - 1);
    ticks.start(H);
    group.chunks(
        H, block_of(H, threads),
        [&](size_t h0, size_t h1, int) {
          for (size_t h = h0; h < h1; ++h)
            if (keys[h].v[0] != kNone)
              sorted[__atomic_fetch_add(&fill[keys[h].v[0]], 1u, __ATOMIC_RELAXED)] = {keys[h], handles[h]};
          ticks.add(h1 - h0);
        },
        report);
  }
  release_vector(keys);
  release_vector(handles);
  ticks.start(nv);
  group.chunks(
      nv, block_of(nv, threads),
      [&](size_t v0, size_t v1, int) {
        for (size_t v = v0; v < v1; ++v)
          std::sort(sorted.begin() + first[v], sorted.begin() + first[v + 1],
                    [](const auto& a, const auto& b) { return a.first < b.first; });
        ticks.add(v1 - v0);
      },
      report);
  group.chunks(sorted.size(), block_of(sorted.size(), threads), [&](size_t i0, size_t i1, int) {
    for (size_t i = i0; i < i1; ++i) sorted[i].second->info() = static_cast<uint32_t>(i);
  });
  return sorted;
}

// The cells of a 3-D triangulation (vertex infos = vertex ids) as flat arrays,
// canonically: each cell's vertices ascending (neighbours permuted alike), cells
// ordered by their vertex tuples. The Delaunay triangulation is unique (CGAL's
// symbolic perturbation does not depend on the insertion order), so the arrays,
// hence every value computed from them, are the same for any thread count or
// insertion schedule. Vertices are in spatial order, so neighbouring cells get
// nearby ids and the later passes touch memory mostly locally.
//
// With tet_val (dim 3), the tetrahedra's values (squared circumradii of the
// points X) are computed in the same pass, while each cell's vertices are at hand.
template <class DT>
inline void cells_3d(DT& dt, uint32_t nv, int dim, Buffer<uint32_t>& tv, Buffer<uint32_t>& tn, int threads,
                     const std::vector<double>& X, Buffer<double>* tet_val, PassTicks& ticks) {
  // In dimension 2 the cells of the data structure are the triangles (vertex 3
  // unused); in dimension 3 they are the tetrahedra.
  const int nvert = dim + 1;
  WorkerGroup group(threads);
  ticks.hold(uint64_t{dt.tds().number_of_cells()} * sizeof(typename DT::Cell) +
             uint64_t{dt.tds().number_of_vertices()} * sizeof(typename DT::Vertex));
  const auto sorted = canonical_cells(dt, nv, nvert, group, ticks);
  const uint32_t C = static_cast<uint32_t>(sorted.size());
  tv.resize(size_t(nvert) * C);
  tn.resize(size_t(nvert) * C);
  if (nvert != 4) tet_val = nullptr;
  if (tet_val) tet_val->resize(C);
  auto P = [&](uint32_t v) { return &X[size_t(v) * 3]; };
  ticks.start(C);
  group.chunks(
      C, block_of(C, threads),
      [&](size_t i0, size_t i1, int) {
        constexpr size_t kAhead = 8;  // cells: their neighbours and vertices are prefetched this far ahead
        for (size_t i = i0; i < i1; ++i) {
          if (i + 2 * kAhead < i1) __builtin_prefetch(&*sorted[i + 2 * kAhead].second);
          if (i + kAhead < i1)
            for (int j = 0; j < nvert; ++j) {
              __builtin_prefetch(&*sorted[i + kAhead].second->neighbor(j));
              __builtin_prefetch(&*sorted[i + kAhead].second->vertex(j));
            }
          const auto c = sorted[i].second;
          uint32_t vid[4], nid[4];
          for (int j = 0; j < nvert; ++j) {
            vid[j] = c->vertex(j)->info();
            nid[j] = c->neighbor(j)->info();
          }
          const uint32_t* q = sorted[i].first.v;
          for (int k = 0; k < nvert; ++k) {
            tv[nvert * i + k] = q[k];
            // the neighbour opposite the vertex sorted into position k
            for (int j = 0; j < nvert; ++j)
              if (vid[j] == q[k]) tn[nvert * i + k] = nid[j];
          }
          if (tet_val) (*tet_val)[i] = tetra_sq_radius(P(q[0]), P(q[1]), P(q[2]), P(q[3]));
        }
        ticks.add(i1 - i0);
      },
      [&] { ticks.report(); });
}

#ifdef CGAL_LINKED_WITH_TBB
// A TBB task arena of the job's threads (at most the machine's).
inline tbb::task_arena job_arena(int threads) {
  return tbb::task_arena(std::min(threads, tbb::this_task_arena::max_concurrency()));
}

// Points [b, e) into CGAL's parallel triangulation by a TBB loop doing what its
// range insertion does after sorting (each thread inserts from its last vertex,
// under CGAL's locks, retrying while they are taken), without that copy and
// second sort: the points are in spatial order already.
template <class DT, class It>
inline void insert_locked(DT& dt, It b, It e, tbb::enumerable_thread_specific<typename DT::Vertex_handle>& hints) {
  tbb::parallel_for(tbb::blocked_range<size_t>(0, static_cast<size_t>(e - b)),
                    [&](const tbb::blocked_range<size_t>& r) {
                      typename DT::Vertex_handle& hint = hints.local();
                      for (size_t k = r.begin(); k != r.end(); ++k) {
                        const auto& p = b[static_cast<long>(k)];
                        for (;;) {
                          if (dt.try_lock_vertex(hint) && dt.try_lock_point(p.first)) {
                            bool locked = false;
                            const auto v = dt.insert(p.first, hint, &locked);
                            dt.unlock_all_elements();
                            if (locked) {
                              v->info() = p.second;
                              hint = v;
                              break;
                            }
                          } else {
                            dt.unlock_all_elements();
                          }
                        }
                      }
                    });
}
#endif

// Inserts the points (already in spatial order, info = their index) in chunks,
// ticking between chunks: one by one from the last vertex, and with TBB and
// threads > 1 (the parallel data structure), once the triangulation is
// 3-dimensional, each chunk in parallel inside a task arena of that many threads.
template <class DT, class Pairs>
inline void insert_sorted(DT& dt, const Pairs& pts, const Tick& tick, int threads) {
  const size_t n = pts.size();
  typename DT::Vertex_handle hint;
  constexpr bool parallel_ds =
      std::is_same_v<typename DT::Triangulation_data_structure::Concurrency_tag, CGAL::Parallel_tag>;
  const bool parallel = parallel_ds && kParallelDelaunay && threads > 1;
  // in parallel, the first points go one by one until 100 of them span the space
  auto in_parallel = [&](size_t a) { return parallel && a >= 100 && dt.dimension() == 3; };
#ifdef CGAL_LINKED_WITH_TBB
  std::optional<tbb::task_arena> arena;
  std::optional<tbb::enumerable_thread_specific<typename DT::Vertex_handle>> hints;
#endif
  for (size_t a = 0; a < n;) {
    // first half of the stage: insertion (held: the triangulation so far, for the memory guard)
    tick(a, 2 * n,
         uint64_t{dt.tds().number_of_cells()} * sizeof(typename DT::Cell) +
             uint64_t{dt.tds().number_of_vertices()} * sizeof(typename DT::Vertex) + pts.capacity() * sizeof(pts[0]));
    const size_t end = std::min(n, a + kTickEvery);
#ifdef CGAL_LINKED_WITH_TBB
    if constexpr (parallel_ds) {
      if (in_parallel(a)) {
        if (!arena) {
          arena.emplace(job_arena(threads));
          hints.emplace(hint);
        }
        const auto b = pts.begin() + static_cast<long>(a), e = pts.begin() + static_cast<long>(end);
        arena->execute([&] { insert_locked(dt, b, e, *hints); });
        a = end;
        continue;
      }
    }
#endif
    // one by one from the last vertex (CGAL's range insertion would sort the points again)
    for (; a < end && !in_parallel(a); ++a) {
      hint = dt.insert(pts[a].first, hint);
      hint->info() = pts[a].second;
    }
  }
}

// The points of X as (point, id) pairs in CGAL's spatial (Hilbert) order, ids
// being the positions in that order; X is permuted alike.
inline std::vector<std::pair<Point3, uint32_t>> spatially_sorted_3d(std::vector<double>& X, uint32_t nv, int threads) {
  std::vector<std::pair<Point3, uint32_t>> pts(nv);
  for (uint32_t i = 0; i < nv; ++i) pts[i] = {Point3(X[3 * size_t(i)], X[3 * size_t(i) + 1], X[3 * size_t(i) + 2]), i};
  using Pmap = CGAL::First_of_pair_property_map<std::pair<Point3, uint32_t>>;
  const CGAL::Spatial_sort_traits_adapter_3<Kernel, Pmap> traits;
#ifdef CGAL_LINKED_WITH_TBB
  // (the parallel sort makes the same splits, so the same order: only its recursion is split over threads)
  if (threads > 1)
    job_arena(threads).execute([&] { CGAL::spatial_sort<CGAL::Parallel_tag>(pts.begin(), pts.end(), traits); });
  else
#endif
    CGAL::spatial_sort(pts.begin(), pts.end(), traits);
  std::vector<double> Y(X.size());
  for (uint32_t r = 0; r < nv; ++r) {
    for (int j = 0; j < 3; ++j) Y[3 * size_t(r) + j] = X[3 * size_t(pts[r].second) + j];
    pts[r].second = r;
  }
  X.swap(Y);
  return pts;
}

// Triangulates X (distinct points, any order): on return X is in spatial order
// and tv/tn hold the cells, with the tetrahedra's values in tet_val
// (cells_3d); returns the triangulation's dimension.
template <class DT, class... LockArgs>
inline int triangulate_3d(std::vector<double>& X, uint32_t nv, Buffer<uint32_t>& tv, Buffer<uint32_t>& tn,
                          Buffer<double>& tet_val, const Tick& tick, PassTicks& ticks, StepClock* clock, int threads,
                          LockArgs*... lock) {
  DT dt(Kernel(), lock...);
  {
    const auto pts = spatially_sorted_3d(X, nv, threads);
    lap(clock, "spatial_sort");
    insert_sorted(dt, pts, tick, threads);
  }
  lap(clock, "insertion");
  const int dim = dt.dimension();
  if (dim >= 2) cells_3d(dt, nv, dim, tv, tn, threads, X, &tet_val, ticks);
  lap(clock, "cells");
  return dim;
}

// threads > 1 uses CGAL's parallel insertion when built with TBB (kParallelDelaunay).
inline void delaunay_3d(std::vector<double>& X, uint32_t nv, FilteredComplex& K, const Tick& tick, int threads = 1,
                        StepClock* clock = nullptr) {
  Buffer<uint32_t> tv, tn;
  int dim = 0;
  // the passes between the insertion and the triangles: the canonical cells'
  // keys, their placing and their sort (3), the flat arrays (1), the edge index (2)
  PassTicks ticks(tick, 6);
  {
#ifdef CGAL_LINKED_WITH_TBB
    if (threads > 1 && nv >= 1000) {
      double lo[3], hi[3];
      for (int j = 0; j < 3; ++j) lo[j] = hi[j] = X[j];
      for (size_t i = 0; i < nv; ++i)
        for (int j = 0; j < 3; ++j) {
          lo[j] = std::min(lo[j], X[3 * i + j]);
          hi[j] = std::max(hi[j], X[3 * i + j]);
        }
      typename Dt3Parallel::Lock_data_structure locks(CGAL::Bbox_3(lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]), 50);
      dim = triangulate_3d<Dt3Parallel>(X, nv, tv, tn, K.tet_val, tick, ticks, clock, threads, &locks);
    } else
#endif
    {
      dim = triangulate_3d<Dt3Serial>(X, nv, tv, tn, K.tet_val, tick, ticks, clock, 1);
    }
    if (dim < 2) {  // collinear: back to lexicographic order, the order along the line
      std::vector<std::array<double, 3>> P(nv);
      for (size_t i = 0; i < nv; ++i) P[i] = {X[3 * i], X[3 * i + 1], X[3 * i + 2]};
      std::sort(P.begin(), P.end());
      for (size_t i = 0; i < nv; ++i)
        for (int j = 0; j < 3; ++j) X[3 * i + j] = P[i][j];
      build_path<3>(X, nv, K);
      lap(clock, "path");
      return;
    }
  }
  lap(clock, "triangulation_freed");
  if (dim == 2) {
    build_from_triangles<3>(X, nv, tv, tn, K, second_half(tick), threads);
    lap(clock, "faces");
  } else {
    build_from_tetrahedra(X, nv, tv, tn, K, triangles_part(tick), threads, ticks, clock);
  }
}

}  // namespace tda::core::alpha_detail
