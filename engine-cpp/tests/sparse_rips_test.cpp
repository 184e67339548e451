// The sparse Rips filtration (sparse_rips.hpp): the greedy permutation checked by
// brute force, the proven bound (bottleneck distance in log scale between the
// sparse and the exact diagram <= log(1 + eps)) on fixtures, with GUDHI 3.13's
// RipsComplex(sparse=eps / (1 + eps)) held to the same bound in the same run,
// and equality with the exact diagram where the theory says so.
#include "tda/core/sparse_rips.hpp"

#include <gtest/gtest.h>

#include <random>

#include "reference.hpp"
#include "tda/core/diagram_distance.hpp"
#include "tda/core/io.hpp"
#include "tda/core/rips.hpp"

namespace {

using namespace tda::core;
using tda::test::fixture;
using tda::test::read_file;
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Input {
  std::string name;
  bool points = true;
  std::vector<value_t> values;  // coordinates or the strict lower triangle
  size_t n = 0, dim = 0;
  int max_dim = 1;
  int gudhi_dim = 1;  // GUDHI's simplex tree holds every simplex: H2 only on small inputs (-1: not run)
};

Input point_file(const std::string& name, int skip_lines, int max_dim, int gudhi_dim) {
  std::string text = read_file(fixture(name));
  for (int i = 0; i < skip_lines; ++i) text = text.substr(text.find('\n') + 1);
  io::PointCloud pc = io::parse_point_cloud(text);
  return Input{name, true, pc.coords, pc.n, pc.dim, max_dim, gudhi_dim};
}

Input matrix_file(const std::string& name, int max_dim, int gudhi_dim) {
  io::LowerMatrix m = io::parse_lower_distance(read_file(fixture(name)));
  return Input{name, false, m.lower, m.n, 0, max_dim, gudhi_dim};
}

RipsResult run(const Input& in, std::optional<double> eps) {
  RipsOptions opt;
  opt.max_dim = in.max_dim;
  opt.threads = 2;
  opt.sparse = eps;
  return in.points ? rips_from_points(in.values, in.n, in.dim, opt) : rips_from_lower_distances(in.values, in.n, opt);
}

std::vector<value_t> lower_of(const Input& in) {
  return in.points ? lower_from_points(in.values, in.n, in.dim) : in.values;
}

GreedyPermutation permutation(const Input& in) {
  return in.points ? greedy_permutation_points(in.values, in.n, in.dim) : greedy_permutation_lower(in.values, in.n);
}

// Diagrams in log scale (a birth 0 counts as 1e-30 on both sides).
std::vector<Interval> log_scale(const std::vector<Interval>& d) {
  std::vector<Interval> out;
  for (const Interval& iv : d)
    out.push_back(
        {std::log(std::max(iv.birth, 1e-30)), std::isinf(iv.death) ? kInf : std::log(std::max(iv.death, 1e-30))});
  return out;
}

double log_bottleneck(const std::vector<Interval>& a, const std::vector<Interval>& b) {
  return bottleneck_distance(log_scale(a), log_scale(b));
}

std::string diagrams_json(const RipsResult& r) {
  std::string s = "[";
  for (size_t d = 0; d < r.diagrams.size(); ++d) {
    s += d ? ",[" : "[";
    for (size_t i = 0; i < r.diagrams[d].size(); ++i)
      s += (i ? ",[" : "[") + tda::test::json_number(r.diagrams[d][i].birth) + "," +
           tda::test::json_number(r.diagrams[d][i].death) + "]";
    s += "]";
  }
  return s + "]";
}

std::string input_json(const Input& in) {
  std::string s;
  if (in.points) {
    s = "\"points\":[";
    for (size_t i = 0; i < in.n; ++i) {
      s += i ? ",[" : "[";
      for (size_t k = 0; k < in.dim; ++k) s += (k ? "," : "") + tda::test::json_number(in.values[i * in.dim + k]);
      s += "]";
    }
    return s + "]";
  }
  s = "\"n\":" + std::to_string(in.n) + ",\"lower\":[";
  for (size_t i = 0; i < in.values.size(); ++i) s += (i ? "," : "") + tda::test::json_number(in.values[i]);
  return s + "]";
}

// ---------------------------------------------------------------------------

std::vector<value_t> random_cloud(size_t n, size_t dim, unsigned seed, size_t duplicates) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<value_t> c(n * dim);
  for (auto& x : c) x = u(rng);
  for (size_t k = 0; k < duplicates; ++k) {
    const size_t a = rng() % n, b = rng() % n;
    std::copy_n(&c[a * dim], dim, &c[b * dim]);
  }
  return c;
}

TEST(GreedyPermutation, IsTheFarthestPointOrderOnClouds) {
  for (size_t dim : {1, 2, 3, 5}) {
    const size_t n = 1200;
    const std::vector<value_t> c = random_cloud(n, dim, static_cast<unsigned>(7 * dim), 20);
    const GreedyPermutation g = greedy_permutation_points(c, n, dim);
    const GreedyPermutation h = greedy_permutation_lower(lower_from_points(c, n, dim), n);
    ASSERT_EQ(g.order.size(), n);
    EXPECT_EQ(g.order, h.order) << "dim " << dim;
    EXPECT_EQ(g.radius, h.radius) << "dim " << dim;
    // brute force: radius[k] = d(order[k], prefix) = max over all points of d(x, prefix)
    std::vector<double> to_prefix(n, kInf);
    std::vector<char> seen(n, 0);
    for (size_t k = 0; k < n; ++k) {
      double farthest = 0;
      for (size_t x = 0; x < n; ++x) farthest = std::max(farthest, seen[x] ? 0.0 : to_prefix[x]);
      if (k > 0) {
        ASSERT_EQ(g.radius[k], to_prefix[g.order[k]]) << "dim " << dim << " k " << k;
        ASSERT_EQ(g.radius[k], farthest) << "dim " << dim << " k " << k;
      }
      seen[g.order[k]] = 1;
      for (size_t x = 0; x < n; ++x)
        to_prefix[x] = std::min(
            to_prefix[x], static_cast<double>(euclidean_distance(&c[x * dim], &c[size_t{g.order[k]} * dim], dim)));
    }
  }
}

TEST(SparseRips, RefusesBadEpsilon) {
  const std::vector<value_t> c = random_cloud(10, 2, 1, 0);
  for (double e : {0.0, -0.5, 1.5, std::nan("")}) {
    RipsOptions opt;
    opt.sparse = e;
    EXPECT_THROW(rips_from_points(c, 10, 2, opt), InvalidInput) << e;
  }
  RipsOptions opt;
  opt.sparse = 0.5;
  opt.collapse = Collapse::On;
  EXPECT_THROW(rips_from_points(c, 10, 2, opt), InvalidInput);
}

std::vector<Input> fixtures() {
  return {point_file("tore3D_300.off", 2, 2, 1),
          point_file("sphere_3_192_points.dat", 0, 2, 1),
          point_file("o3_1024.txt", 0, 1, -1),
          point_file("random_point_cloud_50_16_.txt", 0, 2, 2),
          matrix_file("sphere_3_192.lower_distance_matrix", 2, 1),
          matrix_file("projective_plane.lower_distance_matrix", 2, 2)};
}

// The proven bound, for the engine and for GUDHI, on every fixture and three eps.
TEST(SparseRips, WithinTheInterleavingBoundOfTheExactDiagram) {
  for (const Input& in : fixtures()) {
    const RipsResult exact = run(in, std::nullopt);
    std::string req = "{\"op\":\"sparse_rips\",\"cases\":[";
    const std::vector<double> epsilons = {0.1, 0.5, 1.0};
    for (size_t i = 0; i < epsilons.size(); ++i)
      req += std::string(i ? "," : "") + "{" + input_json(in) +
             ",\"e\":" + tda::test::json_number(epsilons[i] / (1 + epsilons[i])) +
             ",\"max_dim\":" + std::to_string(in.gudhi_dim) + ",\"seed\":" + std::to_string(i + 1) +
             ",\"exact\":" + diagrams_json(exact) + "}";
    req += "]}";
    tda::test::CommandResult ref;
    if (in.gudhi_dim >= 0) {
      ref = tda::test::run_reference(req);
      ASSERT_EQ(ref.exit_code, 0) << "GUDHI reference failed (python: " << tda::test::reference_python() << ")";
    }
    size_t at = 0;
    for (double eps : epsilons) {
      const RipsResult sparse = run(in, eps);
      EXPECT_EQ(sparse.stats.sparse_epsilon, eps);
      const double bound = std::log1p(eps) + 1e-6;  // (float distances on both sides)
      const double gudhi_simplices = in.gudhi_dim >= 0 ? tda::test::json_field(ref.out, "simplices", at) : -1;
      for (int d = 0; d <= in.max_dim; ++d) {
        const double mine = log_bottleneck(sparse.diagrams[d], exact.diagrams[d]);
        double gudhi = std::nan("");
        if (d <= in.gudhi_dim) {
          gudhi = tda::test::json_field(ref.out, "log_bottleneck_" + std::to_string(d), at);
          EXPECT_LE(gudhi, bound + 1e-5) << "GUDHI " << in.name << " eps " << eps << " dim " << d;
        }
        EXPECT_LE(mine, bound) << in.name << " eps " << eps << " dim " << d;
        std::printf("%s eps=%g dim=%d log_bottleneck engine=%.4f gudhi=%.4f bound=%.4f bars exact=%zu sparse=%zu\n",
                    in.name.c_str(), eps, d, mine, gudhi, std::log1p(eps), exact.diagrams[d].size(),
                    sparse.diagrams[d].size());
      }
      std::printf("%s eps=%g edges exact=%llu sparse=%llu gudhi_simplices=%.0f\n", in.name.c_str(), eps,
                  static_cast<unsigned long long>(exact.stats.edges),
                  static_cast<unsigned long long>(sparse.stats.edges), gudhi_simplices);
      if (eps == 1.0 && in.n >= 300) {
        EXPECT_LT(sparse.stats.edges, exact.stats.edges / 2) << in.name;
      }
    }
  }
}

// e = eps / (1 + eps) <= 2 min l / max d puts every pair within A_q of each other
// and every death beyond the largest distance: the sparse filtration is the Rips
// filtration, bar for bar.
TEST(SparseRips, SmallEpsilonIsTheRipsFiltration) {
  for (const Input& in : fixtures()) {
    const GreedyPermutation g = permutation(in);
    const double min_l = *std::min_element(g.radius.begin(), g.radius.end());
    ASSERT_GT(min_l, 0) << in.name << ": distinct points expected";
    const std::vector<value_t> lower = lower_of(in);
    const double max_d = *std::max_element(lower.begin(), lower.end());
    const double e = std::min(0.99 * 2 * min_l / max_d, 0.5);  // (eps <= 1)
    const double eps = e / (1 - e);
    const RipsResult sparse = run(in, eps);
    const RipsResult exact = run(in, std::nullopt);
    EXPECT_EQ(tda::test::to_barcodes(sparse, in.max_dim), tda::test::to_barcodes(exact, in.max_dim))
        << in.name << " eps " << eps;
    EXPECT_EQ(sparse.stats.edges, in.n * (in.n - 1) / 2) << in.name;
  }
}

}  // namespace

namespace {

// The permutation and the edges report progress (the Distances stage: permutation
// the first half, edges the second), in order.
TEST(SparseRips, ReportsProgressThroughThePermutationAndTheEdges) {
  const size_t n = 6000;
  const std::vector<value_t> c = random_cloud(n, 3, 11, 0);
  RipsOptions opt;
  opt.sparse = 0.5;
  std::vector<uint64_t> done;
  Callbacks cb;
  cb.on_progress = [&](const ProgressInfo& p) {
    if (p.stage == Stage::Distances && p.columns_total == 2 * n) done.push_back(p.columns_done);
  };
  rips_from_points(c, n, 3, opt, cb);
  ASSERT_GE(done.size(), 8u);
  EXPECT_TRUE(std::is_sorted(done.begin(), done.end()));
  EXPECT_LT(done.front(), n);
  EXPECT_GT(done.back(), n);
}

}  // namespace
