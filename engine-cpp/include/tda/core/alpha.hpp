// Alpha-complex persistent homology of point clouds in R^2 and R^3.
//
// Pipeline:
//  1. validate; merge duplicate points (lexicographic sort);
//  2. Delaunay triangulation (CGAL, exact predicates) and the alpha value of
//     every Delaunay simplex (alpha_complex.hpp; values are squared radii as in
//     GUDHI, accurate to ~1e-13 relative, exact rational fallback for flat simplices);
//  3. filtration order: (value, dimension, id) -- equal values put faces first
//     because they have lower dimension;
//  4. persistence over Z/p (default Z/2; GUDHI's default is Z/11). Dimensions
//     0 and d-1 do not depend on the field; dimension 1 in R^3 can (the
//     homology groups are torsion-free, but a map between them need not be:
//     think of a Moebius band filling in, doubling its boundary circle):
//       - dimension 0: union-find over the edges (Kruskal);
//       - dimension d-1 (top): union-find over the top cells and the outside,
//         facets in reverse order (Alexander duality; a facet merging two dual
//         components creates the (d-1)-class killed by the younger component's
//         last cell, a non-merging facet is negative);
//       - dimension 1 when d = 3: column reduction of the boundary matrix with
//         clearing (only the negative triangles found in the dual pass are
//         columns) and compression (rows of negative edges, found by Kruskal,
//         are dropped); columns are sorted edge ranks, the pivot of an edge
//         rank is found in a flat array.
// Zero-length bars (death == birth) are not reported.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <vector>

#include "tda/core/alpha_complex.hpp"
#include "tda/core/parallel.hpp"
#include "tda/core/persistence.hpp"  // Interval, Stage, ProgressInfo, Callbacks, Estimate
#include "tda/core/types.hpp"

namespace tda::core {

struct AlphaOptions {
  int max_dim = -1;     // -1: ambient dimension - 1
  bool radius = false;  // report radii (sqrt of the squared radii)
  // Keep simplices whose value is <= max_alpha, in the reported unit (squared
  // radius, or radius when `radius` is set).
  std::optional<double> max_alpha;
  // Coefficients in Z/p (a prime <= 251). Only dimension 1 in R^3 can depend on
  // it (e.g. a Moebius band in the filtration); GUDHI's default field is Z/11.
  int modulus = 2;
  // Threads of the Delaunay triangulation in R^3 (CGAL's parallel insertion when
  // built with TBB; the diagram is the same for every count).
  int threads = 1;
};

struct AlphaStats {
  uint64_t points = 0;             // input points
  uint64_t simplices = 0;          // simplices of the Delaunay complex (before max_alpha)
  uint64_t duplicates_merged = 0;  // input points equal to an earlier one
  uint64_t columns_reduced = 0;    // columns of the explicit matrix reduction (dimension 1 in R^3)
  // the wall time of the pipeline's steps, in order (alpha_detail::StepClock)
  std::vector<std::pair<const char*, double>> steps;
};

struct AlphaResult {
  std::vector<std::vector<Interval>> diagrams;  // index = dimension, 0..max_dim
  std::vector<uint64_t> betti;                  // essential bars per dimension
  AlphaStats stats;
};

inline constexpr double kAlphaMaxCoordinate = 1e150;

// Rough resources for n points in R^dim: peak RSS and single-core time measured
// on samples of surfaces (a torus in R^3: ~70 Delaunay simplices per point),
// the heavy common case; uniform clouds (~29 simplices per point) need ~40% of
// it. Degenerate inputs with a quadratic Delaunay triangulation (points on
// curves, e.g. a helix) can need far more.
inline Estimate estimate_alpha(uint64_t n, uint32_t dim) {
  if (dim < kAlphaMinDim || dim > kAlphaMaxDim) throw InvalidInput("alpha: dim must be 2 or 3");
  if (n < 1) throw InvalidInput("alpha: at least one point is required");
  if (n > kAlphaMaxPoints) throw InvalidInput("alpha: too many points");
  const double per_point_bytes = dim == 2 ? 450.0 : 3000.0;
  // (R^3: ~6.7 tetrahedra per point of a uniform cloud at kAlphaSecondsPerTetrahedron)
  const double per_point_seconds = dim == 2 ? 2.0e-6 : 1.2e-5;
  Estimate e;
  e.memory_bytes = static_cast<uint64_t>(16.0 * 1024 * 1024 + per_point_bytes * static_cast<double>(n));
  e.seconds = 0.01 + per_point_seconds * static_cast<double>(n);
  return e;
}

namespace alpha_detail {

// Puts v[s, e) (values >= 0 whose bits are equal in their high 32) with
// ids[s, e) (ascending) in (value, id) order.
inline void sort_run(double* v, uint32_t* ids, size_t s, size_t e) {
  if (e - s <= 16) {  // insertion sort: stable, so ties keep id order
    for (size_t i = s + 1; i < e; ++i) {
      const double k = v[i];
      const uint32_t id = ids[i];
      size_t j = i;
      for (; j > s && v[j - 1] > k; --j) {
        v[j] = v[j - 1];
        ids[j] = ids[j - 1];
      }
      v[j] = k;
      ids[j] = id;
    }
    return;
  }
  std::vector<std::pair<double, uint32_t>> run(e - s);
  for (size_t i = s; i < e; ++i) run[i - s] = {v[i], ids[i]};
  std::sort(run.begin(), run.end());
  for (size_t i = s; i < e; ++i) std::tie(v[i], ids[i]) = run[i - s];
}

// Ids 0..val.size()-1 sorted by (value, id), their values in that order to
// sorted. Values are >= 0 (or +inf), so their bit patterns order like the
// values. An LSD radix sort (stable, 16-bit digits, both digits' counts taken
// in one pass) of (the value's high 32 bits, id) packed in 64 bits: half the
// bytes and half the passes of sorting whole values with their ids. Then the
// values are read by id (ahead of use) into sorted and each run of equal high
// bits (values at most 2^-20 apart relatively: a few ids, unless many values are
// equal, as on a lattice) is put in (value, id) order. The work arrays are
// left uninitialised (each pass writes them in full) and the values go to
// sorted as they are read: no zeroing or copy passes.
template <class Values>
inline std::vector<uint32_t> sort_by_value(const Values& val, std::vector<double>& sorted) {
  const size_t n = val.size();
  Buffer<uint64_t> keys(n);
  std::vector<size_t> count(2 << 16, 0);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t hi = bits_of(val[i]) >> 32;
    keys[i] = hi << 32 | i;
    ++count[hi & 0xffff];
    ++count[(size_t{1} << 16) + (hi >> 16)];
  }
  {
    Buffer<uint64_t> tmp(n);
    for (int pass = 0; pass < 2; ++pass) {
      const int shift = 32 + 16 * pass;
      size_t* c = &count[size_t(pass) << 16];
      // a digit all keys share leaves the order as it is
      if (n && c[(keys[0] >> shift) & 0xffff] == n) continue;
      size_t sum = 0;
      for (size_t d = 0; d < (size_t{1} << 16); ++d) {
        const size_t x = c[d];
        c[d] = sum;
        sum += x;
      }
      for (const uint64_t k : keys) tmp[c[(k >> shift) & 0xffff]++] = k;
      keys.swap(tmp);
    }
  }
  constexpr size_t kReadAhead = 16;
  std::vector<uint32_t> order(n);
  sorted.clear();
  sorted.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (i + kReadAhead < n) __builtin_prefetch(&val[static_cast<uint32_t>(keys[i + kReadAhead])]);
    order[i] = static_cast<uint32_t>(keys[i]);
    sorted.push_back(val[order[i]]);
  }
  release_vector(keys);
  auto high = [&](size_t i) { return bits_of(sorted[i]) >> 32; };
  for (size_t s = 0; s < n;) {
    size_t e = s + 1;
    while (e < n && high(e) == high(s)) ++e;
    if (e - s > 1) sort_run(sorted.data(), order.data(), s, e);
    s = e;
  }
  return order;
}

class Progress {
 public:
  explicit Progress(const Callbacks& cb) : cb_(cb) {}
  void check() const {
    if (cb_.is_cancelled && cb_.is_cancelled()) throw Cancelled();
  }
  void report(Stage stage, int dim, uint64_t done, uint64_t total, uint64_t bytes) const {
    if (cb_.on_progress) cb_.on_progress(ProgressInfo{stage, dim, done, total, bytes});
  }
  // (bytes: the memory held now, charged to the memory guard)
  void step(Stage stage, int dim, uint64_t done, uint64_t total, uint64_t bytes) const {
    check();
    charge(cb_, MemoryBudget::kAlpha, bytes);
    report(stage, dim, done, total, bytes);
  }

 private:
  const Callbacks& cb_;
};

// Disjoint sets with path halving; link(child, root) puts child's set under
// root (the dual union-find always links the smaller rank under the larger, so
// there a set's root is its largest rank).
class KeyedSets {
 public:
  explicit KeyedSets(size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), uint32_t{0}); }
  uint32_t find(uint32_t x) {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }
  void link(uint32_t child, uint32_t root) { parent_[child] = root; }
  void prefetch(uint32_t x) const { __builtin_prefetch(&parent_[x]); }

 private:
  std::vector<uint32_t> parent_;
};

struct Emitter {
  int max_dim;
  std::optional<double> max_sq;  // threshold on squared radii
  bool keep(double v) const { return !max_sq || v <= *max_sq; }
  std::vector<std::vector<Interval>>* diagrams;
  void bar(int d, double birth, double death) const { bar_to((*diagrams)[d], d, birth, death); }
  // The same into a list of one's own (appended to the diagram later, in order).
  void bar_to(std::vector<Interval>& to, int d, double birth, double death) const {
    if (d > max_dim || !keep(birth)) return;
    if (!keep(death)) death = kInf;
    if (death > birth) to.push_back(Interval{birth, death});
  }
};

// A negative triangle's column before any reduction: the ranks of its positive
// edges, ascending, with their coefficients in the boundary (over Z/2 all 1).
// Edges are oriented from the smaller to the larger vertex id; the boundary of a
// triangle x < y < z is [y,z] - [x,z] + [x,y].
struct TriColumn {
  uint32_t rank[3];
  uint8_t coef[3];
  uint8_t len;
};

inline TriColumn tri_column(const FilteredComplex& K, uint32_t t, const std::vector<uint8_t>& neg_edge,
                            const std::vector<uint32_t>& edge_rank, uint32_t p) {
  const uint32_t* te = &K.tri_edges[3 * size_t(t)];  // [x,y], [x,z], [y,z]
  TriColumn c{};
  for (int k = 0; k < 3; ++k) {
    if (neg_edge[te[k]]) continue;
    uint32_t r = edge_rank[te[k]];
    uint8_t f = static_cast<uint8_t>(k == 1 ? p - 1 : 1);
    int j = c.len++;
    for (; j > 0 && c.rank[j - 1] > r; --j) {  // insertion by rank
      c.rank[j] = c.rank[j - 1];
      c.coef[j] = c.coef[j - 1];
    }
    c.rank[j] = r;
    c.coef[j] = f;
  }
  return c;
}

// The reductions visit the triangles in filtration order, which is random in
// memory. So their columns are gathered in that order in blocks (all of them
// into one array first on one thread, tri_columns; each chunk by the worker that
// takes it on more), with the data of the triangle kAhead positions ahead (its
// edges' flags and ranks) and of 2 kAhead ahead (its edges)
// prefetched: the loads overlap instead of stalling one by one.
inline constexpr size_t kAhead = 16;

// The columns [begin, end) of the negative triangles of ranks neg_ranks
// (ascending) into out[0, end - begin).
struct ColumnSource {
  const FilteredComplex& K;
  const std::vector<uint32_t>& tri_order;
  const std::vector<uint32_t>& neg_ranks;
  const std::vector<uint8_t>& neg_edge;
  const std::vector<uint32_t>& edge_rank;
  uint32_t p;

  size_t size() const { return neg_ranks.size(); }
  void gather(size_t begin, size_t end, TriColumn* out) const {
    auto edges_of = [&](size_t j) { return &K.tri_edges[3 * size_t(tri_order[neg_ranks[j]])]; };
    for (size_t j = begin; j < end; ++j) {
      if (j + 2 * kAhead < end) __builtin_prefetch(edges_of(j + 2 * kAhead));
      if (j + kAhead < end) {
        const uint32_t* te = edges_of(j + kAhead);
        for (int k = 0; k < 3; ++k) {
          __builtin_prefetch(&neg_edge[te[k]]);
          __builtin_prefetch(&edge_rank[te[k]]);
        }
      }
      out[j - begin] = tri_column(K, tri_order[neg_ranks[j]], neg_edge, edge_rank, p);
    }
  }
};

// All the columns (one thread; poll() between blocks).
template <class Poll>
inline std::vector<TriColumn> tri_columns(const ColumnSource& src, Poll&& poll) {
  std::vector<TriColumn> cols(src.size());
  WorkerGroup(1).chunks(
      cols.size(), block_of(cols.size(), 1),
      [&](size_t begin, size_t end, int) { src.gather(begin, end, cols.data() + begin); }, poll);
  return cols;
}

inline constexpr uint32_t kNoColumn = ~uint32_t{0};

// Where the next stored column starts in a pool (the pivot table holds 32-bit
// offsets: half the memory, and half the cache misses, of 64-bit ones).
template <class Entry>
inline uint32_t pool_offset(const std::vector<Entry>& pool) {
  if (pool.size() >= kNoColumn) throw std::length_error("alpha: the reduction outgrew its 32-bit pivot table");
  return static_cast<uint32_t>(pool.size());
}

// The coefficient fields of the dimension-1 reduction. A column is a list of
// entries ascending by edge rank; its last entry is the pivot. head(n) is the
// entry that stores a column's length in front of it in a pool.
//
// Z/2: an entry is an edge rank.
struct Z2Field {
  using Entry = uint32_t;
  static uint32_t rank(Entry e) { return e; }
  static Entry head(uint32_t n) { return n; }
  void init(const TriColumn& c, std::vector<Entry>& work) const { work.assign(c.rank, c.rank + c.len); }
  // work += y[0, n) (a stored column with work's pivot): the symmetric
  // difference of the sorted lists, through tmp
  void add(std::vector<Entry>& work, const Entry* y, size_t n, std::vector<Entry>& tmp) const {
    tmp.clear();
    const Entry* ye = y + n;
    size_t i = 0;
    while (i < work.size() && y < ye) {
      if (work[i] < *y) tmp.push_back(work[i++]);
      else if (*y < work[i]) tmp.push_back(*y++);
      else {
        ++i;
        ++y;
      }
    }
    tmp.insert(tmp.end(), work.begin() + static_cast<long>(i), work.end());
    tmp.insert(tmp.end(), y, ye);
    work.swap(tmp);
  }
  // work as stored, to out[0, work.size())
  void store(const std::vector<Entry>& work, Entry* out) const { std::copy(work.begin(), work.end(), out); }
};

// An entry of a column over Z/p: an edge rank and its coefficient.
struct ZpEntry {
  uint32_t rank;
  uint32_t coef;
};

// Z/p (p an odd prime): stored columns are normalised to pivot coefficient 1;
// products come from a table (row f: f * c mod p), no division in the loops.
class ZpField {
 public:
  using Entry = ZpEntry;
  explicit ZpField(uint32_t p) : p_(p), inv_(p, 0), mul_(size_t(p) * p) {
    for (uint32_t a = 1; a < p; ++a)
      for (uint32_t b = 1; b < p; ++b)
        if (a * b % p == 1) inv_[a] = b;
    for (uint32_t a = 0; a < p; ++a)
      for (uint32_t b = 0; b < p; ++b) mul_[size_t(a) * p + b] = static_cast<uint8_t>(a * b % p);
  }
  static uint32_t rank(const Entry& e) { return e.rank; }
  static Entry head(uint32_t n) { return Entry{n, 0}; }
  void init(const TriColumn& c, std::vector<Entry>& work) const {
    work.clear();
    for (int k = 0; k < c.len; ++k) work.push_back(Entry{c.rank[k], c.coef[k]});
  }
  // work -= f * y[0, n) (y's pivot coefficient is 1, f work's), through tmp
  void add(std::vector<Entry>& work, const Entry* y, size_t n, std::vector<Entry>& tmp) const {
    const uint8_t* mf = &mul_[size_t(p_ - work.back().coef) * p_];
    tmp.clear();
    const Entry* ye = y + n;
    size_t i = 0;
    while (i < work.size() && y < ye) {
      if (work[i].rank < y->rank) {
        tmp.push_back(work[i++]);
      } else if (y->rank < work[i].rank) {
        tmp.push_back(Entry{y->rank, mf[y->coef]});
        ++y;
      } else {
        uint32_t v = work[i].coef + mf[y->coef];
        if (v >= p_) v -= p_;
        if (v) tmp.push_back(Entry{y->rank, v});
        ++i;
        ++y;
      }
    }
    tmp.insert(tmp.end(), work.begin() + static_cast<long>(i), work.end());
    for (; y < ye; ++y) tmp.push_back(Entry{y->rank, mf[y->coef]});
    work.swap(tmp);
  }
  // work normalised to pivot coefficient 1, to out[0, work.size())
  void store(const std::vector<Entry>& work, Entry* out) const {
    const uint8_t* ms = &mul_[size_t(inv_[work.back().coef]) * p_];
    for (size_t i = 0; i < work.size(); ++i) out[i] = Entry{work[i].rank, ms[work[i].coef]};
  }

 private:
  uint32_t p_;
  std::vector<uint32_t> inv_;
  std::vector<uint8_t> mul_;
};

// The reductions' lookups of the pivot kAhead columns ahead (the pivot table's
// entry) and kAhead / 2 ahead (the stored column it points to), prefetched.
template <class Entry>
__attribute__((always_inline)) inline void prefetch_pivots(const std::vector<TriColumn>& cols,
                                                           const std::vector<uint32_t>& at,
                                                           const std::vector<Entry>& pool, size_t j) {
  const size_t M = cols.size();
  if (j + kAhead < M) {
    const TriColumn& c = cols[j + kAhead];
    if (c.len) __builtin_prefetch(&at[c.rank[c.len - 1]]);
  }
  if (j + kAhead / 2 < M) {
    const TriColumn& c = cols[j + kAhead / 2];
    if (c.len && at[c.rank[c.len - 1]] != kNoColumn) __builtin_prefetch(pool.data() + at[c.rank[c.len - 1]]);
  }
}

// Dimension 1 in R^3 on one thread: columns = the negative triangles in
// filtration order (clearing), entries = their positive edges (compression);
// the reduced columns are stored in one flat pool, the column owning a pivot
// rank is found in a flat array: at[p] (one per edge rank, kNoColumn on entry)
// is where the column with pivot rank p starts in the pool (its length, then
// its entries), so a lookup touches the pool right away.
template <class Field, class OnColumn, class OnPivot>
inline void reduce_dim1(const Field& field, const std::vector<TriColumn>& cols, std::vector<uint32_t>& at,
                        OnColumn&& on_column, OnPivot&& on_pivot) {
  using Entry = typename Field::Entry;
  std::vector<Entry> pool;
  pool.reserve(4 * cols.size());
  std::vector<Entry> work, tmp;
  for (size_t j = 0; j < cols.size(); ++j) {
    prefetch_pivots(cols, at, pool, j);
    on_column(j, pool.capacity() * sizeof(Entry));
    field.init(cols[j], work);
    while (!work.empty()) {
      const uint32_t p = Field::rank(work.back());
      const uint32_t c = at[p];
      if (c == kNoColumn) {
        at[p] = pool_offset(pool);
        pool.push_back(Field::head(static_cast<uint32_t>(work.size())));
        pool.resize(pool.size() + work.size());
        field.store(work, pool.data() + pool.size() - work.size());
        on_pivot(j, p);
        break;
      }
      field.add(work, pool.data() + c + 1, Field::rank(pool[c]), tmp);
    }
  }
}

// A worker's published records (the lock-free reduction below) in blocks that
// never move; alignas: the workers' arenas, side by side, share no cache line.
template <class Entry>
class alignas(64) RecordArena {
 public:
  explicit RecordArena(std::atomic<uint64_t>* held) : held_(held) {}
  static constexpr size_t kHead = 2;  // words in front of the entries: length, column
  static constexpr size_t kWords = sizeof(Entry) / sizeof(uint32_t);
  static_assert(sizeof(Entry) % sizeof(uint32_t) == 0 && alignof(Entry) <= alignof(uint32_t));

  // room for a record of n entries (the last one taken until undo())
  uint32_t* take(size_t n) {
    const size_t words = kHead + n * kWords;
    if (blocks_.empty() || used_ + words > size_) {
      size_ = std::max(kBlockWords, words);
      blocks_.emplace_back(new uint32_t[size_]);  // (not zeroed: every record is written before it is read)
      held_->fetch_add(size_ * sizeof(uint32_t), std::memory_order_relaxed);
      used_ = 0;
    }
    uint32_t* r = blocks_.back().get() + used_;
    used_ += words;
    last_ = words;
    return r;
  }
  void undo() { used_ -= last_; }
  static const Entry* entries(const uint32_t* r) { return reinterpret_cast<const Entry*>(r + kHead); }
  static Entry* entries(uint32_t* r) { return reinterpret_cast<Entry*>(r + kHead); }

 private:
  static constexpr size_t kBlockWords = size_t{1} << 18;
  std::atomic<uint64_t>* held_;
  std::vector<std::unique_ptr<uint32_t[]>> blocks_;
  size_t size_ = 0, used_ = 0, last_ = 0;
};

// Dimension 1 in R^3 on `threads` threads, lock-free (after Morozov and
// Nigmetov): workers take the columns in chunks, in order. A reduced column is
// published as an immutable record (its length, its column, its entries) in
// the worker's arena, and owns pivot rank p when table[p] points to it. A
// worker whose column's pivot is owned by an earlier column adds that record;
// when it is free or owned by a later column, it publishes its column and
// swaps it in (compare-and-swap); a column it displaces it then reduces further
// from that column's record. A record never changes, so its pivot is always
// the rank it is found under. The pairs are those of the serial reduction (they
// do not depend on the order of the additions); on return at[p] is the column
// owning p (kNoColumn if none), and on_pivot(j, p) has been called in column
// order. poll(done, bytes) runs on worker 0 between its chunks: the columns
// done, the memory held (table and arenas).
template <class Field, class Source, class OnPivot, class Poll>
inline void reduce_dim1_concurrent(const Field& field, const Source& src, std::vector<uint32_t>& at, OnPivot&& on_pivot,
                                   int threads, Poll&& poll) {
  using Entry = typename Field::Entry;
  using Arena = RecordArena<Entry>;
  const size_t E = at.size(), M = src.size();
  std::unique_ptr<std::atomic<const uint32_t*>[]> table(new std::atomic<const uint32_t*>[E]);
  WorkerGroup group(threads);
  group.chunks(E, size_t{1} << 16, [&](size_t b, size_t e, int) {
    for (size_t i = b; i < e; ++i) table[i].store(nullptr, std::memory_order_relaxed);
  });
  std::atomic<uint64_t> held{E * sizeof(table[0])}, done{0};
  std::vector<Arena> arenas;
  for (int w = 0; w < group.size(); ++w) arenas.emplace_back(&held);
  constexpr size_t kChunk = 1024;
  group.chunks(
      M, kChunk,
      [&](size_t b, size_t e, int w) {
        Arena& arena = arenas[static_cast<size_t>(w)];
        std::vector<Entry> work, tmp;
        TriColumn cols[kChunk];  // this chunk's columns, gathered here: cols[j - b] is column j
        src.gather(b, e, cols);
        auto pivot_slot = [&](size_t j) -> std::atomic<const uint32_t*>* {
          const TriColumn& c = cols[j - b];
          return c.len ? &table[c.rank[c.len - 1]] : nullptr;
        };
        for (size_t j = b; j < e; ++j) {
          if (j + kAhead < e)
            if (auto* s = pivot_slot(j + kAhead)) __builtin_prefetch(s);
          if (j + kAhead / 2 < e)
            if (auto* s = pivot_slot(j + kAhead / 2))
              if (const uint32_t* r = s->load(std::memory_order_relaxed)) __builtin_prefetch(r);
          field.init(cols[j - b], work);
          uint32_t col = static_cast<uint32_t>(j);
          while (!work.empty()) {
            std::atomic<const uint32_t*>& slot = table[Field::rank(work.back())];
            const uint32_t* owner = slot.load(std::memory_order_acquire);
            if (owner && owner[1] < col) {
              field.add(work, Arena::entries(owner), owner[0], tmp);
              continue;
            }
            uint32_t* mine = arena.take(work.size());
            mine[0] = static_cast<uint32_t>(work.size());
            mine[1] = col;
            field.store(work, Arena::entries(mine));
            if (!slot.compare_exchange_strong(owner, mine, std::memory_order_acq_rel, std::memory_order_acquire)) {
              arena.undo();  // taken meanwhile: look again
              continue;
            }
            if (!owner) break;
            // the displaced later column goes on from its record
            col = owner[1];
            work.assign(Arena::entries(owner), Arena::entries(owner) + owner[0]);
          }
        }
        done.fetch_add(e - b, std::memory_order_relaxed);
      },
      [&] { poll(done.load(std::memory_order_relaxed), held.load(std::memory_order_relaxed)); });
  std::vector<uint32_t> owner_of(M, kNoColumn);
  for (size_t p = 0; p < E; ++p)
    if (const uint32_t* r = table[p].load(std::memory_order_relaxed)) {
      at[p] = r[1];
      owner_of[r[1]] = static_cast<uint32_t>(p);
    }
  for (size_t j = 0; j < M; ++j)
    if (owner_of[j] != kNoColumn) on_pivot(j, owner_of[j]);
}

// Dimension 0: Kruskal over the edges in filtration order (edge_order, their
// values edge_sorted). Returns the negative edges (those merging two components).
// progress: null when it runs beside the dual pass (which reports then); it
// stops early, its result unused, once that pass failed (cancelled) in `beside`.
inline std::vector<uint8_t> dim0_kruskal(const FilteredComplex& K, const std::vector<uint32_t>& edge_order,
                                         const std::vector<double>& edge_sorted, const Emitter& out,
                                         const Progress* progress, const WorkerGroup* beside = nullptr) {
  const uint32_t nv = K.nv;
  const size_t E = edge_order.size();
  std::vector<uint8_t> neg_edge(E, 0);
  KeyedSets uf(nv);
  uint32_t components = nv;
  for (size_t i = 0; i < E; ++i) {
    if ((i & 0xfffff) == 0 && beside && beside->failed()) return neg_edge;
    // two stages ahead: the edge's vertices, then their sets
    if (i + 2 * kAhead < E) __builtin_prefetch(&K.edge_v[2 * size_t(edge_order[i + 2 * kAhead])]);
    if (i + kAhead < E) {
      const uint32_t* ev = &K.edge_v[2 * size_t(edge_order[i + kAhead])];
      uf.prefetch(ev[0]);
      uf.prefetch(ev[1]);
    }
    const uint32_t e = edge_order[i];
    const double v = edge_sorted[i];
    if (!out.keep(v)) break;
    uint32_t a = uf.find(K.edge_v[2 * size_t(e)]), b = uf.find(K.edge_v[2 * size_t(e) + 1]);
    if (a == b) continue;
    uf.link(a, b);
    neg_edge[e] = 1;
    --components;
    out.bar(0, 0.0, v);
    if (progress && (i & 0xfffff) == 0xfffff) progress->step(Stage::Dim0, 0, i, E, K.bytes());
  }
  for (uint32_t c = 0; c < components; ++c) out.bar(0, 0.0, kInf);
  return neg_edge;
}

// The inverse of a filtration order: rank[order[r]] = r, for r < order.size(),
// on `threads` threads (in order reads, random writes).
inline void invert_order(const std::vector<uint32_t>& order, uint32_t* rank, int threads = 1) {
  const size_t n = order.size();
  WorkerGroup(threads).chunks(n, block_of(n, threads), [&](size_t b, size_t e, int) {
    for (size_t r = b; r < e; ++r) rank[order[r]] = static_cast<uint32_t>(r);
  });
}

// The top cells' ranks for the dual union-find: rank_of[c] = the rank of top
// cell c, rank_of[NT] = NT for the outside; their values by rank go to
// top_sorted. Releases top_val.
inline std::vector<uint32_t> top_ranks(Buffer<double>& top_val, std::vector<double>& top_sorted) {
  const size_t NT = top_val.size();
  std::vector<uint32_t> top_order = sort_by_value(top_val, top_sorted);
  release_vector(top_val);
  std::vector<uint32_t> rank_of(NT + 1);
  invert_order(top_order, rank_of.data());
  rank_of[NT] = static_cast<uint32_t>(NT);
  return rank_of;
}

// K.facet_cof in the facets' filtration order (pair r: the cofacets of facet
// facet_order[r]), with the top cells' ranks in place of their ids (the
// outside, kNone, becomes NT = rank_of[NT]). The dual union-find then reads its
// pairs in sequence and compares ranks directly, and its sets, visited in about
// filtration order, lie near each other in memory. Both passes here read in
// order and write at random (each facet's rank, then its pair at that rank), on
// all threads: the random reads leave the union-find's serial loop.
inline void cofacets_by_rank(FilteredComplex& K, const std::vector<uint32_t>& rank_of,
                             const std::vector<uint32_t>& facet_order, int threads) {
  const size_t NF = facet_order.size();
  const uint32_t NT = static_cast<uint32_t>(rank_of.size() - 1);
  Buffer<uint32_t> facet_rank(NF);
  invert_order(facet_order, facet_rank.data(), threads);
  Buffer<uint32_t> by_rank(2 * NF);
  WorkerGroup(threads).chunks(NF, block_of(NF, threads), [&](size_t b, size_t e, int) {
    for (size_t f = b; f < e; ++f) {
      const size_t r = facet_rank[f];
      const uint32_t c0 = K.facet_cof[2 * f], c1 = K.facet_cof[2 * f + 1];
      by_rank[2 * r] = rank_of[c0 == kNone ? NT : c0];
      by_rank[2 * r + 1] = rank_of[c1 == kNone ? NT : c1];
    }
  });
  K.facet_cof.swap(by_rank);
}

// The top dimension d - 1 (d = K.dim, 2 or 3): union-find on the dual graph
// (the top cells by rank and the outside, NT), facets in reverse filtration
// order (their cofacets' ranks in K.facet_cof by facet rank: cofacets_by_rank;
// their values facet_sorted; top_sorted: the top cells' values by rank). When
// d = 3, lists the ranks of the negative facets (triangles) in neg_ranks,
// ascending. Releases K.facet_cof.
inline void dual_union_find(FilteredComplex& K, const std::vector<double>& facet_sorted,
                            const std::vector<double>& top_sorted, std::vector<uint32_t>& neg_ranks, const Emitter& out,
                            const Progress& progress, uint64_t reduction_total) {
  const int top = K.dim;  // 2 or 3
  const size_t NF = facet_sorted.size();
  const uint32_t NT = static_cast<uint32_t>(top_sorted.size());
  KeyedSets uf(NT + 1);
  for (size_t i = NF; i-- > 0;) {
    if (i >= kAhead) {  // the sets of the facet kAhead ahead
      uf.prefetch(K.facet_cof[2 * (i - kAhead)]);
      uf.prefetch(K.facet_cof[2 * (i - kAhead) + 1]);
    }
    if ((i & 0xfffff) == 0) progress.step(Stage::Reduction, 1, NF - i, reduction_total, K.bytes());
    const uint32_t c0 = K.facet_cof[2 * i], c1 = K.facet_cof[2 * i + 1];
    uint32_t a = uf.find(c0), b = uf.find(c1);
    if (a == b) {
      if (top == 3) neg_ranks.push_back(static_cast<uint32_t>(i));
      continue;
    }
    if (a > b) std::swap(a, b);  // a: the younger set (a root is its set's largest rank)
    const double death = top_sorted[a];
    out.bar(top - 1, facet_sorted[i], death);
    uf.link(a, b);
  }
  std::reverse(neg_ranks.begin(), neg_ranks.end());
  release_vector(K.facet_cof);
}

// The top dimension on one thread: the top cells' ranks, the facets' order, the
// union-find. When d = 3 the triangles are sorted here: sets tri_sorted (their
// values by rank) and returns them in filtration order; when d = 2 the facets
// are the edges, sorted already (edge_order, borrowed and given back). Releases
// the top cells' and triangles' values and K.facet_cof.
inline std::vector<uint32_t> top_dual_pass(FilteredComplex& K, std::vector<uint32_t>& edge_order,
                                           const std::vector<double>& edge_sorted, std::vector<uint32_t>& neg_ranks,
                                           std::vector<double>& tri_sorted, const Emitter& out,
                                           const Progress& progress, uint64_t reduction_total) {
  const int top = K.dim;  // 2 or 3
  // Progress of the reduction stage: one counter over both passes (the dual
  // pass, which yields dimension d-1, then the dimension-1 columns in R^3),
  // reported as dimension 1 so that the fraction only grows.
  progress.step(Stage::Reduction, 1, 0, reduction_total, K.bytes());
  std::vector<double> top_sorted;
  const std::vector<uint32_t> rank_of = top_ranks(top == 2 ? K.tri_val : K.tet_val, top_sorted);
  std::vector<uint32_t> facet_order;
  if (top == 2) {
    facet_order = std::move(edge_order);
  } else {
    facet_order = sort_by_value(K.tri_val, tri_sorted);
    release_vector(K.tri_val);
  }
  cofacets_by_rank(K, rank_of, facet_order, 1);
  dual_union_find(K, top == 2 ? edge_sorted : tri_sorted, top_sorted, neg_ranks, out, progress, reduction_total);
  if (top == 2) {
    edge_order = std::move(facet_order);
    return {};
  }
  return facet_order;
}

// What the edges' pass leaves for dimension 1: the edges in filtration order,
// their values, their ranks, and which ones are negative (Kruskal).
struct EdgePass {
  std::vector<uint32_t> order;
  std::vector<double> sorted;
  std::vector<uint32_t> rank;  // (dimension 1 in R^3 only)
  std::vector<uint8_t> neg;
};

// Kruskal (progress: as for dim0_kruskal) over the sorted edges; with_rank also
// inverts the order.
inline void edge_kruskal(const FilteredComplex& K, EdgePass& ep, const Emitter& out, const Progress* progress,
                         bool with_rank, const WorkerGroup* beside = nullptr) {
  ep.neg = dim0_kruskal(K, ep.order, ep.sorted, out, progress, beside);
  if (with_rank) {
    ep.rank.resize(ep.order.size());
    invert_order(ep.order, ep.rank.data());
  }
}

// Dimension 1 in R^3: reduce the negative triangles (ranks neg_ranks into
// tri_order, values tri_sorted; NF triangles) over the positive edges, then
// report the positive edges never killed (only possible below a max_alpha).
// Returns the number of columns reduced.
inline uint64_t dim1_in_r3(const FilteredComplex& K, const EdgePass& ep, const std::vector<uint32_t>& tri_order,
                           const std::vector<double>& tri_sorted, std::vector<uint32_t>& neg_ranks, size_t NF,
                           const Emitter& out, int modulus, int threads, const Progress& progress,
                           uint64_t reduction_total, StepClock* clock) {
  const size_t E = ep.order.size();
  while (!neg_ranks.empty() && !out.keep(tri_sorted[neg_ranks.back()])) neg_ranks.pop_back();
  const ColumnSource src{K, tri_order, neg_ranks, ep.neg, ep.rank, static_cast<uint32_t>(modulus)};
  const size_t M = src.size();
  // on one thread the columns are gathered first; on more, each worker gathers
  // the chunk it takes
  std::vector<TriColumn> cols;
  if (threads <= 1) cols = tri_columns(src, [&] { progress.check(); });
  const uint64_t cols_bytes = cols.capacity() * sizeof(TriColumn) + neg_ranks.capacity() * 4;
  // the bars are written after the reduction, in its order, from piv_of (the
  // pivot rank of each column): their births are read ahead there, not one miss
  // at a time inside the reduction
  std::vector<uint32_t> piv_of(M, kNoColumn);
  std::vector<uint32_t> at(E, kNoColumn);
  auto on_pivot = [&](size_t j, uint32_t p) { piv_of[j] = p; };
  const uint64_t fixed_bytes = K.bytes() + cols_bytes + (piv_of.capacity() + at.capacity()) * 4;
  auto on_column = [&](size_t j, uint64_t pool_bytes) {
    if ((j & 0x3ffff) == 0x3ffff)
      progress.step(Stage::Reduction, 1, NF + neg_ranks[j], reduction_total, fixed_bytes + pool_bytes);
  };
  auto reduce = [&](const auto& field) {
    if (threads <= 1) return reduce_dim1(field, cols, at, on_column, on_pivot);
    size_t reported = 0;  // (a step every 2^18 columns, as on one thread; a check between)
    reduce_dim1_concurrent(field, src, at, on_pivot, threads, [&](size_t done, uint64_t bytes) {
      if (done >> 18 == reported >> 18 || done == 0) return progress.check();
      reported = done;
      progress.step(Stage::Reduction, 1, NF + neg_ranks[done - 1], reduction_total, fixed_bytes + bytes);
    });
  };
  if (modulus == 2) reduce(Z2Field{});
  else reduce(ZpField(static_cast<uint32_t>(modulus)));
  lap(clock, "dim1_reduction");
  // The bars, on up to two threads, each into a list of its own, appended in
  // this order: the columns' (in column order), then the positive edges no
  // column killed (at[r]: a column with pivot r; in rank order).
  std::vector<Interval> killed, never;
  auto column_bars = [&] {
    for (size_t j = 0; j < piv_of.size(); ++j) {
      if (j + kAhead < piv_of.size() && piv_of[j + kAhead] != kNoColumn)
        __builtin_prefetch(&ep.sorted[piv_of[j + kAhead]]);
      if (piv_of[j] != kNoColumn) out.bar_to(killed, 1, ep.sorted[piv_of[j]], tri_sorted[neg_ranks[j]]);
    }
  };
  auto edge_bars = [&] {
    for (size_t r = 0; r < E; ++r) {
      if (!out.keep(ep.sorted[r])) break;
      if (!ep.neg[ep.order[r]] && at[r] == kNoColumn) out.bar_to(never, 1, ep.sorted[r], kInf);
    }
  };
  WorkerGroup group(std::min(threads, 2));
  group.run([&](int w) {
    if (w == 0) column_bars();
    if (w == 1 || group.size() == 1) edge_bars();
  });
  std::vector<Interval>& d1 = (*out.diagrams)[1];
  if (d1.empty()) d1.swap(killed);
  else d1.insert(d1.end(), killed.begin(), killed.end());
  d1.insert(d1.end(), never.begin(), never.end());
  lap(clock, "dim1_bars");
  return M;
}

// Dimension 0 and the top dimension d - 1 (d = K.dim, 2 or 3) on two threads,
// in two rounds of two tasks of about equal size: in R^3 (sort the triangles |
// sort the tetrahedra and the edges), in R^2 (sort the edges | sort the
// triangles); then (the dual union-find | Kruskal). The tasks share only K's
// read-only parts (in R^2 also the edges' order, the facets of both passes) and
// write different diagrams; the union-find reports progress.
inline void dims_0_and_top_on_two_threads(FilteredComplex& K, EdgePass& ep, std::vector<uint32_t>& tri_order,
                                          std::vector<double>& tri_sorted, std::vector<uint32_t>& neg_ranks,
                                          const Emitter& out, const Progress& progress, uint64_t reduction_total,
                                          bool with_rank, StepClock* clock) {
  const bool r3 = K.dim == 3;
  progress.step(Stage::Reduction, 1, 0, reduction_total, K.bytes());
  std::vector<double> top_sorted;
  std::vector<uint32_t> rank_of;
  WorkerGroup group(2);
  auto poll = [&] { progress.check(); };
  group.run_polled(
      [&](int w) {
        if (w == 0 && r3) {
          tri_order = sort_by_value(K.tri_val, tri_sorted);
        } else if (w == 0) {
          ep.order = sort_by_value(K.edge_val, ep.sorted);
        } else if (r3) {
          rank_of = top_ranks(K.tet_val, top_sorted);
          ep.order = sort_by_value(K.edge_val, ep.sorted);
        } else {
          rank_of = top_ranks(K.tri_val, top_sorted);
        }
      },
      poll);
  release_vector(K.tri_val);
  release_vector(K.edge_val);
  lap(clock, "sorts");
  cofacets_by_rank(K, rank_of, r3 ? tri_order : ep.order, 2);
  release_vector(rank_of);
  lap(clock, "cofacets");
  const std::vector<double>& facet_sorted = r3 ? tri_sorted : ep.sorted;
  group.run_polled(
      [&](int w) {
        if (w == 0) dual_union_find(K, facet_sorted, top_sorted, neg_ranks, out, progress, reduction_total);
        else edge_kruskal(K, ep, out, nullptr, with_rank, &group);
      },
      poll);
  lap(clock, "union_finds");
}

// Persistence of the filtered complex. Returns the number of columns reduced.
// The values are read in filtration order from sorted copies (sort_by_value);
// K's per-id value arrays are released once sorted.
inline uint64_t persistence(FilteredComplex& K, const Emitter& out, int modulus, int threads, const Progress& progress,
                            StepClock* clock = nullptr) {
  const size_t E = K.edge_val.size();
  progress.step(Stage::Dim0, 0, 0, E, K.bytes());
  const bool r3 = K.dim == 3 && out.max_dim >= 1;
  EdgePass ep;
  std::vector<uint32_t> tri_order, neg_ranks;
  std::vector<double> tri_sorted;                       // triangle values by rank (R^3)
  const size_t NF = K.dim == 2 ? E : K.tri_val.size();  // the top dimension's facets
  const uint64_t reduction_total = r3 ? 2 * uint64_t(NF) : NF;
  if (K.dim >= 2 && threads > 1) {
    dims_0_and_top_on_two_threads(K, ep, tri_order, tri_sorted, neg_ranks, out, progress, reduction_total, r3, clock);
  } else {
    ep.order = sort_by_value(K.edge_val, ep.sorted);
    release_vector(K.edge_val);
    edge_kruskal(K, ep, out, &progress, r3);
    lap(clock, "dim0");
    if (K.dim < 2) return 0;
    tri_order = top_dual_pass(K, ep.order, ep.sorted, neg_ranks, tri_sorted, out, progress, reduction_total);
    lap(clock, "top_dimension");
  }
  release_vector(K.edge_v);  // (Kruskal's; dimension 1 reads the triangles' edges by rank)
  if (r3)
    return dim1_in_r3(K, ep, tri_order, tri_sorted, neg_ranks, NF, out, modulus, threads, progress, reduction_total,
                      clock);
  return 0;
}

inline void validate(const std::vector<double>& coords, size_t n, size_t dim, const AlphaOptions& opt) {
  if (dim < kAlphaMinDim || dim > kAlphaMaxDim)
    throw InvalidInput("alpha: the ambient dimension must be 2 or 3 (got " + std::to_string(dim) + ")");
  if (n < 1) throw InvalidInput("alpha: at least one point is required");
  if (n > kAlphaMaxPoints) throw InvalidInput("alpha: too many points (at most 2^28)");
  if (coords.size() != n * dim)
    throw InvalidInput("alpha: expected " + std::to_string(n * dim) + " coordinates, got " +
                       std::to_string(coords.size()));
  for (double x : coords) {
    if (!std::isfinite(x)) throw InvalidInput("alpha: coordinates must be finite");
    // squared radii must stay finite doubles
    if (std::fabs(x) > kAlphaMaxCoordinate)
      throw InvalidInput("alpha: coordinates must be at most 1e150 in absolute value");
  }
  if (opt.max_dim < -1 || opt.max_dim > 64) throw InvalidInput("alpha: max_dim must be between -1 and 64");
  if (opt.max_alpha && std::isnan(*opt.max_alpha)) throw InvalidInput("alpha: max_alpha is NaN");
  if (opt.threads < 1 || opt.threads > 4096) throw InvalidInput("alpha: threads must be between 1 and 4096");
  if (opt.modulus > kMaxModulus || !is_prime(opt.modulus))
    throw InvalidInput("alpha: modulus must be a prime between 2 and " + std::to_string(kMaxModulus));
}

// Distinct points sorted lexicographically; returns the number of duplicates.
// The sort runs over (first coordinate, index) pairs, side by side in memory, and
// reads the other coordinates only on equal first ones (sorting bare indices,
// whose comparator read both points' coordinates, took 0.17-0.25 s on the 1M
// cube at 2 threads, this 0.12 s: `duplicates=` of --stats).
template <int D>
inline uint64_t distinct_points(const std::vector<double>& coords, size_t n, std::vector<double>& X, int threads) {
  const auto P = [&](uint32_t i) { return &coords[size_t(i) * D]; };
  auto same = [&](uint32_t a, uint32_t b) {
    for (int i = 0; i < D; ++i)
      if (P(a)[i] != P(b)[i]) return false;
    return true;
  };
  std::vector<std::pair<double, uint32_t>> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = {coords[i * D], static_cast<uint32_t>(i)};
  // a strict total order (coordinates, then equal points by index), so the parallel sort's result is fixed
  auto before = [&](const std::pair<double, uint32_t>& a, const std::pair<double, uint32_t>& b) {
    if (a.first != b.first) return a.first < b.first;
    for (int i = 1; i < D; ++i)
      if (P(a.second)[i] != P(b.second)[i]) return P(a.second)[i] < P(b.second)[i];
    return a.second < b.second;
  };
  parallel_sort(order, before, threads);
  X.clear();
  X.reserve(n * D);
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t id = order[i].second;
    if (i > 0 && same(order[i - 1].second, id)) continue;  // equal to the previous one
    X.insert(X.end(), P(id), P(id) + D);
    ++kept;
  }
  return n - kept;
}

}  // namespace alpha_detail

inline AlphaResult alpha_from_points(const std::vector<double>& coords, size_t n, size_t dim, const AlphaOptions& opt,
                                     const Callbacks& cb = {}) {
  using namespace alpha_detail;
  validate(coords, n, dim, opt);
  const Progress progress(cb);
  charge(cb, MemoryBudget::kInput, coords.size() * 8);
  progress.step(Stage::Loading, 0, 0, n, coords.size() * 8);

  AlphaResult res;
  res.stats.points = n;
  const int max_dim = opt.max_dim < 0 ? static_cast<int>(dim) - 1 : opt.max_dim;
  res.diagrams.assign(size_t(max_dim) + 1, {});
  res.betti.assign(size_t(max_dim) + 1, 0);

  StepClock clock;
  std::vector<double> X;
  res.stats.duplicates_merged =
      dim == 2 ? distinct_points<2>(coords, n, X, opt.threads) : distinct_points<3>(coords, n, X, opt.threads);
  const uint32_t nv = static_cast<uint32_t>(n - res.stats.duplicates_merged);
  clock.lap("duplicates");
  progress.step(Stage::Distances, 0, 0, 1, X.capacity() * 8 + n * 4);

  FilteredComplex K;
  // Delaunay insertion ticks with (points inserted, n), the builders with
  // their own counters: both map onto the Distances stage
  const Tick tick = [&](uint64_t done, uint64_t total, uint64_t held) {
    progress.step(Stage::Distances, 0, done, total, K.bytes() + X.capacity() * 8 + held);
  };
  if (dim == 2) delaunay_2d(X, nv, K, tick, opt.threads, &clock);
  else delaunay_3d(X, nv, K, tick, opt.threads, &clock);
  X.clear();
  X.shrink_to_fit();
  res.stats.simplices = K.simplices();
  progress.step(Stage::Distances, 0, 1, 1, K.bytes());  // Delaunay complex and alpha values done

  Emitter out;
  out.max_dim = max_dim;
  if (opt.max_alpha) {
    // compare in the reported unit: sqrt(v) <= a  <=>  v <= a^2 up to rounding;
    // use the largest squared value whose square root is <= a
    double a = *opt.max_alpha;
    if (!opt.radius) {
      out.max_sq = a;
    } else if (a < 0) {
      out.max_sq = -1.0;
    } else {
      double s = a * a;
      while (std::sqrt(s) > a) s = std::nextafter(s, 0.0);
      while (std::sqrt(std::nextafter(s, kInf)) <= a && std::isfinite(std::nextafter(s, kInf)))
        s = std::nextafter(s, kInf);
      out.max_sq = s;
    }
  }
  out.diagrams = &res.diagrams;
  res.stats.columns_reduced = persistence(K, out, opt.modulus, opt.threads, progress, &clock);

  for (size_t d = 0; d < res.diagrams.size(); ++d) {
    for (Interval& I : res.diagrams[d]) {
      if (std::isinf(I.death)) ++res.betti[d];
      if (opt.radius) {
        I.birth = std::sqrt(I.birth);
        I.death = std::sqrt(I.death);
      }
    }
  }
  clock.lap("output");  // (the radii, when asked for)
  res.stats.steps = clock.steps();
  progress.report(Stage::Done, max_dim, 1, 1, 0);
  return res;
}

// ---------------------------------------------------------------------------
// Data-following Alpha estimate (admission once the input is there).
//
// estimate_alpha assumes a surface-like cloud. A Delaunay triangulation in R^2 is
// linear (at most 2n triangles), so that figure holds there; in R^3 it can have up
// to n(n-3)/2 tetrahedra: points on the moment curve (t, t^2, t^3) reach that,
// points along other curves come near it. So in R^3 the triangulations of a
// seeded random sample of kAlphaSamplePoints points and of its first half are
// counted (all of them when n is that small: then the count is exact); the growth
// between the two gives an exponent g in [1, 2], the tetrahedra of all n points
// are extrapolated as T(m) (n/m)^g, at most n(n-3)/2, and priced at
// kAlphaBytesPerTetrahedron (the triangulation, its flat copy, the filtered complex
// and the reduction, per tetrahedron, measured at the peak). The estimate is the
// larger of this and the size-only figure, so benign clouds keep theirs. A cloud
// whose degenerate part the sample misses is still stopped by the runtime memory
// guard (MEMORY_LIMIT_EXCEEDED) before it outgrows the engine.
// ---------------------------------------------------------------------------

inline constexpr size_t kAlphaSamplePoints = 512;
// A sample that grows at most this fast is triangulated again with this many
// points (and its first half): the growth of a small sample overstates a benign
// cloud's, whose boundary holds a larger share of a small sample (uniform cube:
// 1.09 from 256 to 512 points; the 1M-point cube's 6.75M tetrahedra were taken
// for 11.4M, the 1M-point torus' 10.5M for 34M, 8.3 GB for a 1.85 GB run).
// The larger sample's boundary still shows in its growth: on a surface patch more
// than in a volume (4096 points nearest to a point of the 1M-point torus: 1.16, at
// the 10.6 tetrahedra per point its whole triangulation has; a random 4096 of the
// 1M cube: 1.02), so that much of it is taken for the boundary's.
inline constexpr size_t kAlphaRefinePoints = 4096;
inline constexpr double kAlphaRefineMaxGrowth = 1.5;
inline constexpr double kAlphaBoundaryGrowth = 0.1;
inline constexpr double kAlphaBytesPerTetrahedron = 240;
// (wall time at 2 threads: 1.3-2.3 us per tetrahedron on the 100k and 1M cube and
// torus of bench/large_cloud_bench.py; 6 us before the filtration ran on all threads)
inline constexpr double kAlphaSecondsPerTetrahedron = 2e-6;

// What the sample found (R^3).
struct AlphaProfile {
  uint64_t n = 0;
  uint64_t sample = 0;             // points triangulated (all of them when exact)
  uint64_t sample_tetrahedra = 0;  // finite cells of the sample's triangulation
  double growth = 1;               // exponent g of T(m) ~ m^g, in [1, 2]
  double tetrahedra = 0;           // predicted for all n points (exact when sample == n)
  bool exact = false;
};

namespace alpha_detail {

// Finite tetrahedra of the Delaunay triangulation of points idx[0..m) of coords (0
// when they span less than R^3).
inline uint64_t sample_tetrahedra(const std::vector<double>& coords, const std::vector<size_t>& idx, size_t m) {
  std::vector<Point3> pts(m);
  for (size_t i = 0; i < m; ++i) pts[i] = Point3(coords[3 * idx[i]], coords[3 * idx[i] + 1], coords[3 * idx[i] + 2]);
  CGAL::Delaunay_triangulation_3<Kernel> dt(pts.begin(), pts.end());
  return dt.dimension() == 3 ? static_cast<uint64_t>(dt.number_of_finite_cells()) : 0;
}

// m distinct indices of [0, n) (Floyd's algorithm), in random order; all of them when n is smaller.
inline std::vector<size_t> sample_indices(size_t n, size_t m = kAlphaSamplePoints) {
  std::vector<size_t> idx;
  if (n <= m) {
    idx.resize(n);
    std::iota(idx.begin(), idx.end(), size_t{0});
    return idx;
  }
  uint64_t state = 0x9E3779B97F4A7C15ull;  // seeded: the same input gives the same estimate
  const auto below = [&](uint64_t m) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 17) % m;
  };
  std::vector<size_t> chosen;
  std::unordered_set<size_t> taken;  // (n can be 2^28, the sample is small)
  for (size_t j = n - m; j < n; ++j) {
    const size_t t = static_cast<size_t>(below(j + 1));
    chosen.push_back(taken.count(t) ? j : t);
    taken.insert(chosen.back());
  }
  for (size_t i = chosen.size(); i > 1; --i) std::swap(chosen[i - 1], chosen[static_cast<size_t>(below(i))]);
  return chosen;
}

// The m points nearest to point `center` (a bounded max-heap: memory O(m)),
// nearest first, so that every prefix is a smaller ball at the cloud's full density.
inline std::vector<size_t> patch_indices(const std::vector<double>& coords, size_t n, size_t center,
                                         size_t m = kAlphaSamplePoints) {
  const double* c = &coords[3 * center];
  std::vector<std::pair<double, size_t>> heap;
  heap.reserve(m + 1);
  for (size_t i = 0; i < n; ++i) {
    const double* q = &coords[3 * i];
    const double d = (q[0] - c[0]) * (q[0] - c[0]) + (q[1] - c[1]) * (q[1] - c[1]) + (q[2] - c[2]) * (q[2] - c[2]);
    if (heap.size() == m && d >= heap.front().first) continue;
    heap.emplace_back(d, i);
    std::push_heap(heap.begin(), heap.end());
    if (heap.size() > m) {
      std::pop_heap(heap.begin(), heap.end());
      heap.pop_back();
    }
  }
  std::sort_heap(heap.begin(), heap.end());
  std::vector<size_t> idx(heap.size());
  for (size_t k = 0; k < heap.size(); ++k) idx[k] = heap[k].second;
  return idx;
}

// The tetrahedra of idx (m points) and of its first half; their growth g in [1, 2]
// (a half spanning less than R^3, a nearly flat cloud: taken as linear), less
// `boundary`, and the tetrahedra of n points extrapolated as T(m) (n/m)^g, at most
// n(n-3)/2.
inline AlphaProfile extrapolate(const std::vector<double>& coords, const std::vector<size_t>& idx, size_t n,
                                double boundary = 0) {
  AlphaProfile p;
  p.n = n;
  p.sample = idx.size();
  p.sample_tetrahedra = sample_tetrahedra(coords, idx, idx.size());
  const uint64_t half = sample_tetrahedra(coords, idx, idx.size() / 2);
  if (half > 0 && p.sample_tetrahedra > half)
    p.growth = std::clamp(std::log2(static_cast<double>(p.sample_tetrahedra) / static_cast<double>(half)) - boundary,
                          1.0, 2.0);
  const double nn = static_cast<double>(n);
  const double worst = nn * (nn - 3) / 2;  // the most tetrahedra n points in R^3 can have
  p.tetrahedra = std::min(
      worst, static_cast<double>(p.sample_tetrahedra) * std::pow(nn / static_cast<double>(idx.size()), p.growth));
  return p;
}

}  // namespace alpha_detail

// The measurement of a cloud in R^3 (n * 3 coordinates, row-major): the larger
// prediction of two samples, a seeded random one (the cloud's shape at a coarse
// density) and the patch of points nearest to a seeded random point (its full
// density: a curve whose triangulation only turns quadratic when its points are
// dense, like a helix, shows it there).
inline AlphaProfile profile_alpha_points(const std::vector<double>& coords, size_t n) {
  using namespace alpha_detail;
  if (coords.size() != n * 3) throw InvalidInput("alpha: coordinate count does not match n * 3");
  for (double x : coords)
    if (!std::isfinite(x) || std::fabs(x) > kAlphaMaxCoordinate)
      throw InvalidInput("alpha: coordinates must be finite and at most 1e150 in absolute value");
  std::vector<size_t> idx = sample_indices(n);
  if (idx.size() == n) {  // small: the triangulation itself
    AlphaProfile p;
    p.n = n;
    p.sample = n;
    p.sample_tetrahedra = sample_tetrahedra(coords, idx, n);
    p.tetrahedra = static_cast<double>(p.sample_tetrahedra);
    p.exact = true;
    return p;
  }
  AlphaProfile spread = extrapolate(coords, idx, n);
  AlphaProfile local = extrapolate(coords, patch_indices(coords, n, idx.front()), n);
  // benign growth: measured again on larger samples (a degenerate one, whose
  // triangulation grows fast, is not: its larger sample would cost what the
  // estimate is there to foresee)
  if (n > kAlphaRefinePoints) {
    if (spread.growth <= kAlphaRefineMaxGrowth)
      spread = extrapolate(coords, sample_indices(n, kAlphaRefinePoints), n, kAlphaBoundaryGrowth);
    if (local.growth <= kAlphaRefineMaxGrowth)
      local = extrapolate(coords, patch_indices(coords, n, idx.front(), kAlphaRefinePoints), n, kAlphaBoundaryGrowth);
  }
  return local.tetrahedra > spread.tetrahedra ? local : spread;
}

// Memory and time of the Alpha complex of a measured cloud in R^3: at least the size-only figure.
inline Estimate estimate_alpha_profile(const AlphaProfile& p) {
  Estimate e = estimate_alpha(p.n, 3);
  const double mem = 16.0 * 1024 * 1024 + 40.0 * static_cast<double>(p.n) + kAlphaBytesPerTetrahedron * p.tetrahedra;
  e.memory_bytes = std::max(e.memory_bytes, static_cast<uint64_t>(std::min(mem, 1.8e19)));
  e.seconds = std::max(e.seconds, 0.01 + kAlphaSecondsPerTetrahedron * p.tetrahedra);
  return e;
}

// The estimate admission uses once the points are there: in R^3 from the sample
// (profile_alpha_points), in R^2 from the sizes (a planar triangulation is linear).
inline Estimate estimate_alpha_points(const std::vector<double>& coords, size_t n, size_t dim) {
  if (dim != 3) return estimate_alpha(n, static_cast<uint32_t>(dim));
  if (n < 1) throw InvalidInput("alpha: at least one point is required");
  if (n > kAlphaMaxPoints) throw InvalidInput("alpha: too many points");
  return estimate_alpha_profile(profile_alpha_points(coords, n));
}

}  // namespace tda::core
