// Large-cloud parts of the core: the grid that finds the pairs below a threshold
// and the edge collapse. The grid must give exactly the pairs (and float
// distances) of the all-pairs scan; the collapse must leave the barcode as Debian
// ripser computes it on the same input (run here), and the same with and without.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <tuple>

#include "tda/core/collapse.hpp"
#include "tda/core/grid.hpp"
#include "tda/core/io.hpp"
#include "tda/core/rips.hpp"
#include "test_util.hpp"

using namespace tda::core;
namespace t = tda::test;

namespace {

std::vector<value_t> cloud(size_t n, size_t dim, unsigned seed, float scale = 1, int duplicates = 0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<value_t> c(n * dim);
  for (auto& x : c) x = u(rng);
  for (int k = 0; k < duplicates && n > 1; ++k) {  // some points repeated
    const size_t i = rng() % n, j = rng() % n;
    std::copy_n(&c[j * dim], dim, &c[i * dim]);
  }
  return c;
}

using Pair = std::tuple<uint32_t, uint32_t, value_t>;

std::set<Pair> all_pairs_below(const std::vector<value_t>& c, size_t n, size_t dim, value_t thr) {
  std::set<Pair> s;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < i; ++j) {
      const value_t d = euclidean_distance(&c[i * dim], &c[j * dim], dim);
      if (d <= thr) s.insert({static_cast<uint32_t>(i), static_cast<uint32_t>(j), d});
    }
  return s;
}

std::string write_cloud(const std::vector<value_t>& c, size_t dim) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tda_scale_XXXXXX").string();
  const int fd = mkstemp(tmpl.data());
  close(fd);
  std::ofstream out(tmpl);
  out.precision(9);
  for (size_t i = 0; i < c.size(); ++i) out << c[i] << ((i + 1) % dim ? ' ' : '\n');
  return tmpl;
}

}  // namespace

TEST(Grid, SamePairsAsAllPairs) {
  struct Case {
    size_t n, dim;
    float thr;
    int duplicates;
  };
  for (const Case& k : {Case{400, 1, 0.01f, 0}, Case{500, 2, 0.1f, 5}, Case{600, 3, 0.2f, 5}, Case{300, 3, 0.0f, 20},
                        Case{300, 5, 0.7f, 0}, Case{200, 3, 100.0f, 0}, Case{1, 3, 0.5f, 0}, Case{2, 2, 3.0f, 0}}) {
    const auto c = cloud(k.n, k.dim, static_cast<unsigned>(k.n + k.dim), 1, k.duplicates);
    for (int threads : {1, 3}) {
      std::vector<uint32_t> input;
      SparseDistances g = grid_neighbors(c, k.n, k.dim, k.thr, NoPoll{}, threads, NoProgress{}, &input);
      ASSERT_EQ(g.size(), k.n);
      std::set<Pair> got;
      for (size_t v = 0; v < k.n; ++v)
        for (const Neighbor* p = g.begin(v); p != g.end(v); ++p) {
          if (p + 1 != g.end(v)) {
            ASSERT_LT(p->vertex, (p + 1)->vertex);  // sorted lists
          }
          EXPECT_EQ(g(p->vertex, v), p->dist);  // symmetric
          const uint32_t a = input[v], b = input[p->vertex];
          if (a > b) got.insert({a, b, p->dist});
        }
      EXPECT_EQ(got, all_pairs_below(c, k.n, k.dim, k.thr)) << "n=" << k.n << " dim=" << k.dim << " thr=" << k.thr;
    }
  }
}

TEST(Grid, CoarsensInsteadOfAllocatingTooManyCells) {
  // a tiny threshold over a wide cloud: at most ~2n cells
  const auto c = cloud(1000, 3, 7, 1000.0f);
  PointGrid grid(c, 1000, 3, 1e-6f);
  EXPECT_LE(grid.cells(), 2008u);
  SparseDistances g = grid_neighbors(c, 1000, 3, 1e-6f);
  EXPECT_EQ(g.edge_count(), all_pairs_below(c, 1000, 3, 1e-6f).size());
}

TEST(Collapse, DropsOrDelaysEdgesOfADenseSample) {
  const auto c = cloud(300, 2, 11);
  SparseDistances g = grid_neighbors(c, 300, 2, 0.4f);
  auto edges = detail::sparse_edges(g);
  const size_t before = edges.size();
  CollapseStats st;
  auto kept = collapse_edges(
      g, edges, 1, st, [] {}, [](uint64_t, uint64_t) {});
  EXPECT_EQ(st.edges_before, before);
  EXPECT_EQ(st.edges_after, kept.size());
  EXPECT_LT(kept.size(), before / 2);
  EXPECT_EQ(g.edge_count(), kept.size());  // the lists follow
  for (const auto& e : kept) {
    uint32_t u, v;
    detail::decode_edge(e.index, u, v);
    EXPECT_EQ(g(u, v), e.diam);
  }
}

// n points on a torus in R^3 (R = 1, r = 0.4), coordinates to 6 decimals, from
// a fixed 32-bit generator (the sample bench/mesh_overhead.js writes).
std::vector<value_t> torus_sample(size_t n) {
  uint32_t s = 0x2545f491u;
  auto rnd = [&s] {
    s = (s ^ (s >> 15)) * 0x2c1b3c6du + 0x6d2b79f5u;
    return static_cast<double>(s) / 4294967296.0;
  };
  std::vector<value_t> c;
  for (size_t i = 0; i < n; ++i) {
    const double u = 2 * M_PI * rnd();
    const double v = 2 * M_PI * rnd();
    for (double x : {(1 + 0.4 * std::cos(v)) * std::cos(u), (1 + 0.4 * std::cos(v)) * std::sin(u), 0.4 * std::sin(v)})
      c.push_back(static_cast<value_t>(std::round(x * 1e6) / 1e6));
  }
  return c;
}

// The automatic rule's decision after the probe (the longest tenth of the
// edges), on 1500 points of a torus: at threshold 0.7 nearly all of the probe
// goes and the collapse runs to the end; at 0.75 about half goes (the whole
// collapse would then remove a third of the edges and delay most of the rest,
// slower than none), which the rule's bar stops.
TEST(Collapse, AutoStopsAfterAProbeThatLosesTooFewEdges) {
  const auto c = torus_sample(1500);
  for (const value_t thr : {0.7f, 0.75f}) {
    SparseDistances g = grid_neighbors(c, 1500, 3, thr);
    auto edges = detail::sparse_edges(g);
    const size_t before = edges.size();
    CollapseStats st;
    auto kept = collapse_edges(
        g, edges, 1, st, [] {}, [](uint64_t, uint64_t) {}, true);
    ASSERT_EQ(st.probe_edges, before / 10) << thr;
    const double removed = static_cast<double>(st.probe_removed) / static_cast<double>(st.probe_edges);
    if (thr == 0.7f) {
      EXPECT_GT(removed, 0.9);
      EXPECT_FALSE(st.stopped_early);
      EXPECT_LT(kept.size(), before / 4);  // the rest of the edges went on collapsing
    } else {
      EXPECT_GT(removed, 0.5);  // (the earlier bar, half, let it run)
      EXPECT_LT(removed, kCollapseBar);
      EXPECT_TRUE(st.stopped_early);
      EXPECT_EQ(kept.size(), before - st.probe_removed);  // only the probe's edges went
    }
    EXPECT_EQ(st.edges_after, kept.size());
  }
}

// Random clouds with a threshold, H0..H2, Z/2 and Z/3: the barcode with the
// collapse forced on, forced off and automatic equals Debian ripser's.
TEST(Collapse, BarcodesEqualRipserWithAndWithout) {
  ASSERT_EQ(access("/usr/bin/ripser", X_OK), 0) << "/usr/bin/ripser is required";
  ASSERT_EQ(access("/usr/bin/ripser-coeff", X_OK), 0) << "/usr/bin/ripser-coeff is required";
  struct Case {
    size_t n, dim;
    float thr;
    int max_dim, modulus, duplicates;
  };
  int trial = 0;
  for (const Case& k : {Case{400, 2, 0.25f, 1, 2, 0}, Case{250, 3, 0.6f, 2, 2, 4}, Case{200, 3, 0.7f, 2, 3, 0},
                        Case{120, 4, 1.2f, 3, 2, 0}, Case{300, 2, 0.3f, 2, 2, 10}}) {
    const auto c = cloud(k.n, k.dim, 100 + trial++, 1, k.duplicates);
    const std::string path = write_cloud(c, k.dim);
    // the engine reads the same text back, so both see the same floats
    const auto pc = io::parse_point_cloud(t::read_file(path));
    std::ostringstream thr;
    thr << k.thr;
    const std::string cmd = std::string(k.modulus == 2 ? "/usr/bin/ripser" : "/usr/bin/ripser-coeff") +
                            " --format point-cloud --dim " + std::to_string(k.max_dim) + " --threshold " + thr.str() +
                            (k.modulus == 2 ? "" : " --modulus " + std::to_string(k.modulus)) + " '" + path + "'";
    t::CommandResult ref = t::run_command(cmd + " 2>/dev/null");
    unlink(path.c_str());
    ASSERT_EQ(ref.exit_code, 0) << cmd;
    const t::Barcodes expected = t::parse_ripser_output(ref.out);
    for (Collapse mode : {Collapse::On, Collapse::Off, Collapse::Auto}) {
      for (int threads : {1, 2}) {
        RipsOptions o;
        o.max_dim = k.max_dim;
        o.modulus = k.modulus;
        o.threshold = k.thr;
        o.threads = threads;
        o.collapse = mode;
        RipsResult r = rips_from_points(pc.coords, pc.n, pc.dim, o);
        if (mode != Collapse::Auto) {
          EXPECT_EQ(r.stats.collapsed, mode == Collapse::On) << cmd;
        }
        EXPECT_EQ(t::to_barcodes(r, k.max_dim), expected)
            << cmd << " collapse=" << static_cast<int>(mode) << " threads=" << threads;
      }
    }
  }
}

// The blocks the collapse handles concurrently: on a grid-numbered cloud the
// split exists, and no vertex lies in the closed neighbourhoods of two blocks
// that run at the same time (same parity); on the same cloud in its input
// numbering (neighbours anywhere in the range) no split passes.
TEST(Collapse, BlocksRunTogetherOnlyWithDisjointNeighbourhoods) {
  const size_t n = 20000;
  const auto c = cloud(n, 3, 41);
  const value_t thr = 0.12f;
  SparseDistances g = grid_neighbors(c, n, 3, thr);
  const std::vector<uint32_t> first = detail::collapse_blocks(g, 2);
  ASSERT_GE(first.size(), 5u);  // at least 2 blocks per phase
  EXPECT_EQ(first.front(), 0u);
  EXPECT_EQ(first.back(), n);
  const size_t k = first.size() - 1;
  std::vector<int> owner(n, -1);  // the block whose closed neighbourhood holds the vertex, per phase
  for (size_t phase = 0; phase < 2; ++phase) {
    std::fill(owner.begin(), owner.end(), -1);
    for (size_t b = phase; b < k; b += 2)
      for (uint32_t v = first[b]; v < first[b + 1]; ++v) {
        auto claim = [&](uint32_t x) {
          ASSERT_TRUE(owner[x] == -1 || owner[x] == static_cast<int>(b))
              << "vertex " << x << " in blocks " << owner[x] << " and " << b;
          owner[x] = static_cast<int>(b);
        };
        claim(v);
        for (const Neighbor* p = g.begin(v); p != g.end(v); ++p) claim(p->vertex);
      }
  }
  SparseDistances input_order = SparseDistances::from_points(c, n, 3, thr);
  EXPECT_TRUE(detail::collapse_blocks(input_order, 2).empty());
  EXPECT_TRUE(detail::collapse_blocks(g, 1).empty());
}

// Clouds large enough for the concurrent blocks (more than
// kCollapseParallelEdges edges after the probe): on two and three threads the
// collapse runs in blocks, and the barcode equals Debian ripser's, as with one.
TEST(Collapse, InBlocksOnTwoThreadsEqualsRipser) {
  ASSERT_EQ(access("/usr/bin/ripser", X_OK), 0) << "/usr/bin/ripser is required";
  // a random cloud, and a 30^3 lattice, whose distances below the threshold
  // are 1, sqrt 2 and sqrt 3: ties everywhere (the order among equal edges is
  // the numbering's)
  std::vector<value_t> lattice;
  for (int x = 0; x < 30; ++x)
    for (int y = 0; y < 30; ++y)
      for (int z = 0; z < 30; ++z) lattice.insert(lattice.end(), {value_t(x), value_t(y), value_t(z)});
  struct Case {
    std::vector<value_t> coords;
    const char* thr;
  };
  for (const Case& k : {Case{cloud(24000, 3, 43), "0.13"}, Case{lattice, "1.75"}}) {
    const std::string path = write_cloud(k.coords, 3);
    const auto pc = io::parse_point_cloud(t::read_file(path));
    t::CommandResult ref = t::run_command(std::string("/usr/bin/ripser --format point-cloud --dim 1 --threshold ") +
                                          k.thr + " '" + path + "' 2>/dev/null");
    unlink(path.c_str());
    ASSERT_EQ(ref.exit_code, 0);
    const t::Barcodes expected = t::parse_ripser_output(ref.out);
    for (int threads : {2, 3, 1}) {
      RipsOptions o;
      o.max_dim = 1;
      o.threshold = std::stof(k.thr);
      o.threads = threads;
      o.collapse = Collapse::On;
      RipsResult r = rips_from_points(pc.coords, pc.n, pc.dim, o);
      ASSERT_GT(r.stats.edges, static_cast<uint64_t>(kCollapseParallelEdges) * 10 / 9) << k.thr;
      if (threads > 1) {
        EXPECT_GE(r.stats.collapse_blocks, 4u) << k.thr;
      } else {
        EXPECT_EQ(r.stats.collapse_blocks, 0u);
      }
      EXPECT_LT(r.stats.edges_after_collapse, r.stats.edges) << k.thr << " threads=" << threads;
      EXPECT_EQ(t::to_barcodes(r, 1), expected) << k.thr << " threads=" << threads;
    }
  }
}

// The collapse in blocks reports its progress (edges handled, rising) and
// stops when cancelled while the blocks run (past the probe's tenth).
TEST(Collapse, InBlocksReportsProgressAndStopsWhenCancelled) {
  const size_t n = 24000;
  const auto c = cloud(n, 3, 47);
  RipsOptions o;
  o.max_dim = 1;
  o.threshold = 0.13f;
  o.threads = 2;
  o.collapse = Collapse::On;
  Callbacks cb;
  uint64_t last = 0, total = 0;
  bool in_blocks = false;
  cb.on_progress = [&](const ProgressInfo& p) {
    if (p.stage != Stage::Collapse) return;
    EXPECT_GE(p.columns_done, last);
    last = p.columns_done;
    total = p.columns_total;
    if (p.columns_done > p.columns_total / 10) in_blocks = true;
  };
  cb.is_cancelled = [&] { return in_blocks; };
  EXPECT_THROW(rips_from_points(c, n, 3, o, cb), Cancelled);
  EXPECT_TRUE(in_blocks);
  EXPECT_GT(total, static_cast<uint64_t>(kCollapseParallelEdges));
  EXPECT_LT(last, total);  // stopped before the end
}
