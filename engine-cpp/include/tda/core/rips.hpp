// Vietoris-Rips persistent homology (barcodes identical to Ripser 1.2.1).
//
// Method (U. Bauer, "Ripser: efficient computation of Vietoris-Rips persistence
// barcodes", 2021): persistent cohomology with clearing, an implicit coboundary
// matrix over simplices coded in the combinatorial number system, dimension 0 by
// union-find, the enclosing-radius cutoff, zero-persistence apparent and emergent
// pairs, and a stored reduction matrix V (not R) with a binary-heap working column.
//
// Filtration order: diameter ascending, ties by simplex index descending.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tda/core/binomial.hpp"
#include "tda/core/distances.hpp"
#include "tda/core/hash_map.hpp"
#include "tda/core/parallel.hpp"
#include "tda/core/types.hpp"
#include "tda/core/union_find.hpp"
#include "tda/core/working_column.hpp"

namespace tda::core {

struct Interval {
  double birth;
  double death;  // +infinity for essential classes
};

enum class Stage { Loading = 2, Distances = 3, Dim0 = 4, Reduction = 5, Done = 6 };

struct ProgressInfo {
  Stage stage;
  int dimension;
  uint64_t columns_done;
  uint64_t columns_total;
  uint64_t bytes_in_use;
};

struct Callbacks {
  std::function<void(const ProgressInfo&)> on_progress;  // optional
  std::function<bool()> is_cancelled;                    // optional; true -> throw Cancelled
};

struct RipsOptions {
  int max_dim = 1;
  std::optional<double> threshold;  // keep edges with d <= threshold; default: enclosing radius
  int modulus = 2;                  // prime field Z/p
  int threads = 1;                  // workers for distances, sorting, apparent pairs, assembly (0 = all cores)
  size_t column_split = 0;          // working-column entries before it is cut into buckets (0 = default; tuning, tests)
};

struct RipsStats {
  uint64_t points = 0;
  uint64_t edges = 0;            // edges up to the threshold used
  uint64_t columns_reduced = 0;  // columns entering the reduction (all dimensions >= 1)
  uint64_t apparent_pairs = 0;   // columns skipped as zero-persistence apparent pairs
  double threshold_used = 0;
};

struct RipsResult {
  std::vector<std::vector<Interval>> diagrams;  // index = dimension, 0..max_dim
  std::vector<uint64_t> betti;                  // essential bars per dimension
  RipsStats stats;
};

struct Estimate {
  uint64_t memory_bytes;
  double seconds;
};

inline constexpr int kMaxDimension = 60;
inline constexpr int kMaxModulus = 251;

namespace detail {

#ifdef TDA_CORE_PROFILE
#define TDA_CORE_NOINLINE __attribute__((noinline))
#else
#define TDA_CORE_NOINLINE
#endif

constexpr int kMaxVertices = kMaxDimension + 4;

inline bool is_prime(int p) {
  if (p < 2) return false;
  for (int q = 2; q * q <= p; ++q)
    if (p % q == 0) return false;
  return true;
}

// Checks everything that does not depend on the distances themselves.
inline void validate_options(uint64_t n, const RipsOptions& opt) {
  if (n < 1) throw InvalidInput("at least one point is required");
  if (n > (uint64_t{1} << 31)) throw InvalidInput("too many points");
  if (opt.max_dim < 0 || opt.max_dim > kMaxDimension)
    throw InvalidInput("max_dim must be between 0 and " + std::to_string(kMaxDimension));
  if (opt.modulus < 2 || opt.modulus > kMaxModulus || !is_prime(opt.modulus))
    throw InvalidInput("modulus must be a prime between 2 and " + std::to_string(kMaxModulus));
  if (opt.threads < 0 || opt.threads > 4096) throw InvalidInput("threads must be between 0 and 4096");
  if (opt.threshold && std::isnan(*opt.threshold)) throw InvalidInput("threshold is NaN");
  // Simplex indices of the top dimension computed, max_dim + 1, must fit
  // (Z/p packs an 8-bit coefficient above a 55-bit index).
  const uint64_t k = std::min<uint64_t>(opt.max_dim, n >= 2 ? n - 2 : 0) + 2;
  const unsigned __int128 limit = opt.modulus == 2 ? (unsigned __int128)BinomialTable::kSaturated - 1
                                                   : ((unsigned __int128)1 << 55) - 1;
  unsigned __int128 c = 1;  // C(n - k + i, i) for i = 0..k
  for (uint64_t i = 1; i <= k && k <= n; ++i) {
    c = c * (n - k + i) / i;
    if (c > limit)
      throw InvalidInput("simplex indices overflow 64 bits for " + std::to_string(n) + " points in dimension " +
                         std::to_string(opt.max_dim));
  }
}

inline void validate_values(const std::vector<value_t>& v, bool nonnegative, const char* what) {
  for (value_t x : v) {
    if (!std::isfinite(x)) throw InvalidInput(std::string(what) + " contain a non-finite value");
    if (nonnegative && x < 0) throw InvalidInput(std::string(what) + " contain a negative value");
  }
}

struct Simplex {
  value_t diam;
  index_t index;
};

// Coboundary walks over a distance storage. Cofacets of a simplex with vertices
// vs[0] > ... > vs[k] are visited in decreasing index order; the visitor gets
// (index, diameter, negative sign, added vertex j, distances from j to vs[0..k])
// and returns false to stop.
template <class Dist>
class Complex;

template <>
class Complex<DenseDistances> {
 public:
  Complex(const DenseDistances& d, const BinomialTable& B, value_t thr) : d_(d), B_(B), n_(d.size()), thr_(thr) {}
  value_t dist(index_t a, index_t b) const { return d_(a, b); }

  template <class F>
  void cofacets(const index_t* vs, int k, index_t idx, value_t diam, bool upper_only, F&& f) const {
    const value_t* rows[kMaxVertices];
    value_t to[kMaxVertices];
    for (int i = 0; i <= k; ++i) rows[i] = d_.row(vs[i]);
    index_t above = 0, below = idx;
    int a = 0;
    const index_t* brow = B_.row(k + 2);
    for (index_t j = n_ - 1; j >= 0; --j) {
      if (a <= k && vs[a] == j) {
        if (upper_only) return;
        above += B_(j, k - a + 2);
        below -= B_(j, k - a + 1);
        ++a;
        brow = B_.row(k + 2 - a);
        continue;
      }
      value_t dj = diam;
      for (int i = 0; i <= k; ++i) dj = std::max(dj, rows[i][j]);
      if (dj > thr_) continue;
      for (int i = 0; i <= k; ++i) to[i] = rows[i][j];
      if (!f(above + brow[j] + below, dj, (a & 1) != 0, j, static_cast<const value_t*>(to))) return;
    }
  }

  // Largest j outside sigma with d(j, v) <= diam for all vertices v (so that
  // sigma + {j} has sigma's diameter), or -1. Scanned in blocks so the
  // comparisons vectorise.
  index_t top_equal_vertex(const index_t* vs, int k, value_t diam) const {
    constexpr index_t kBlock = 64;
    const value_t* rows[kMaxVertices];
    for (int i = 0; i <= k; ++i) rows[i] = d_.row(vs[i]);
    unsigned char ok[kBlock];
    for (index_t hi = n_; hi > 0; hi -= kBlock) {
      const index_t lo = hi > kBlock ? hi - kBlock : 0;
      const int len = static_cast<int>(hi - lo);
      const value_t* r0 = rows[0] + lo;
      unsigned any = 0;
      for (int t = 0; t < len; ++t) ok[t] = r0[t] <= diam;
      for (int i = 1; i <= k; ++i) {
        const value_t* ri = rows[i] + lo;
        for (int t = 0; t < len; ++t) ok[t] &= ri[t] <= diam;
      }
      for (int t = 0; t < len; ++t) any |= ok[t];
      if (!any) continue;
      for (int t = len - 1; t >= 0; --t) {
        if (!ok[t]) continue;
        const index_t j = lo + t;
        bool inside = false;
        for (int i = 0; i <= k; ++i) inside |= vs[i] == j;
        if (!inside) return j;
      }
    }
    return -1;
  }

 private:
  const DenseDistances& d_;
  const BinomialTable& B_;
  index_t n_;
  value_t thr_;
};

template <>
class Complex<SparseDistances> {
 public:
  Complex(const SparseDistances& d, const BinomialTable& B, value_t) : d_(d), B_(B), n_(d.size()) {}
  value_t dist(index_t a, index_t b) const { return d_(a, b); }

  // Common neighbours of all vertices, walked downwards from the shortest list.
  template <class F>
  void cofacets(const index_t* vs, int k, index_t idx, value_t diam, bool upper_only, F&& f) const {
    int base = 0;
    for (int i = 1; i <= k; ++i)
      if (d_.degree(vs[i]) < d_.degree(vs[base])) base = i;
    const Neighbor* lo[kMaxVertices];
    const Neighbor* cur[kMaxVertices];
    value_t to[kMaxVertices];
    for (int i = 0; i <= k; ++i) {
      lo[i] = d_.begin(vs[i]);
      cur[i] = d_.end(vs[i]);
    }
    index_t above = 0, below = idx;
    int a = 0;
    for (const Neighbor* p = d_.end(vs[base]); p != lo[base];) {
      --p;
      const index_t j = p->vertex;
      if (upper_only && j <= vs[0]) return;
      value_t dj = std::max(diam, p->dist);
      to[base] = p->dist;
      bool common = true;
      for (int i = 0; i <= k; ++i) {
        if (i == base) continue;
        const Neighbor* q = cur[i];
        while (q != lo[i] && static_cast<index_t>((q - 1)->vertex) > j) --q;
        cur[i] = q;
        if (q == lo[i]) return;  // list exhausted: nothing common below j
        if (static_cast<index_t>((q - 1)->vertex) != j) { common = false; break; }
        dj = std::max(dj, (q - 1)->dist);
        to[i] = (q - 1)->dist;
      }
      if (!common) continue;
      while (a <= k && vs[a] > j) {
        above += B_(vs[a], k - a + 2);
        below -= B_(vs[a], k - a + 1);
        ++a;
      }
      if (!f(above + B_(j, k + 2 - a) + below, dj, (a & 1) != 0, j, static_cast<const value_t*>(to))) return;
    }
  }

  // Largest j outside sigma with sigma + {j} of diameter diam, or -1.
  index_t top_equal_vertex(const index_t* vs, int k, value_t diam) const {
    index_t found = -1;
    cofacets(vs, k, 0, diam, false, [&](index_t, value_t d, bool, index_t j, const value_t*) {
      if (d != diam) return true;
      found = j;
      return false;
    });
    return found;
  }

 private:
  const SparseDistances& d_;
  const BinomialTable& B_;
  index_t n_;
};

// Working-column and V entries (tda::core::Entry): diameter plus index, with the
// Z/p coefficient packed in the top byte.

template <bool Z2>
struct Coding {
  static constexpr int kShift = 55;  // coefficient in bits 55..62, so codes stay non-negative
  static constexpr index_t kMask = (index_t{1} << kShift) - 1;
  static index_t index(index_t code) {
    if constexpr (Z2) return code; else return code & kMask;
  }
  static coef_t coef(index_t code) {
    if constexpr (Z2) return 1; else return static_cast<coef_t>(static_cast<uint64_t>(code) >> kShift);
  }
  static index_t make(index_t idx, coef_t c) {
    if constexpr (Z2) return idx; else return idx | (static_cast<index_t>(c) << kShift);
  }
};

template <class Dist, bool Z2>
class Reducer {
  using Code = Coding<Z2>;
  using Segments = std::vector<std::vector<Simplex>>;  // a list of simplices in pieces (order irrelevant)

  // Max-heap order whose top is the earliest entry of the filtration.
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.diam > b.diam || (a.diam == b.diam && Code::index(a.code) < Code::index(b.code));
    }
  };

 public:
  Reducer(const Dist& dist, const BinomialTable& B, value_t thr, int top_dim, int modulus, const Callbacks& cb,
          RipsResult& out, int threads = 1, size_t column_split = 0)
      : cx_(dist, B, thr), B_(B), n_(dist.size()), top_dim_(top_dim), p_(static_cast<coef_t>(modulus)), cb_(cb),
        out_(out), heap_(column_split), vheap_(column_split), threads_(std::max(1, threads)),
        column_split_(column_split) {
    heap_.set_poll([this] { check_cancel(); });
    inverse_.assign(p_, 0);
    if (p_ > 2) {
      inverse_[1] = 1;
      for (coef_t a = 2; a < p_; ++a) inverse_[a] = p_ - (p_ / a) * inverse_[p_ % a] % p_;
    }
  }

  // edges: all edges up to the threshold (any order; sorted here).
  void run(std::vector<Simplex> edges) {
    out_.stats.edges = edges.size();
    std::vector<Simplex> columns = dimension_zero(edges);
    Segments simplices;
    if (top_dim_ >= 2) simplices.push_back(std::move(edges));
    else std::vector<Simplex>().swap(edges);
    PivotMap pivots;
    for (int k = 1; k <= top_dim_; ++k) {
      if (threads_ > 1 && columns.size() >= 64) {
        reduce_parallel(k, columns, pivots);
      } else {
        pivots.reset(columns.size());
        reduce(k, columns, pivots);
      }
      if (k < top_dim_) assemble(k + 1, simplices, pivots, columns);
    }
  }

 private:
  // ---- progress and cancellation ----
  void check_cancel() const {
    if (cb_.is_cancelled && cb_.is_cancelled()) throw Cancelled();
  }
  void progress(Stage s, int dim, uint64_t done, uint64_t total) const {
    if (cb_.on_progress) cb_.on_progress(ProgressInfo{s, dim, done, total, bytes_in_use()});
  }
  uint64_t bytes_in_use() const {
    return heap_.capacity_bytes() + vheap_.capacity_bytes() + (v_entries_.capacity() + scratch_.capacity()) * sizeof(Entry) +
           v_offsets_.capacity() * sizeof(size_t);
  }

  // ---- apparent pairs ----
  // Vertices of sigma + {j} in descending order (j not in sigma).
  static void insert_vertex(const index_t* vs, int count, index_t j, index_t* out) {
    int i = 0;
    for (; i < count && vs[i] > j; ++i) out[i] = vs[i];
    out[i] = j;
    for (; i < count; ++i) out[i + 1] = vs[i];
  }

  // The latest facet of tau (an m-simplex with vertices w[0] > ... > w[m]) having
  // tau's diameter: the one of smallest index, i.e. removing the highest vertex
  // possible. dist(a, b) gives d(w[a], w[b]) for a < b. Returns false if none.
  template <class D>
  bool latest_full_facet(const index_t* w, int m, value_t tdiam, D&& dist, index_t* fv, index_t& fidx,
                         int& removed) const {
    // first pair (lexicographic) realising the diameter
    int a0 = -1, b0 = -1;
    for (int a = 0; a < m && a0 < 0; ++a)
      for (int b = a + 1; b <= m; ++b)
        if (dist(a, b) == tdiam) { a0 = a; b0 = b; break; }
    if (a0 < 0) return false;
    int r = 0;
    for (; r <= m; ++r) {
      if (r != a0 && r != b0) break;
      bool other = false;  // another diameter pair avoiding r?
      for (int a = 0; a < m && !other; ++a) {
        if (a == r) continue;
        for (int b = a + 1; b <= m; ++b)
          if (b != r && dist(a, b) == tdiam) { other = true; break; }
      }
      if (other) break;
    }
    if (r > m) return false;
    index_t idx = 0;
    int c = 0;
    for (int i = 0; i <= m; ++i) {
      if (i == r) continue;
      fv[c] = w[i];
      idx += B_(w[i], m - c);
      ++c;
    }
    fidx = idx;
    removed = r;
    return true;
  }

  bool latest_full_facet(const index_t* w, int m, value_t tdiam, index_t* fv, index_t& fidx, int& removed) const {
    return latest_full_facet(w, m, tdiam, [&](int a, int b) { return cx_.dist(w[a], w[b]); }, fv, fidx, removed);
  }

  // Is tau = facet + {x} the first cofacet of equal diameter of the facet?
  bool facet_pairs_with(index_t x, value_t tdiam, int m, const index_t* fv) const {
    return cx_.top_equal_vertex(fv, m - 1, tdiam) == x;
  }

  // Is tau (vertices w) the cofacet of a zero-persistence apparent pair? If so
  // returns the facet and whether tau appears with a negative sign in its coboundary.
  TDA_CORE_NOINLINE bool apparent_facet(const index_t* w, int m, value_t tdiam, Simplex& facet,
                                        bool& negative) const {
    index_t fv[kMaxVertices];
    index_t fidx;
    int r;
    if (!latest_full_facet(w, m, tdiam, fv, fidx, r)) return false;
    if (!facet_pairs_with(w[r], tdiam, m, fv)) return false;
    facet = Simplex{tdiam, fidx};
    negative = (r & 1) != 0;
    return true;
  }

  bool apparent_facet_of(index_t tau, value_t tdiam, int m, Simplex& facet, bool& negative) const {
    index_t w[kMaxVertices];
    decode_simplex(B_, tau, m + 1, n_, w);
    return apparent_facet(w, m, tdiam, facet, negative);
  }

  // Is sigma (a k-simplex) the facet of a zero-persistence apparent pair?
  // dist(a, b) gives d(vs[a], vs[b]) for a < b.
  template <class D>
  bool apparent_cofacet(const index_t* vs, int k, index_t idx, value_t diam, D&& dist) const {
    const index_t x = cx_.top_equal_vertex(vs, k, diam);
    if (x < 0) return false;
    // tau = sigma + x, with x at position px
    int px = 0;
    while (px <= k && vs[px] > x) ++px;
    if (px == 0) return true;  // removing the top vertex x gives sigma: the latest facet
    value_t to[kMaxVertices];
    for (int i = 0; i <= k; ++i) to[i] = cx_.dist(x, vs[i]);
    index_t w[kMaxVertices], fv[kMaxVertices];
    insert_vertex(vs, k + 1, x, w);
    auto tau_dist = [&](int a, int b) {  // a < b, indices into w
      if (a == px) return to[b - 1];
      if (b == px) return to[a];
      return dist(a < px ? a : a - 1, b < px ? b : b - 1);
    };
    index_t fidx;
    int r;
    return latest_full_facet(w, k + 1, diam, tau_dist, fv, fidx, r) && fidx == idx;
  }

  bool apparent_cofacet(const index_t* vs, int k, index_t idx, value_t diam) const {
    return apparent_cofacet(vs, k, idx, diam, [&](int a, int b) { return cx_.dist(vs[a], vs[b]); });
  }

  // ---- dimension 0 ----
  // Kruskal in filtration order; returns the dimension-1 columns (non-merging,
  // non-apparent edges) sorted for reduction.
  TDA_CORE_NOINLINE std::vector<Simplex> dimension_zero(std::vector<Simplex>& edges) {
    progress(Stage::Dim0, 0, 0, edges.size());
    parallel_sort(edges, [](const Simplex& a, const Simplex& b) {
      return a.diam < b.diam || (a.diam == b.diam && a.index > b.index);
    }, threads_);
    check_cancel();
    // with several workers the apparent-pair test of every edge runs up front
    std::vector<unsigned char> apparent;
    if (threads_ > 1 && top_dim_ >= 1) {
      apparent.resize(edges.size());
      WorkerGroup(threads_).chunks(edges.size(), 4096, [&](size_t lo, size_t hi, int) {
        for (size_t t = lo; t < hi; ++t) {
          index_t v[2];
          decode_simplex(B_, edges[t].index, 2, n_, v);
          apparent[t] = apparent_cofacet(v, 1, edges[t].index, edges[t].diam);
        }
      }, [&] { check_cancel(); });
    }
    auto& bars = out_.diagrams[0];
    UnionFind uf(n_);
    std::vector<Simplex> columns;
    size_t done = 0;
    for (const Simplex& e : edges) {
      if ((++done & 0x3FF) == 0) check_cancel();
      index_t v[2];
      decode_simplex(B_, e.index, 2, n_, v);
      if (uf.unite(static_cast<uint32_t>(v[0]), static_cast<uint32_t>(v[1]))) {
        if (e.diam != 0) bars.push_back(Interval{0.0, static_cast<double>(e.diam)});
      } else if (top_dim_ >= 1) {
        const bool is_apparent = apparent.empty() ? apparent_cofacet(v, 1, e.index, e.diam) : apparent[done - 1] != 0;
        if (is_apparent) ++out_.stats.apparent_pairs;
        else columns.push_back(e);
      }
    }
    uint64_t components = 0;
    for (index_t v = 0; v < n_; ++v)
      if (uf.find(static_cast<uint32_t>(v)) == v) ++components;
    for (uint64_t c = 0; c < components; ++c) bars.push_back(Interval{0.0, std::numeric_limits<double>::infinity()});
    out_.betti[0] = components;
    std::reverse(columns.begin(), columns.end());
    progress(Stage::Dim0, 0, edges.size(), edges.size());
    return columns;
  }

  // ---- column assembly for dimension k from all (k-1)-simplices ----
  // The simplices are cut into pieces handed out to the workers; each piece yields
  // its own lists (next simplices, columns), concatenated afterwards. The columns
  // are then sorted, so the result does not depend on the number of workers.
  TDA_CORE_NOINLINE void assemble(int k, Segments& simplices, const PivotMap& pivots, std::vector<Simplex>& columns) {
    columns.clear();
    const bool keep = k < top_dim_;
    constexpr size_t kPiece = 2048;
    struct Piece {
      const Simplex* begin;
      const Simplex* end;
      std::vector<Simplex> next, columns;
      uint64_t apparent = 0;
    };
    std::vector<Piece> pieces;
    for (const auto& seg : simplices)
      for (size_t b = 0; b < seg.size(); b += kPiece)
        pieces.push_back(Piece{seg.data() + b, seg.data() + std::min(seg.size(), b + kPiece), {}, {}, 0});
    WorkerGroup(threads_).chunks(pieces.size(), 1, [&](size_t lo, size_t hi, int) {
      for (size_t t = lo; t < hi; ++t) assemble_piece(k, keep, pieces[t], pivots);
    }, [&] { check_cancel(); });
    Segments next;
    size_t total = 0;
    for (Piece& p : pieces) {
      total += p.columns.size();
      out_.stats.apparent_pairs += p.apparent;
      if (!p.next.empty()) next.push_back(std::move(p.next));
    }
    Segments().swap(simplices);
    columns.reserve(total);
    for (Piece& p : pieces) {
      columns.insert(columns.end(), p.columns.begin(), p.columns.end());
      std::vector<Simplex>().swap(p.columns);
    }
    simplices.swap(next);
    check_cancel();
    parallel_sort(columns, [](const Simplex& a, const Simplex& b) {
      return a.diam > b.diam || (a.diam == b.diam && a.index < b.index);
    }, threads_);
  }

  template <class Piece>
  void assemble_piece(int k, bool keep, Piece& piece, const PivotMap& pivots) const {
    value_t sd[kMaxVertices * kMaxVertices];  // pairwise distances within s
    for (const Simplex* sp = piece.begin; sp != piece.end; ++sp) {
      const Simplex& s = *sp;
      index_t vs[kMaxVertices];
      decode_simplex(B_, s.index, k, n_, vs);
      for (int a = 0; a < k; ++a)
        for (int b = a + 1; b < k; ++b) sd[a * kMaxVertices + b] = cx_.dist(vs[a], vs[b]);
      bool equal_seen = false;  // s's first cofacet of equal diameter is upper, if any
      cx_.cofacets(vs, k - 1, s.index, s.diam, true, [&](index_t c, value_t d, bool, index_t j, const value_t* tj) {
        const bool first_equal = d == s.diam && !equal_seen;
        equal_seen = equal_seen || first_equal;
        if (keep) piece.next.push_back(Simplex{d, c});
        if (pivots.contains(c)) return true;  // cleared
        // c = {j} + s with j on top; local distances of c's vertices w
        index_t w[kMaxVertices], fv[kMaxVertices];
        w[0] = j;
        std::copy(vs, vs + k, w + 1);
        auto cdist = [&](int a, int b) { return a == 0 ? tj[b - 1] : sd[(a - 1) * kMaxVertices + (b - 1)]; };
        // A simplex is in at most one apparent pair; the cheap tests go first.
        // (1) paired with its facet s (then s is its latest full facet)
        if (d == s.diam && first_equal) return true;  // cleared
        // (2) paired with a cofacet: zero persistence, not a column
        if (apparent_cofacet(w, k, c, d, cdist)) {
          ++piece.apparent;
          return true;
        }
        // (3) paired with another facet
        if (d != s.diam) {
          index_t fidx;
          int r;
          if (latest_full_facet(w, k, d, cdist, fv, fidx, r) && facet_pairs_with(w[r], d, k, fv)) return true;
        }
        piece.columns.push_back(Simplex{d, c});
        return true;
      });
    }
  }

  // ---- working columns (tda/core/working_column.hpp) ----
  using Column = WorkingColumn<Later>;

  // Removes and returns the earliest nonzero entry (code -1 if the column is zero).
  TDA_CORE_NOINLINE Entry pop_pivot(Column& h) const {
    while (!h.empty()) {
      const Entry top = h.top();
      h.pop();
      const index_t idx = Code::index(top.code);
      if constexpr (Z2) {
        if (!h.empty() && h.top().code == idx) {
          h.pop();
          continue;
        }
        return top;
      } else {
        coef_t c = Code::coef(top.code);
        while (!h.empty() && Code::index(h.top().code) == idx) {
          c = (c + Code::coef(h.top().code)) % p_;
          h.pop();
        }
        if (c != 0) return Entry{top.diam, Code::make(idx, c)};
      }
    }
    return Entry{0, -1};
  }

  // The earliest nonzero entry, left in the column (code -1 if the column is zero).
  Entry get_pivot(Column& h) const {
    if constexpr (Z2) {
      while (!h.empty()) {
        // an equal entry would be the one right below the top
        const Entry* next = h.second();
        if (next && next->code == h.top().code) {
          h.pop();
          h.pop();
          continue;
        }
        return h.top();
      }
      return Entry{0, -1};
    } else {
      Entry e = pop_pivot(h);
      if (e.code >= 0) h.push(e);
      return e;
    }
  }

  coef_t mul(coef_t a, coef_t b) const { return Z2 ? 1 : (a * b) % p_; }
  coef_t neg(coef_t a) const { return Z2 ? 1 : p_ - a; }

  // Adds f * coboundary(simplex) to the working column.
  void add_coboundary(index_t idx, value_t diam, coef_t f, int k) { add_coboundary_to(heap_, idx, diam, f, k); }

  TDA_CORE_NOINLINE void add_coboundary_to(Column& heap, index_t idx, value_t diam, coef_t f, int k) const {
    index_t vs[kMaxVertices];
    vs[0] = 0;  // (silences a false maybe-uninitialized warning)
    decode_simplex(B_, idx, k + 1, n_, vs);
    heap.add([&](auto&& sink) {
      cx_.cofacets(vs, k, idx, diam, false, [&](index_t c, value_t d, bool negative, index_t, const value_t*) {
        sink(Entry{d, Code::make(c, negative ? neg(f) : f)});
        return true;
      });
    });
  }

  // Adds f * (reduced column j) = f * coboundary(sigma_j + V_j) and records it in V.
  void add_column(const std::vector<Simplex>& columns, size_t j, coef_t f, int k) {
    const Simplex& s = columns[j];
    vheap_.push(Entry{s.diam, Code::make(s.index, f)});
    add_coboundary(s.index, s.diam, f, k);
    for (size_t t = v_offsets_[j]; t < v_offsets_[j + 1]; ++t) {
      const Entry& e = v_entries_[t];
      coef_t g = mul(f, Code::coef(e.code));
      vheap_.push(Entry{e.diam, Code::make(Code::index(e.code), g)});
      add_coboundary(Code::index(e.code), e.diam, g, k);
      if ((++additions_ & 0xFF) == 0) check_cancel();  // (a V can be long)
    }
  }

  // Coboundary of a column; short-cuts an emergent pair (a cofacet of equal
  // diameter that nobody has claimed is the pivot without any reduction).
  Entry init_column(const Simplex& s, int k, const PivotMap& pivots, bool& is_emergent) {
    return init_column_in(heap_, scratch_, s, k, [&](index_t c) { return pivots.contains(c); }, is_emergent);
  }

  template <class Claimed>
  TDA_CORE_NOINLINE Entry init_column_in(Column& heap, std::vector<Entry>& scratch, const Simplex& s, int k,
                                         Claimed&& claimed, bool& is_emergent) const {
    index_t vs[kMaxVertices];
    vs[0] = 0;  // (silences a false maybe-uninitialized warning)
    decode_simplex(B_, s.index, k + 1, n_, vs);
    scratch.clear();
    bool check = true;
    Entry emergent{0, -1};
    cx_.cofacets(vs, k, s.index, s.diam, false, [&](index_t c, value_t d, bool negative, index_t j, const value_t*) {
      const index_t code = Code::make(c, negative ? neg(1) : 1);
      if (check && d == s.diam) {
        check = false;
        Simplex f;
        bool fneg;
        index_t w[kMaxVertices];
        insert_vertex(vs, k + 1, j, w);
        if (!claimed(c) && !apparent_facet(w, k + 1, d, f, fneg)) {
          emergent = Entry{d, code};
          return false;
        }
      }
      scratch.push_back(Entry{d, code});
      return true;
    });
    is_emergent = emergent.code >= 0;
    if (is_emergent) return emergent;
    heap.clear();
    heap.add([&](auto&& sink) {
      for (const Entry& e : scratch) sink(e);
    });
    return get_pivot(heap);
  }

  // ---- reduction of the dimension-k coboundary matrix ----
  void reduce(int k, const std::vector<Simplex>& columns, PivotMap& pivots) {
    auto& bars = out_.diagrams[k];
    v_offsets_.assign(1, 0);
    v_entries_.clear();
    const uint64_t total = columns.size();
    progress(Stage::Reduction, k, 0, total);
    out_.stats.columns_reduced += total;
    for (size_t j = 0; j < columns.size(); ++j) {
      if ((j & 0xFF) == 0) {
        check_cancel();
        if ((j & 0x1FFF) == 0 && j) progress(Stage::Reduction, k, j, total);
      }
      const Simplex& s = columns[j];
      heap_.clear();
      vheap_.clear();
      bool emergent = false;
      Entry pivot = init_column(s, k, pivots, emergent);
      if (emergent) {  // zero persistence, V_j empty
        pivots.insert(Code::index(pivot.code), Z2 ? j : (static_cast<uint64_t>(j) << 8 | Code::coef(pivot.code)));
        v_offsets_.push_back(v_entries_.size());
        continue;
      }
      while (true) {
        if (pivot.code < 0) {  // zero column: essential class
          bars.push_back(Interval{static_cast<double>(s.diam), std::numeric_limits<double>::infinity()});
          ++out_.betti[k];
          break;
        }
        const index_t pidx = Code::index(pivot.code);
        const coef_t pc = Code::coef(pivot.code);
        if (const uint64_t* other = pivots.find(pidx)) {
          const size_t col = Z2 ? static_cast<size_t>(*other) : static_cast<size_t>(*other >> 8);
          const coef_t oc = Z2 ? 1 : static_cast<coef_t>(*other & 0xFF);
          add_column(columns, col, Z2 ? 1 : neg(mul(pc, inverse_[oc])), k);
        } else {
          Simplex f;
          bool fneg;
          if (apparent_facet_of(pidx, pivot.diam, k + 1, f, fneg)) {
            // the apparent partner's coboundary has tau with coefficient -1 or 1
            const coef_t tc = fneg ? neg(1) : 1;
            const coef_t factor = Z2 ? 1 : neg(mul(pc, inverse_[tc]));
            vheap_.push(Entry{f.diam, Code::make(f.index, factor)});
            add_coboundary(f.index, f.diam, factor, k);
          } else {
            if (pivot.diam > s.diam) bars.push_back(Interval{static_cast<double>(s.diam), static_cast<double>(pivot.diam)});
            pivots.insert(pidx, Z2 ? j : (static_cast<uint64_t>(j) << 8 | pc));
            for (Entry e = pop_pivot(vheap_); e.code >= 0; e = pop_pivot(vheap_)) v_entries_.push_back(e);
            break;
          }
        }
        if ((++additions_ & 0xFF) == 0) check_cancel();
        pivot = get_pivot(heap_);
      }
      v_offsets_.push_back(v_entries_.size());
    }
    progress(Stage::Reduction, k, total, total);
  }

  // ---- concurrent reduction of one dimension (lock-free, after Morozov & Nigmetov) ----
  // Workers take columns in order from an atomic counter. Shared state: a fixed-size
  // open-addressing map pivot -> (column, coefficient) whose values change only by
  // compare-and-swap, and per column the latest published V (immutable once
  // published; old versions live until the end of the dimension). A worker whose
  // pivot belongs to an earlier column adds that column; if it belongs to a later
  // one it takes the pivot over and goes on reducing the later column. The pairing
  // at the end is the unique one of the sequential algorithm, so the bars (emitted
  // in column order) are identical.
  struct VColumn {
    std::vector<Entry> entries;
  };
  struct Slot {
    std::atomic<index_t> key;
    std::atomic<uint64_t> value;
  };
  static constexpr uint64_t kUnowned = ~uint64_t{0};
  static constexpr index_t kNoKey = -1;

  static size_t slot_hash(index_t key) {
    uint64_t x = static_cast<uint64_t>(key) * 0x9E3779B97F4A7C15ull;
    return static_cast<size_t>(x ^ (x >> 29));
  }
  static uint64_t owner_code(size_t col, coef_t c) { return Z2 ? col : (static_cast<uint64_t>(col) << 8 | c); }
  static size_t owner_column(uint64_t v) { return Z2 ? static_cast<size_t>(v) : static_cast<size_t>(v >> 8); }
  static coef_t owner_coef(uint64_t v) { return Z2 ? 1 : static_cast<coef_t>(v & 0xFF); }

  void reduce_parallel(int k, const std::vector<Simplex>& columns, PivotMap& pivots) {
    auto& bars = out_.diagrams[k];
    const size_t total = columns.size();
    progress(Stage::Reduction, k, 0, total);
    out_.stats.columns_reduced += total;
    size_t cap = 16;
    while (cap < 2 * total + 1024) cap <<= 1;
    const size_t mask = cap - 1;
    std::unique_ptr<Slot[]> slots(new Slot[cap]);
    std::unique_ptr<std::atomic<const VColumn*>[]> vcols(new std::atomic<const VColumn*>[total]);
    std::vector<value_t> death(total, -1);  // pivot diameter of the final column; -1: zero column
    WorkerGroup group(threads_);
    std::vector<std::vector<std::unique_ptr<VColumn>>> published(group.size());
    group.chunks(cap, 1 << 16, [&](size_t lo, size_t hi, int) {
      for (size_t i = lo; i < hi; ++i) {
        slots[i].key.store(kNoKey, std::memory_order_relaxed);
        slots[i].value.store(kUnowned, std::memory_order_relaxed);
      }
    });
    group.chunks(total, 1 << 16, [&](size_t lo, size_t hi, int) {
      for (size_t i = lo; i < hi; ++i) vcols[i].store(nullptr, std::memory_order_relaxed);
    });

    auto find_slot = [&](index_t key) -> Slot* {
      for (size_t i = slot_hash(key) & mask;; i = (i + 1) & mask) {
        const index_t kk = slots[i].key.load(std::memory_order_acquire);
        if (kk == key) return &slots[i];
        if (kk == kNoKey) return nullptr;
      }
    };
    auto insert_slot = [&](index_t key) -> Slot* {
      for (size_t i = slot_hash(key) & mask, probes = 0;; i = (i + 1) & mask, ++probes) {
        if (probes > cap) throw std::runtime_error("pivot table full");
        index_t kk = slots[i].key.load(std::memory_order_acquire);
        if (kk == kNoKey && slots[i].key.compare_exchange_strong(kk, key, std::memory_order_acq_rel)) return &slots[i];
        if (kk == key) return &slots[i];
      }
    };
    auto claimed = [&](index_t c) {
      const Slot* sl = find_slot(c);
      return sl && sl->value.load(std::memory_order_acquire) != kUnowned;
    };

    std::atomic<size_t> next{0};
    constexpr size_t kChunk = 32;
    // (worker 0 polls for cancellation; out of columns, it goes on polling while
    // the others finish theirs: one can take seconds, the long bars of rp2_600)
    group.run_polled([&](int w) {
      Column heap(column_split_), vheap(column_split_);
      std::vector<Entry> scratch;
      uint64_t adds = 0;
      auto poll = [&] {
        if (w == 0) check_cancel();
        else if (group.failed()) throw Cancelled();
      };
      heap.set_poll(poll);
      // publishes V of col (the consolidated vheap, kept usable afterwards)
      auto publish = [&](size_t col) {
        if (vheap.empty()) {  // (most columns: nothing to allocate)
          vcols[col].store(nullptr, std::memory_order_release);
          return;
        }
        auto vc = std::make_unique<VColumn>();
        for (Entry e = pop_pivot(vheap); e.code >= 0; e = pop_pivot(vheap)) vc->entries.push_back(e);
        vheap.clear();
        vheap.add([&](auto&& sink) {
          for (const Entry& e : vc->entries) sink(e);
        });
        vcols[col].store(vc.get(), std::memory_order_release);
        published[w].push_back(std::move(vc));
      };
      // working column += f * (column `other` as of its published V)
      auto add_other = [&](size_t other, const VColumn* vo, coef_t f) {
        const Simplex& so = columns[other];
        vheap.push(Entry{so.diam, Code::make(so.index, f)});
        add_coboundary_to(heap, so.index, so.diam, f, k);
        if (vo)
          for (const Entry& e : vo->entries) {
            const coef_t g = mul(f, Code::coef(e.code));
            vheap.push(Entry{e.diam, Code::make(Code::index(e.code), g)});
            add_coboundary_to(heap, Code::index(e.code), e.diam, g, k);
            if ((++adds & 0xFF) == 0) poll();  // (a V can be long)
          }
      };
      auto reduce_one = [&](size_t j) {
        size_t col = j;
        heap.clear();
        vheap.clear();
        bool emergent = false;
        Entry pivot = init_column_in(heap, scratch, columns[j], k, claimed, emergent);
        if (emergent) {
          Slot* sl = insert_slot(Code::index(pivot.code));
          uint64_t expected = kUnowned;
          death[j] = pivot.diam;  // (written before the CAS that publishes it)
          if (sl->value.compare_exchange_strong(expected, owner_code(j, Code::coef(pivot.code)),
                                                std::memory_order_acq_rel))
            return;
          heap.clear();  // claimed meanwhile: reduce the full coboundary
          add_coboundary_to(heap, columns[j].index, columns[j].diam, 1, k);
          pivot = get_pivot(heap);
        }
        while (true) {
          if (pivot.code < 0) {
            death[col] = -1;
            return;
          }
          const index_t pidx = Code::index(pivot.code);
          const coef_t pc = Code::coef(pivot.code);
          Slot* sl = find_slot(pidx);
          uint64_t v = sl ? sl->value.load(std::memory_order_acquire) : kUnowned;
          bool finished = false;
          while (true) {
            if (v == kUnowned) {
              Simplex f;
              bool fneg;
              if (apparent_facet_of(pidx, pivot.diam, k + 1, f, fneg)) {
                const coef_t tc = fneg ? neg(1) : 1;
                const coef_t factor = Z2 ? 1 : neg(mul(pc, inverse_[tc]));
                vheap.push(Entry{f.diam, Code::make(f.index, factor)});
                add_coboundary_to(heap, f.index, f.diam, factor, k);
                break;
              }
              publish(col);
              if (!sl) sl = insert_slot(pidx);
              uint64_t expected = kUnowned;
              death[col] = pivot.diam;
              if (sl->value.compare_exchange_strong(expected, owner_code(col, pc), std::memory_order_acq_rel)) {
                finished = true;
                break;
              }
              v = expected;
              continue;
            }
            const size_t other = owner_column(v);
            if (other < col) {
              const VColumn* vo = vcols[other].load(std::memory_order_acquire);
              const uint64_t again = sl->value.load(std::memory_order_acquire);
              if (again != v) {
                v = again;
                continue;
              }
              add_other(other, vo, Z2 ? 1 : neg(mul(pc, inverse_[owner_coef(v)])));
              break;
            }
            // a later column holds the pivot: take it over and reduce that column further
            publish(col);
            uint64_t expected = v;
            death[col] = pivot.diam;
            if (!sl->value.compare_exchange_strong(expected, owner_code(col, pc), std::memory_order_acq_rel)) {
              v = expected;
              continue;
            }
            col = other;
            heap.clear();
            vheap.clear();
            const VColumn* vo = vcols[col].load(std::memory_order_acquire);
            add_coboundary_to(heap, columns[col].index, columns[col].diam, 1, k);
            if (vo)
              for (const Entry& e : vo->entries) {
                vheap.push(e);
                add_coboundary_to(heap, Code::index(e.code), e.diam, Code::coef(e.code), k);
                if ((++adds & 0xFF) == 0) poll();
              }
            break;
          }
          if (finished) return;
          if ((++adds & 0xFF) == 0) poll();
          pivot = get_pivot(heap);
        }
      };
      while (true) {
        poll();
        const size_t begin = next.fetch_add(kChunk, std::memory_order_relaxed);
        if (begin >= total) break;
        if (w == 0 && (begin & 0x1FFF) < kChunk && begin) progress(Stage::Reduction, k, begin, total);
        for (size_t j = begin; j < std::min(total, begin + kChunk); ++j) reduce_one(j);
      }
    }, [&] { check_cancel(); });
    for (size_t j = 0; j < total; ++j) {
      if (death[j] < 0) {
        bars.push_back(Interval{static_cast<double>(columns[j].diam), std::numeric_limits<double>::infinity()});
        ++out_.betti[k];
      } else if (death[j] > columns[j].diam) {
        bars.push_back(Interval{static_cast<double>(columns[j].diam), static_cast<double>(death[j])});
      }
    }
    // the next dimension's assembly clears the pivots; the top dimension has none
    vcols.reset();
    std::vector<std::vector<std::unique_ptr<VColumn>>>().swap(published);
    std::vector<value_t>().swap(death);
    if (k < top_dim_) {
      size_t owned = 0;
      for (size_t i = 0; i < cap; ++i) owned += slots[i].value.load(std::memory_order_relaxed) != kUnowned;
      pivots.reset(owned);
      for (size_t i = 0; i < cap; ++i) {
        const uint64_t v = slots[i].value.load(std::memory_order_relaxed);
        if (v != kUnowned) pivots.insert(slots[i].key.load(std::memory_order_relaxed), v);
      }
    }
    progress(Stage::Reduction, k, total, total);
  }

  Complex<Dist> cx_;
  const BinomialTable& B_;
  index_t n_;
  int top_dim_;
  coef_t p_;
  const Callbacks& cb_;
  RipsResult& out_;
  std::vector<coef_t> inverse_;
  Column heap_, vheap_;
  std::vector<Entry> scratch_, v_entries_;
  std::vector<size_t> v_offsets_;
  uint64_t additions_ = 0;  // column additions, for cancellation polling
  int threads_ = 1;
  size_t column_split_ = 0;
};

inline std::vector<Simplex> dense_edges(const DenseDistances& d, value_t thr) {
  std::vector<Simplex> edges;
  const size_t n = d.size();
  for (size_t i = 1; i < n; ++i) {
    const value_t* row = d.row(i);
    const index_t base = static_cast<index_t>(i * (i - 1) / 2);
    for (size_t j = 0; j < i; ++j)
      if (row[j] <= thr) edges.push_back(Simplex{row[j], base + static_cast<index_t>(j)});
  }
  return edges;
}

inline std::vector<Simplex> sparse_edges(const SparseDistances& d) {
  std::vector<Simplex> edges;
  edges.reserve(d.edge_count());
  for (size_t i = 0; i < d.size(); ++i) {
    const index_t base = static_cast<index_t>(i * (i - 1) / 2);
    for (const Neighbor* p = d.begin(i); p != d.end(i) && p->vertex < i; ++p)
      edges.push_back(Simplex{p->dist, base + static_cast<index_t>(p->vertex)});
  }
  return edges;
}

inline RipsResult make_result(size_t n, const RipsOptions& opt, value_t thr) {
  RipsResult r;
  r.diagrams.resize(opt.max_dim + 1);
  r.betti.assign(opt.max_dim + 1, 0);
  r.stats.points = n;
  r.stats.threshold_used = thr;
  return r;
}

template <class Dist>
void reduce_all(const Dist& d, std::vector<Simplex> edges, size_t n, const RipsOptions& opt, value_t thr,
                const Callbacks& cb, RipsResult& out) {
  const int threads = resolve_threads(opt.threads);
  const int top = static_cast<int>(std::min<size_t>(opt.max_dim, n >= 2 ? n - 2 : 0));
  BinomialTable B(static_cast<index_t>(n), top + 2);
  if (n < 2 || top < 0) {
    out.diagrams[0].push_back(Interval{0.0, std::numeric_limits<double>::infinity()});
    out.betti[0] = 1;
    return;
  }
  if (opt.modulus == 2) Reducer<Dist, true>(d, B, thr, top, 2, cb, out, threads, opt.column_split).run(std::move(edges));
  else Reducer<Dist, false>(d, B, thr, top, opt.modulus, cb, out, threads, opt.column_split).run(std::move(edges));
}

// Threshold as a float comparison value: the largest float f with f <= t, so
// that (float d <= f) <=> (double(d) <= t), as in Ripser's float comparisons.
inline value_t float_threshold(double t) {
  if (t >= static_cast<double>(std::numeric_limits<value_t>::max())) return std::numeric_limits<value_t>::infinity();
  value_t f = static_cast<value_t>(t);
  if (static_cast<double>(f) > t) f = std::nextafter(f, -std::numeric_limits<value_t>::infinity());
  return f;
}

inline value_t choose_threshold(const RipsOptions& opt, value_t radius) {
  if (!opt.threshold) return radius;
  return std::min(radius, float_threshold(*opt.threshold));
}

inline void check_cancel(const Callbacks& cb) {
  if (cb.is_cancelled && cb.is_cancelled()) throw Cancelled();
}

inline void report(const Callbacks& cb, Stage s, uint64_t bytes) {
  if (cb.on_progress) cb.on_progress(ProgressInfo{s, 0, 0, 0, bytes});
}

}  // namespace detail

// Dense mode keeps a full n x n float matrix; above this many points the
// neighbour lists (sparse mode) are used even without a threshold.
inline constexpr size_t kDenseMaxPoints = 20000;

// Point cloud: n*dim float coordinates, row-major.
inline RipsResult rips_from_points(const std::vector<value_t>& coords, size_t n, size_t dim, const RipsOptions& opt,
                                   const Callbacks& cb = {}) {
  detail::validate_options(n, opt);
  if (dim == 0) throw InvalidInput("point dimension must be at least 1");
  if (coords.size() != n * dim) throw InvalidInput("coordinate count does not match n * dim");
  detail::validate_values(coords, false, "coordinates");
  auto poll = [&] { detail::check_cancel(cb); };
  poll();
  detail::report(cb, Stage::Distances, coords.size() * sizeof(value_t));
  const int threads = resolve_threads(opt.threads);
  const value_t radius = enclosing_radius_points(coords, n, dim, poll, threads);
  const value_t thr = detail::choose_threshold(opt, radius);
  RipsResult out = detail::make_result(n, opt, thr);
  if (!opt.threshold && n <= kDenseMaxPoints) {
    DenseDistances d(coords, n, dim, poll, threads);
    detail::report(cb, Stage::Distances, d.bytes());
    detail::reduce_all(d, detail::dense_edges(d, thr), n, opt, thr, cb, out);
  } else {
    SparseDistances d = SparseDistances::from_points(coords, n, dim, thr, poll, threads);
    detail::report(cb, Stage::Distances, d.bytes());
    detail::reduce_all(d, detail::sparse_edges(d), n, opt, thr, cb, out);
  }
  if (cb.on_progress) cb.on_progress(ProgressInfo{Stage::Done, opt.max_dim, 0, 0, 0});
  return out;
}

// Strict lower triangle row by row: d(1,0), d(2,0), d(2,1), d(3,0), ...
inline RipsResult rips_from_lower_distances(std::vector<value_t> lower, size_t n, const RipsOptions& opt,
                                            const Callbacks& cb = {}) {
  detail::validate_options(n, opt);
  if (lower.size() != n * (n - 1) / 2) throw InvalidInput("distance count does not match n(n-1)/2");
  detail::validate_values(lower, true, "distances");
  detail::check_cancel(cb);
  const value_t radius = enclosing_radius_lower(lower, n);
  const value_t thr = detail::choose_threshold(opt, radius);
  RipsResult out = detail::make_result(n, opt, thr);
  detail::check_cancel(cb);
  if (!opt.threshold && n <= kDenseMaxPoints) {
    DenseDistances d(lower, n, Workers{resolve_threads(opt.threads)});
    std::vector<value_t>().swap(lower);
    detail::report(cb, Stage::Distances, d.bytes());
    detail::reduce_all(d, detail::dense_edges(d, thr), n, opt, thr, cb, out);
  } else {
    SparseDistances d = SparseDistances::from_lower(lower, n, thr);
    std::vector<value_t>().swap(lower);
    detail::report(cb, Stage::Distances, d.bytes());
    detail::reduce_all(d, detail::sparse_edges(d), n, opt, thr, cb, out);
  }
  if (cb.on_progress) cb.on_progress(ProgressInfo{Stage::Done, opt.max_dim, 0, 0, 0});
  return out;
}

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
