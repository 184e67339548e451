// The working column of a matrix reduction: entries (diameter, code) with lazy
// cancellation, the earliest entry of the filtration on top.
//
// Small columns are one 4-ary max-heap (shallower and more cache-friendly than a
// binary heap). A column that grows past `kSplitAt` entries -- the long bars of
// hard inputs, where one column collects 10^8 entries (rp2_600 over Z/2) -- is cut
// by diameter into buckets: only the front bucket, holding the earliest entries,
// is a heap; later buckets are plain arrays, heapified when the pivot reaches
// them, and entries past the final pivot are never ordered at all. Every entry of
// one diameter lands in one bucket, so equal entries meet at the top of the heap
// and cancel as before. A front bucket that grows past the limit is cut again at
// quantiles of its own diameters.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>
#include <cstddef>
#include <functional>
#include <limits>
#include <vector>

#include "tda/core/types.hpp"

namespace tda::core {

// 12 bytes, not 16: packed, because working columns of hard inputs hold 10^7..10^8
// of them (measured: 25% less peak memory and slightly faster on rp2_600, dragon).
struct __attribute__((packed)) Entry {
  value_t diam;
  index_t code;
};
static_assert(sizeof(Entry) == 12);

// A growable array of entries on malloc/realloc. Entry is trivially copyable, and
// glibc grows a large block by remapping its pages instead of copying them: a
// bucket of 10^7..10^8 entries grows without a pause of a memcpy (which also
// needed twice the memory for a moment) -- the pause was ~150 ms, longer than
// the engine's cancellation budget.
class EntryBuffer {
 public:
  EntryBuffer() = default;
  EntryBuffer(const EntryBuffer&) = delete;
  EntryBuffer& operator=(const EntryBuffer&) = delete;
  EntryBuffer(EntryBuffer&& o) noexcept : p_(o.p_), n_(o.n_), cap_(o.cap_) { o.p_ = nullptr, o.n_ = o.cap_ = 0; }
  EntryBuffer& operator=(EntryBuffer&& o) noexcept {
    if (this != &o) {
      std::free(p_);
      p_ = o.p_, n_ = o.n_, cap_ = o.cap_;
      o.p_ = nullptr, o.n_ = o.cap_ = 0;
    }
    return *this;
  }
  ~EntryBuffer() { std::free(p_); }

  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  size_t capacity() const { return cap_; }
  Entry* data() { return p_; }
  const Entry* data() const { return p_; }
  Entry* begin() { return p_; }
  Entry* end() { return p_ + n_; }
  const Entry* begin() const { return p_; }
  const Entry* end() const { return p_ + n_; }
  Entry& operator[](size_t i) { return p_[i]; }
  const Entry& operator[](size_t i) const { return p_[i]; }
  Entry& front() { return p_[0]; }
  const Entry& front() const { return p_[0]; }
  Entry& back() { return p_[n_ - 1]; }

  // (inlined where entries are routed, one call per entry; the growth is not)
  __attribute__((always_inline)) void push_back(const Entry& e) {
    if (__builtin_expect(n_ == cap_, 0)) grow(n_ + 1);
    p_[n_++] = e;
  }
  void pop_back() { --n_; }
  void resize(size_t n) {
    if (n > cap_) grow(n);
    n_ = n;
  }
  void clear() { n_ = 0; }
  /** Frees the memory. */
  void release() {
    std::free(p_);
    p_ = nullptr, n_ = cap_ = 0;
  }
  void swap(EntryBuffer& o) noexcept { std::swap(p_, o.p_), std::swap(n_, o.n_), std::swap(cap_, o.cap_); }

 private:
  __attribute__((noinline)) void grow(size_t need) {
    size_t cap = std::max<size_t>(need, cap_ < 1024 ? 1024 : cap_ + cap_ / 2);
    void* q = std::realloc(p_, cap * sizeof(Entry));
    if (!q) throw std::bad_alloc();
    p_ = static_cast<Entry*>(q);
    cap_ = cap;
  }

  Entry* p_ = nullptr;
  size_t n_ = 0, cap_ = 0;
};

// 4-ary max-heap over a vector; Later(a, b) says a comes after b in the filtration,
// so the top is the earliest entry.
template <class Later>
struct Heap4 {
  static bool lower(const Entry& a, const Entry& b) { return Later{}(a, b); }

  static void sift_up(EntryBuffer& h, size_t i) {
    const Entry e = h[i];
    while (i > 0) {
      const size_t parent = (i - 1) / 4;
      if (!lower(h[parent], e)) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = e;
  }

  // The earliest of the children of i among the first n entries (i has one).
  static size_t earliest_child(const EntryBuffer& h, size_t i, size_t n) {
    const size_t first = 4 * i + 1;
    size_t best = first;
    const size_t last = std::min(first + 4, n);
    for (size_t t = first + 1; t < last; ++t)
      if (lower(h[best], h[t])) best = t;
    return best;
  }

  static void sift_down(EntryBuffer& h, size_t i) {
    const size_t n = h.size();
    const Entry e = h[i];
    while (4 * i + 1 < n) {
      const size_t best = earliest_child(h, i, n);
      if (!lower(e, h[best])) break;
      h[i] = h[best];
      i = best;
    }
    h[i] = e;
  }

  static void push(EntryBuffer& h, Entry e) {
    h.push_back(e);
    sift_up(h, h.size() - 1);
  }

  // Bottom-up: the hole left by the top goes down along the earliest children to
  // a leaf, and the last entry (which usually belongs near the bottom) is sifted
  // up from there: one comparison a level fewer than sifting it down from the top.
  static void pop(EntryBuffer& h) {
    const size_t n = h.size() - 1;
    const Entry e = h[n];
    h.pop_back();
    if (n == 0) return;
    size_t i = 0;
    while (4 * i + 1 < n) {
      const size_t best = earliest_child(h, i, n);
      h[i] = h[best];
      i = best;
    }
    h[i] = e;
    sift_up(h, i);
  }

  static void make(EntryBuffer& h) {
    if (h.size() < 2) return;
    for (size_t i = (h.size() - 2) / 4 + 1; i-- > 0;) sift_down(h, i);
  }

  // Restores the heap after entries were appended from position `before` on:
  // sifted up one by one, or rebuilt when they dominate.
  static void appended(EntryBuffer& h, size_t before) {
    if (h.size() - before > before / 4) make(h);
    else
      for (size_t t = before; t < h.size(); ++t) sift_up(h, t);
  }

  // The entry right below the top (the largest child of the root), or nullptr.
  static const Entry* second(const EntryBuffer& h) {
    const size_t last = std::min<size_t>(5, h.size());
    if (last < 2) return nullptr;
    size_t best = 1;
    for (size_t t = 2; t < last; ++t)
      if (lower(h[best], h[t])) best = t;
    return &h[best];
  }
};

template <class Later>
class WorkingColumn {
  using H = Heap4<Later>;

 public:
  static constexpr size_t kSplitAt = size_t{1} << 17;  // entries at the front before they are cut (default)
  static constexpr size_t kSample = 4096;              // diameters sampled to place the cuts
  static constexpr size_t kCuts = 15;                  // cuts per split (at most)
  static constexpr size_t kRadixMin = 1024;            // entries from which a run is radix-sorted

  explicit WorkingColumn(size_t split_at = 0) : split_limit_(split_at ? split_at : kSplitAt), split_at_(split_limit_) {}

  // Called about every million entries moved while a huge front is cut (tens of
  // milliseconds of work): a place to check for cancellation (it may throw; the
  // column is then only good for clear() or destruction).
  void set_poll(std::function<void()> poll) { poll_ = std::move(poll); }

  void clear() {
    heap_.clear();
    if (!buckets_.empty()) {  // (rare: release the memory of a huge column)
      heap_.release();
      run_.release();
      scratch_.release();
      bound_.clear();
      buckets_.clear();
    }
    pos_ = 0;
    front_ = 0;
    split_at_ = split_limit_;
  }

  // Calls gen(sink) where sink(Entry) adds one entry.
  template <class Gen>
  void add(Gen&& gen) {
    if (buckets_.empty()) {
      const size_t before = heap_.size();
      gen([&](const Entry& e) { heap_.push_back(e); });
      H::appended(heap_, before);
    } else {
      gen([&](const Entry& e) { route(e); });
    }
    if (heap_.size() > split_at_) split_front();
  }

  void push(const Entry& e) {
    if (buckets_.empty()) H::push(heap_, e);
    else route(e);
  }

  // True when no entry is left. Brings the next bucket forward when the front
  // ran empty, so top()/pop()/second() may follow.
  bool empty() {
    if (front_empty() && !buckets_.empty()) refill();
    return front_empty();
  }
  const Entry& top() const { return from_run() ? run_[pos_] : heap_.front(); }
  void pop() {
    if (from_run()) ++pos_;
    else H::pop(heap_);
  }
  // The entry that follows the top, or nullptr if none is at the front.
  const Entry* second() const {
    const Entry* a;
    const Entry* b;
    if (from_run()) {
      a = pos_ + 1 < run_.size() ? &run_[pos_ + 1] : nullptr;
      b = heap_.empty() ? nullptr : &heap_.front();
    } else {
      a = pos_ < run_.size() ? &run_[pos_] : nullptr;
      b = H::second(heap_);
    }
    if (!a) return b;
    if (!b) return a;
    return Later{}(a[0], b[0]) ? b : a;
  }

  size_t capacity_bytes() const {
    size_t c = heap_.capacity() + run_.capacity() + scratch_.capacity();
    for (const auto& b : buckets_) c += b.capacity();
    return c * sizeof(Entry);
  }

 private:
  // Bucket mode: bucket i (i >= 1) holds diameters in [bound_[i-1], bound_[i]), the
  // last bound is +infinity. Everything below bound_[front_] is at the front: a
  // sorted run (earliest first, read from pos_) of the bucket brought forward,
  // and a heap of what arrived since. Heap mode: only the heap.
  bool front_empty() const { return pos_ == run_.size() && heap_.empty(); }
  bool from_run() const { return pos_ < run_.size() && (heap_.empty() || !Later{}(run_[pos_], heap_.front())); }
  // (a function object, not a function: std::sort then inlines the comparison)
  struct Earlier {
    bool operator()(const Entry& a, const Entry& b) const { return Later{}(b, a); }
  };

  // The bucket of diameter d, known to be at least `from`: from plus the bounds
  // at or below d after the first `from` (bound_ is ascending, so this is
  // upper_bound's position). Counted without branches: the bounds are a few
  // dozen, and a binary search's branches mispredict on nearly every entry of a
  // huge column.
  size_t bucket_of(value_t d, size_t from = 0) const {
    uint32_t c = static_cast<uint32_t>(from);  // (32-bit lanes: four bounds per vector compare)
    for (size_t i = from; i < bound_.size(); ++i) c += bound_[i] <= d;
    return c;
  }

  // (bucket_of(d) <= front_ exactly when d < bound_[front_])
  void route(const Entry& e) {
    if (e.diam < bound_[front_]) H::push(heap_, e);
    else buckets_[bucket_of(e.diam, front_ + 1)].push_back(e);
  }

  void refill() {
    run_.release();
    pos_ = 0;
    size_t b = front_ + 1;
    while (b < buckets_.size() && buckets_[b].empty()) ++b;
    if (b == buckets_.size()) {  // nothing left: everything routes to the front from now on
      front_ = b - 1;
      return;
    }
    front_ = b;
    run_.swap(buckets_[b]);
    if (run_.size() > split_at_) split_front();
    else sort_entries(run_);
  }

  // Puts entries in filtration order, earliest first. Short runs go to std::sort;
  // longer ones are radix-sorted (LSD, a byte a pass, passes over constant bytes
  // skipped) on a 64-bit key: the diameter's bits above the run's least (non-
  // negative floats order as their bits) over the distance of the index
  // (Later::index) below the run's greatest, when both fit in 64 bits together.
  // Huge columns sort a bucket each time the pivot reaches it; std::sort's
  // comparisons were 8 % of rp2_600's time.
  void sort_entries(EntryBuffer& r) {
    const size_t n = r.size();
    if (n < kRadixMin) {
      std::sort(r.begin(), r.end(), Earlier{});
      return;
    }
    auto bits = [](value_t d) {
      uint32_t b = 0;
      if (d != 0) std::memcpy(&b, &d, sizeof b);  // (+0 and -0 alike)
      return b;
    };
    uint32_t dmin = ~uint32_t{0}, dmax = 0;
    uint64_t imin = ~uint64_t{0}, imax = 0;
    for (const Entry& e : r) {
      const uint32_t b = bits(e.diam);
      const uint64_t i = static_cast<uint64_t>(Later::index(e));
      dmin = std::min(dmin, b), dmax = std::max(dmax, b);
      imin = std::min(imin, i), imax = std::max(imax, i);
    }
    const int shift = bit_width(imax - imin);
    if (shift + bit_width(dmax - dmin) > 64) {
      std::sort(r.begin(), r.end(), Earlier{});
      return;
    }
    auto key = [&](const Entry& e) {
      const uint64_t hi = bits(e.diam) - dmin;
      return (shift == 64 ? 0 : hi << shift) | (imax - static_cast<uint64_t>(Later::index(e)));
    };
    const int bytes = (shift + bit_width(dmax - dmin) + 7) / 8;
    std::vector<uint32_t> hist(static_cast<size_t>(bytes) * 256, 0);
    for (const Entry& e : r) {
      const uint64_t k = key(e);
      for (int b = 0; b < bytes; ++b) ++hist[b * 256 + ((k >> (8 * b)) & 0xFF)];
    }
    scratch_.resize(n);
    Entry* src = r.data();
    Entry* dst = scratch_.data();
    const uint64_t first = key(r[0]);
    for (int b = 0; b < bytes; ++b) {
      uint32_t* h = &hist[b * 256];
      if (h[(first >> (8 * b)) & 0xFF] == n) continue;  // (every key has this byte)
      uint32_t sum = 0;
      for (int d = 0; d < 256; ++d) sum += std::exchange(h[d], sum);
      for (size_t i = 0; i < n; ++i) dst[h[(key(src[i]) >> (8 * b)) & 0xFF]++] = src[i];
      std::swap(src, dst);
    }
    if (src != r.data()) r.swap(scratch_);
  }
  static int bit_width(uint64_t x) { return x == 0 ? 0 : 64 - __builtin_clzll(x); }

  // Cuts what is at the front (the rest of the run, and the heap) at quantiles of
  // its diameters into new buckets; the earliest becomes the sorted run.
  void split_front() {
    const size_t in_run = run_.size() - pos_;
    const size_t count = in_run + heap_.size();
    auto at = [&](size_t i) -> const Entry& { return i < in_run ? run_[pos_ + i] : heap_[i - in_run]; };
    std::vector<value_t> sample;
    const size_t stride = std::max<size_t>(1, count / kSample);
    for (size_t i = 0; i < count; i += stride) sample.push_back(at(i).diam);
    std::sort(sample.begin(), sample.end());
    std::vector<value_t> cuts;
    const size_t want = std::min(kCuts, sample.size() - 1);
    for (size_t c = 1; c <= want; ++c) {
      const value_t q = sample[c * sample.size() / (want + 1)];
      if (q > sample.front() && (cuts.empty() || q > cuts.back())) cuts.push_back(q);
    }
    if (cuts.empty()) {  // (one diameter: nothing to cut, try again when twice as big)
      split_at_ = 2 * count;
      if (buckets_.empty()) return;  // heap mode: the heap stays as it is
      EntryBuffer all;
      all.resize(count);
      for (size_t i = 0; i < count; ++i) all[i] = at(i);
      sort_entries(all);
      run_.swap(all);
      pos_ = 0;
      heap_.release();
      return;
    }
    const value_t top_bound = buckets_.empty() ? kInfinity : bound_[front_];
    std::vector<value_t> bound(cuts);
    bound.push_back(top_bound);
    std::vector<EntryBuffer> buckets(bound.size());
    if (!buckets_.empty()) {  // the later buckets stay as they are
      bound.insert(bound.end(), bound_.begin() + static_cast<std::ptrdiff_t>(front_) + 1, bound_.end());
      for (size_t b = front_ + 1; b < buckets_.size(); ++b) buckets.push_back(std::move(buckets_[b]));
    }
    bound_.swap(bound);
    buckets_.swap(buckets);
    front_ = 0;
    split_at_ = split_limit_;
    for (size_t i = 0; i < count; ++i) {
      const Entry& e = at(i);
      buckets_[bucket_of(e.diam)].push_back(e);
      if ((i & 0xFFFFF) == 0xFFFFF && poll_) poll_();
    }
    run_.release();
    heap_.release();
    pos_ = 0;
    run_.swap(buckets_[0]);
    if (run_.size() > split_at_) split_front();
    else sort_entries(run_);
  }

  static constexpr value_t kInfinity = std::numeric_limits<value_t>::infinity();

  EntryBuffer heap_, run_;
  EntryBuffer scratch_;  // the radix sort's second buffer
  size_t pos_ = 0;
  std::vector<value_t> bound_;
  std::vector<EntryBuffer> buckets_;
  size_t front_ = 0;
  size_t split_limit_;
  size_t split_at_;
  std::function<void()> poll_;
};

}  // namespace tda::core
