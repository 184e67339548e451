// The Vietoris-Rips complex over a distance storage, implicitly: simplices are
// combinatorial-number-system indices, and their cofacets are enumerated from the
// distances (all vertices for a dense matrix, common neighbours for neighbour
// lists), in decreasing index order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "tda/core/binomial.hpp"
#include "tda/core/distances.hpp"
#include "tda/core/persistence.hpp"
#include "tda/core/types.hpp"

namespace tda::core {
namespace detail {

constexpr int kMaxVertices = kMaxDimension + 4;

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
  // sigma + {j} has sigma's diameter), or -1. Scanned in blocks from the top:
  // the largest distance to sigma's vertices (a max over the rows, which
  // vectorises), then whether any of the block is within diam.
  index_t top_equal_vertex(const index_t* vs, int k, value_t diam) const {
    constexpr index_t kBlock = 64;
    const value_t* rows[kMaxVertices];
    for (int i = 0; i <= k; ++i) rows[i] = d_.row(vs[i]);
    value_t far[kBlock];
    for (index_t hi = n_; hi > 0; hi -= kBlock) {
      const index_t lo = hi > kBlock ? hi - kBlock : 0;
      const int len = static_cast<int>(hi - lo);
      const value_t* r0 = rows[0] + lo;
      for (int t = 0; t < len; ++t) far[t] = r0[t];
      for (int i = 1; i <= k; ++i) {
        const value_t* ri = rows[i] + lo;
        for (int t = 0; t < len; ++t) far[t] = far[t] < ri[t] ? ri[t] : far[t];
      }
      int within = 0;
      for (int t = 0; t < len; ++t) within += far[t] <= diam;
      if (within == 0) continue;
      for (int t = len - 1; t >= 0; --t) {
        if (!(far[t] <= diam)) continue;
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
  Complex(const SparseDistances& d, const BinomialTable& B, value_t)
      : d_(d), B_(B), n_(d.size()), death_(d.vertex_deaths()) {}
  value_t dist(index_t a, index_t b) const { return d_(a, b); }

  // Common neighbours of all vertices, walked downwards from the shortest list.
  // With vertex deaths (the sparse Rips filtration, sparse_rips.hpp) a cofacet
  // whose diameter exceeds the death of one of its vertices does not exist.
  template <class F>
  void cofacets(const index_t* vs, int k, index_t idx, value_t diam, bool upper_only, F&& f) const {
    value_t alive_until = std::numeric_limits<value_t>::infinity();
    if (death_)
      for (int i = 0; i <= k; ++i) alive_until = std::min(alive_until, death_[vs[i]]);
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
        if (static_cast<index_t>((q - 1)->vertex) != j) {
          common = false;
          break;
        }
        dj = std::max(dj, (q - 1)->dist);
        to[i] = (q - 1)->dist;
      }
      if (!common) continue;
      while (a <= k && vs[a] > j) {
        above += B_(vs[a], k - a + 2);
        below -= B_(vs[a], k - a + 1);
        ++a;
      }
      if (death_ && (dj > alive_until || dj > death_[j])) continue;  // blocked: a vertex died before
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
  const value_t* death_;  // nullptr: the flag complex
};
}  // namespace detail
}  // namespace tda::core
