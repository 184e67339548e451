// The reduction of the Rips coboundary matrices (Ripser's method; see rips.hpp):
// dimension 0 by union-find, column assembly with clearing and apparent pairs,
// and the reduction of each dimension, serial or lock-free concurrent. It takes
// an edge list and a distance storage and knows nothing of where they came from.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "tda/core/binomial.hpp"
#include "tda/core/complex.hpp"
#include "tda/core/hash_map.hpp"
#include "tda/core/parallel.hpp"
#include "tda/core/persistence.hpp"
#include "tda/core/pivot_table.hpp"
#include "tda/core/rips_options.hpp"
#include "tda/core/types.hpp"
#include "tda/core/union_find.hpp"
#include "tda/core/working_column.hpp"

#ifdef TDA_CORE_PROFILE
#define TDA_CORE_NOINLINE __attribute__((noinline))
#else
#define TDA_CORE_NOINLINE
#endif

namespace tda::core {
namespace detail {

// Z/p coefficient packed in the top byte.

template <bool Z2>
struct Coding {
  static constexpr int kShift = 55;  // coefficient in bits 55..62, so codes stay non-negative
  static constexpr index_t kMask = (index_t{1} << kShift) - 1;
  static index_t index(index_t code) {
    if constexpr (Z2) return code;
    else return code & kMask;
  }
  static coef_t coef(index_t code) {
    if constexpr (Z2) return 1;
    else return static_cast<coef_t>(static_cast<uint64_t>(code) >> kShift);
  }
  static index_t make(index_t idx, coef_t c) {
    if constexpr (Z2) return idx;
    else return idx | (static_cast<index_t>(c) << kShift);
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
    static index_t index(const Entry& e) { return Code::index(e.code); }  // (the radix sort's key)
  };

 public:
  Reducer(const Dist& dist, const BinomialTable& B, value_t thr, int top_dim, int modulus, const Callbacks& cb,
          RipsResult& out, int threads = 1, size_t column_split = 0)
      : cx_(dist, B, thr),
        B_(B),
        n_(dist.size()),
        top_dim_(top_dim),
        p_(static_cast<coef_t>(modulus)),
        cb_(cb),
        out_(out),
        heap_(column_split),
        vheap_(column_split),
        threads_(std::max(1, threads)),
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
    columns_ = &columns;
    simplices_ = &simplices;
    pivots_ = &pivots;
    if (cb_.memory) cb_.memory->set(MemoryBudget::kEdges, 0);  // (now the simplices of dimension 1)
    account();
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
  // Polls for cancellation, charges the memory guard and, at most every
  // kProgressInterval, reports the current stage with its count so far (workers
  // move the count, the polling thread reports it). Runs on one thread at a time:
  // the caller's, or worker 0 inside parallel sections.
  void check_cancel() const {
    if (cb_.is_cancelled && cb_.is_cancelled()) throw Cancelled();
    account();
    if (cb_.on_progress && std::chrono::steady_clock::now() - last_report_ >= kProgressInterval)
      progress(stage_, stage_dim_, std::min(stage_done_.load(std::memory_order_relaxed), stage_total_), stage_total_);
  }
  // Moves the count of the current stage (any worker).
  void advance(uint64_t by) const { stage_done_.fetch_add(by, std::memory_order_relaxed); }
  void set_done(uint64_t done) const { stage_done_.store(done, std::memory_order_relaxed); }
  // Charges the reduction's structures to the memory guard (persistence.hpp).
  void account() const {
    if (!cb_.memory) return;
    uint64_t simplices = 0;
    if (simplices_)
      for (const auto& seg : *simplices_) simplices += seg.capacity() * sizeof(Simplex);
    cb_.memory->set(MemoryBudget::kSimplices, simplices);
    cb_.memory->set(MemoryBudget::kReduction, held_.load(std::memory_order_relaxed) +
                                                  (columns_ ? columns_->capacity() * sizeof(Simplex) : 0) +
                                                  (pivots_ ? pivots_->bytes() : 0));
    cb_.memory->set(MemoryBudget::kWorking, bytes_in_use());
  }
  void progress(Stage s, int dim, uint64_t done, uint64_t total) const {
    stage_ = s;
    stage_dim_ = dim;
    stage_total_ = total;
    stage_done_.store(done, std::memory_order_relaxed);
    last_report_ = std::chrono::steady_clock::now();
    if (cb_.on_progress) cb_.on_progress(ProgressInfo{s, dim, done, total, reported_bytes(cb_, bytes_in_use())});
  }
  // The working columns, V and (during a concurrent reduction) its shared
  // structures and every worker's columns.
  uint64_t bytes_in_use() const {
    return heap_.capacity_bytes() + vheap_.capacity_bytes() +
           (v_entries_.capacity() + scratch_.capacity()) * sizeof(Entry) + v_offsets_.capacity() * sizeof(size_t) +
           (pdim_ ? pdim_->bytes() : 0);
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
        if (dist(a, b) == tdiam) {
          a0 = a;
          b0 = b;
          break;
        }
    if (a0 < 0) return false;
    int r = 0;
    for (; r <= m; ++r) {
      if (r != a0 && r != b0) break;
      bool other = false;  // another diameter pair avoiding r?
      for (int a = 0; a < m && !other; ++a) {
        if (a == r) continue;
        for (int b = a + 1; b <= m; ++b)
          if (b != r && dist(a, b) == tdiam) {
            other = true;
            break;
          }
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
    return latest_full_facet(
        w, m, tdiam, [&](int a, int b) { return cx_.dist(w[a], w[b]); }, fv, fidx, removed);
  }

  // Is tau = facet + {x} the first cofacet of equal diameter of the facet?
  bool facet_pairs_with(index_t x, value_t tdiam, int m, const index_t* fv) const {
    return cx_.top_equal_vertex(fv, m - 1, tdiam) == x;
  }

  // Is tau (vertices w) the cofacet of a zero-persistence apparent pair? If so
  // returns the facet and whether tau appears with a negative sign in its coboundary.
  TDA_CORE_NOINLINE bool apparent_facet(const index_t* w, int m, value_t tdiam, Simplex& facet, bool& negative) const {
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
    // (counted in edges: the sort is the first half, the apparent pairs and the union-find the second)
    const uint64_t E = edges.size();
    progress(Stage::Dim0, 0, 0, 2 * E);
    const auto sort_start = std::chrono::steady_clock::now();
    parallel_sort(
        edges,
        [](const Simplex& a, const Simplex& b) { return a.diam < b.diam || (a.diam == b.diam && a.index > b.index); },
        threads_);
    out_.stats.seconds_sort = std::chrono::duration<double>(std::chrono::steady_clock::now() - sort_start).count();
    progress(Stage::Dim0, 0, E, 2 * E);
    check_cancel();
    // with several workers the apparent-pair test of every edge runs up front
    std::vector<unsigned char> apparent;
    if (threads_ > 1 && top_dim_ >= 1) {
      apparent.resize(edges.size());
      WorkerGroup(threads_).chunks(
          edges.size(), 4096,
          [&](size_t lo, size_t hi, int) {
            for (size_t t = lo; t < hi; ++t) {
              index_t v[2];
              decode_simplex(B_, edges[t].index, 2, n_, v);
              apparent[t] = apparent_cofacet(v, 1, edges[t].index, edges[t].diam);
            }
            advance((hi - lo) / 2);
          },
          [&] { check_cancel(); });
    }
    const uint64_t base = apparent.empty() ? E : E + E / 2;  // (the union-find's share starts here)
    auto& bars = out_.diagrams[0];
    UnionFind uf(n_);
    std::vector<Simplex> columns;
    size_t done = 0;
    for (const Simplex& e : edges) {
      if ((++done & 0x3FF) == 0) {
        set_done(base + (2 * E - base) * done / E);
        check_cancel();
      }
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
    progress(Stage::Dim0, 0, 2 * E, 2 * E);
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
    uint64_t facets = 0;
    for (const auto& seg : simplices) {
      facets += seg.size();
      for (size_t b = 0; b < seg.size(); b += kPiece)
        pieces.push_back(Piece{seg.data() + b, seg.data() + std::min(seg.size(), b + kPiece), {}, {}, 0});
    }
    // (counted in (k-1)-simplices whose cofacets were enumerated)
    progress(Stage::Assembly, k, 0, facets);
    WorkerGroup(threads_).chunks(
        pieces.size(), 1,
        [&](size_t lo, size_t hi, int) {
          for (size_t t = lo; t < hi; ++t) {
            assemble_piece(k, keep, pieces[t], pivots);
            advance(static_cast<uint64_t>(pieces[t].end - pieces[t].begin));
            held_.fetch_add((pieces[t].next.capacity() + pieces[t].columns.capacity()) * sizeof(Simplex),
                            std::memory_order_relaxed);
          }
        },
        [&] { check_cancel(); });
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
    held_.store(0, std::memory_order_relaxed);
    check_cancel();
    parallel_sort(
        columns,
        [](const Simplex& a, const Simplex& b) { return a.diam > b.diam || (a.diam == b.diam && a.index < b.index); },
        threads_);
    progress(Stage::Assembly, k, facets, facets);
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
    return init_column_in(
        heap_, scratch_, s, k, [&](index_t c) { return pivots.contains(c); }, is_emergent);
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
        set_done(j);
        check_cancel();
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
            if (pivot.diam > s.diam)
              bars.push_back(Interval{static_cast<double>(s.diam), static_cast<double>(pivot.diam)});
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
  using Slot = ConcurrentPivotTable::Slot;
  static constexpr uint64_t kUnowned = ConcurrentPivotTable::kUnowned;

  static uint64_t owner_code(size_t col, coef_t c) { return Z2 ? col : (static_cast<uint64_t>(col) << 8 | c); }
  static size_t owner_column(uint64_t v) { return Z2 ? static_cast<size_t>(v) : static_cast<size_t>(v >> 8); }
  static coef_t owner_coef(uint64_t v) { return Z2 ? 1 : static_cast<coef_t>(v & 0xFF); }

  // Shared state of one dimension's concurrent reduction.
  struct ParallelDim {
    ParallelDim(const std::vector<Simplex>& cols, int threads)
        : columns(cols),
          total(cols.size()),
          table(total, threads),
          vcols(new std::atomic<const VColumn*>[total]),
          death(total, -1),
          group(threads),
          published(group.size()),
          worker_bytes(new WorkerBytes[group.size()]) {}
    // What one worker holds (working columns, published V), stored by the worker
    // at its polls and publications, read by worker 0 for the memory guard.
    struct alignas(64) WorkerBytes {
      std::atomic<uint64_t> bytes{0};
    };
    const std::vector<Simplex>& columns;
    const size_t total;
    ConcurrentPivotTable table;
    std::unique_ptr<std::atomic<const VColumn*>[]> vcols;  // latest published V per column
    std::vector<value_t> death;                            // pivot diameter of the final column; -1: zero column
    WorkerGroup group;
    std::vector<std::vector<std::unique_ptr<VColumn>>> published;  // per worker, until the end of the dimension
    std::atomic<size_t> next{0};                                   // first column not handed out yet
    std::unique_ptr<WorkerBytes[]> worker_bytes;

    // The shared structures and every worker's, for the memory guard.
    uint64_t bytes() const {
      uint64_t b = table.bytes() + total * (sizeof(std::atomic<const VColumn*>) + sizeof(value_t));
      for (int w = 0; w < group.size(); ++w) b += worker_bytes[w].bytes.load(std::memory_order_relaxed);
      return b;
    }
  };

  // One worker of the concurrent reduction: its working columns and the steps
  // of reducing a column against the shared pivot table.
  class ParallelWorker {
   public:
    static constexpr size_t kChunk = 32;

    ParallelWorker(const Reducer& r, ParallelDim& dim, int k, int w)
        : r_(r), d_(dim), k_(k), w_(w), heap_(r.column_split_), vheap_(r.column_split_) {
      heap_.set_poll([this] { poll(); });
    }

    // Takes chunks of columns in order until none is left.
    void run() {
      while (true) {
        poll();
        const size_t begin = d_.next.fetch_add(kChunk, std::memory_order_relaxed);
        if (begin >= d_.total) break;
        r_.set_done(begin);  // (columns handed out; worker 0 reports them when it polls)
        for (size_t j = begin; j < std::min(d_.total, begin + kChunk); ++j) reduce_one(j);
      }
    }

   private:
    // (worker 0 polls for cancellation, the others stop when a worker failed)
    void poll() const {
      report();
      if (w_ == 0) r_.check_cancel();
      else if (d_.group.failed()) throw Cancelled();
    }
    // Stores what this worker holds (its working columns and the V it published).
    void report() const {
      d_.worker_bytes[w_].bytes.store(heap_.capacity_bytes() + vheap_.capacity_bytes() +
                                          scratch_.capacity() * sizeof(Entry) + published_bytes_ +
                                          d_.published[w_].capacity() * sizeof(std::unique_ptr<VColumn>),
                                      std::memory_order_relaxed);
    }
    void count_addition() {
      if ((++adds_ & 0xFF) == 0) poll();
    }

    // Publishes V of col (the consolidated vheap, kept usable afterwards).
    void publish(size_t col) {
      if (vheap_.empty()) {  // (most columns: nothing to allocate)
        d_.vcols[col].store(nullptr, std::memory_order_release);
        return;
      }
      auto vc = std::make_unique<VColumn>();
      for (Entry e = r_.pop_pivot(vheap_); e.code >= 0; e = r_.pop_pivot(vheap_)) vc->entries.push_back(e);
      vheap_.clear();
      vheap_.add([&](auto&& sink) {
        for (const Entry& e : vc->entries) sink(e);
      });
      d_.vcols[col].store(vc.get(), std::memory_order_release);
      // (the vector's block and the VColumn, each with the allocator's header)
      published_bytes_ += vc->entries.capacity() * sizeof(Entry) + sizeof(VColumn) + 2 * kMallocHeader;
      d_.published[w_].push_back(std::move(vc));
      report();
    }

    // working column += f * (column `other` as of its published V)
    void add_other(size_t other, const VColumn* vo, coef_t f) {
      const Simplex& so = d_.columns[other];
      vheap_.push(Entry{so.diam, Code::make(so.index, f)});
      r_.add_coboundary_to(heap_, so.index, so.diam, f, k_);
      if (vo)
        for (const Entry& e : vo->entries) {
          const coef_t g = r_.mul(f, Code::coef(e.code));
          vheap_.push(Entry{e.diam, Code::make(Code::index(e.code), g)});
          r_.add_coboundary_to(heap_, Code::index(e.code), e.diam, g, k_);
          count_addition();  // (a V can be long)
        }
    }

    // Restarts the working column as column col with its published V.
    void take_over(size_t col) {
      heap_.clear();
      vheap_.clear();
      const VColumn* vo = d_.vcols[col].load(std::memory_order_acquire);
      r_.add_coboundary_to(heap_, d_.columns[col].index, d_.columns[col].diam, 1, k_);
      if (vo)
        for (const Entry& e : vo->entries) {
          vheap_.push(e);
          r_.add_coboundary_to(heap_, Code::index(e.code), e.diam, Code::coef(e.code), k_);
          count_addition();
        }
    }

    // The pivot is the cofacet of an apparent pair: adds the partner's coboundary.
    bool add_apparent(index_t pidx, const Entry& pivot, coef_t pc) {
      Simplex f;
      bool fneg;
      if (!r_.apparent_facet_of(pidx, pivot.diam, k_ + 1, f, fneg)) return false;
      const coef_t tc = fneg ? r_.neg(1) : 1;
      const coef_t factor = Z2 ? 1 : r_.neg(r_.mul(pc, r_.inverse_[tc]));
      vheap_.push(Entry{f.diam, Code::make(f.index, factor)});
      r_.add_coboundary_to(heap_, f.index, f.diam, factor, k_);
      return true;
    }

    // An emergent pair is claimed at once; if another column claimed the pivot
    // meanwhile, the working column becomes the full coboundary (new pivot).
    bool claim_emergent(size_t j, Entry& pivot) {
      Slot* sl = d_.table.insert(Code::index(pivot.code));
      uint64_t expected = kUnowned;
      d_.death[j] = pivot.diam;  // (written before the CAS that publishes it)
      if (sl->value.compare_exchange_strong(expected, owner_code(j, Code::coef(pivot.code)), std::memory_order_acq_rel))
        return true;
      heap_.clear();
      r_.add_coboundary_to(heap_, d_.columns[j].index, d_.columns[j].diam, 1, k_);
      pivot = r_.get_pivot(heap_);
      return false;
    }

    // One step on the pivot of the working column, which belongs to column col:
    // reduce it away, claim it (true: col is done), or take over the later column
    // that held it (col changes).
    bool resolve_pivot(size_t& col, const Entry& pivot) {
      const index_t pidx = Code::index(pivot.code);
      const coef_t pc = Code::coef(pivot.code);
      Slot* sl = d_.table.find(pidx);
      uint64_t v = sl ? sl->value.load(std::memory_order_acquire) : kUnowned;
      while (true) {
        if (v == kUnowned) {
          if (add_apparent(pidx, pivot, pc)) return false;
          publish(col);
          if (!sl) sl = d_.table.insert(pidx);
          uint64_t expected = kUnowned;
          d_.death[col] = pivot.diam;
          if (sl->value.compare_exchange_strong(expected, owner_code(col, pc), std::memory_order_acq_rel)) return true;
          v = expected;
          continue;
        }
        const size_t other = owner_column(v);
        if (other < col) {
          const VColumn* vo = d_.vcols[other].load(std::memory_order_acquire);
          const uint64_t again = sl->value.load(std::memory_order_acquire);
          if (again != v) {
            v = again;
            continue;
          }
          add_other(other, vo, Z2 ? 1 : r_.neg(r_.mul(pc, r_.inverse_[owner_coef(v)])));
          return false;
        }
        // a later column holds the pivot: take it over and reduce that column further
        publish(col);
        uint64_t expected = v;
        d_.death[col] = pivot.diam;
        if (!sl->value.compare_exchange_strong(expected, owner_code(col, pc), std::memory_order_acq_rel)) {
          v = expected;
          continue;
        }
        col = other;
        take_over(col);
        return false;
      }
    }

    void reduce_one(size_t j) {
      size_t col = j;
      heap_.clear();
      vheap_.clear();
      bool emergent = false;
      Entry pivot = r_.init_column_in(
          heap_, scratch_, d_.columns[j], k_, [this](index_t c) { return d_.table.claimed(c); }, emergent);
      if (emergent && claim_emergent(j, pivot)) return;
      while (true) {
        if (pivot.code < 0) {
          d_.death[col] = -1;
          return;
        }
        if (resolve_pivot(col, pivot)) return;
        count_addition();
        pivot = r_.get_pivot(heap_);
      }
    }

    const Reducer& r_;
    ParallelDim& d_;
    const int k_, w_;
    Column heap_, vheap_;
    std::vector<Entry> scratch_;
    uint64_t adds_ = 0;
    uint64_t published_bytes_ = 0;
  };

  void reduce_parallel(int k, const std::vector<Simplex>& columns, PivotMap& pivots) {
    const size_t total = columns.size();
    progress(Stage::Reduction, k, 0, total);
    out_.stats.columns_reduced += total;
    ParallelDim dim(columns, threads_);
    pdim_ = &dim;
    struct Detach {  // (dim goes away with this scope, also by an exception)
      const ParallelDim*& p;
      ~Detach() { p = nullptr; }
    } detach{pdim_};
    check_cancel();
    dim.group.chunks(total, 1 << 16, [&](size_t lo, size_t hi, int) {
      for (size_t i = lo; i < hi; ++i) dim.vcols[i].store(nullptr, std::memory_order_relaxed);
    });
    // (worker 0 polls for cancellation; out of columns, it goes on polling while
    // the others finish theirs: one can take seconds, the long bars of rp2_600)
    dim.group.run_polled([&](int w) { ParallelWorker(*this, dim, k, w).run(); }, [&] { check_cancel(); });
    emit_bars(k, dim);
    // the next dimension's assembly clears the pivots; the top dimension has none
    dim.vcols.reset();
    std::vector<std::vector<std::unique_ptr<VColumn>>>().swap(dim.published);
    std::vector<value_t>().swap(dim.death);
    if (k < top_dim_) {
      pivots.reset(dim.table.owned());
      dim.table.for_each_owned([&](index_t key, uint64_t owner) { pivots.insert(key, owner); });
      check_cancel();  // (the table and the pivots at once)
    }
    progress(Stage::Reduction, k, total, total);
  }

  // The bars of dimension k in column order, as the serial reduction emits them.
  void emit_bars(int k, const ParallelDim& dim) {
    auto& bars = out_.diagrams[k];
    for (size_t j = 0; j < dim.total; ++j) {
      const value_t birth = dim.columns[j].diam;
      if (dim.death[j] < 0) {
        bars.push_back(Interval{static_cast<double>(birth), std::numeric_limits<double>::infinity()});
        ++out_.betti[k];
      } else if (dim.death[j] > birth) {
        bars.push_back(Interval{static_cast<double>(birth), static_cast<double>(dim.death[j])});
      }
    }
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
  // the memory guard (account()): run()'s lists, and bytes held elsewhere (assembly pieces, parallel reduction)
  const std::vector<Simplex>* columns_ = nullptr;
  const Segments* simplices_ = nullptr;
  const PivotMap* pivots_ = nullptr;
  mutable std::atomic<uint64_t> held_{0};
  const ParallelDim* pdim_ = nullptr;  // the concurrent reduction under way, if any
  static constexpr uint64_t kMallocHeader = 16;
  // the stage being reported (progress(), check_cancel())
  static constexpr std::chrono::milliseconds kProgressInterval{100};
  mutable Stage stage_ = Stage::Dim0;
  mutable int stage_dim_ = 0;
  mutable uint64_t stage_total_ = 0;
  mutable std::atomic<uint64_t> stage_done_{0};
  mutable std::chrono::steady_clock::time_point last_report_{};
  int threads_ = 1;
  size_t column_split_ = 0;
};
}  // namespace detail
}  // namespace tda::core
