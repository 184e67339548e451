// Vectorisations of the core against GUDHI 3.13's gudhi.representations
// (BettiCurve, Landscape, PersistenceImage, Entropy) and its distances to the
// empty diagram, run in the same test on random diagrams and fixture diagrams.
#include "tda/core/vectorize.hpp"

#include <gtest/gtest.h>

#include <random>

#include "reference.hpp"
#include "tda/core/io.hpp"
#include "tda/core/rips.hpp"

namespace {

using tda::core::Interval;
using Diagram = std::vector<Interval>;
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Case {
  std::string kind;
  Diagram bars;
  double lo = 0, hi = 1, ylo = 0, yhi = 1;
  size_t resolution = 20, layers = 3;
  double bandwidth = 1., power = 0.;  // power 0: constant weight
  double order = 1., internal_p = kInf;
};

std::string request(const std::vector<Case>& cases) {
  using tda::test::json_number;
  std::string r = "{\"op\":\"vectorize\",\"cases\":[";
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    if (i) r += ",";
    r += "{\"kind\":\"" + c.kind + "\",\"bars\":[";
    for (size_t k = 0; k < c.bars.size(); ++k)
      r += (k ? ",[" : "[") + json_number(c.bars[k].birth) + "," + json_number(c.bars[k].death) + "]";
    r += "],\"lo\":" + json_number(c.lo) + ",\"hi\":" + json_number(c.hi) + ",\"ylo\":" + json_number(c.ylo) +
         ",\"yhi\":" + json_number(c.yhi) + ",\"resolution\":" + std::to_string(c.resolution) +
         ",\"layers\":" + std::to_string(c.layers) + ",\"bandwidth\":" + json_number(c.bandwidth) +
         ",\"power\":" + (c.power == 0. ? std::string("null") : json_number(c.power)) +
         ",\"order\":" + json_number(c.order) + ",\"internal_p\":" + json_number(c.internal_p) + "}";
  }
  return r + "]}";
}

// The reference's lists of numbers, one per case.
std::vector<std::vector<double>> parse_lists(const std::string& text) {
  std::vector<std::vector<double>> out;
  size_t i = text.find('[');
  if (i == std::string::npos) return out;
  ++i;
  while (i < text.size()) {
    const size_t open = text.find('[', i);
    if (open == std::string::npos) break;
    const size_t close = text.find(']', open);
    std::vector<double> v;
    const char* p = text.c_str() + open + 1;
    const char* end = text.c_str() + close;
    while (p < end) {
      char* next = nullptr;
      const double x = std::strtod(p, &next);
      if (next == p) break;
      v.push_back(x);
      p = next;
      while (p < end && (*p == ',' || *p == ' ')) ++p;
    }
    out.push_back(std::move(v));
    i = close + 1;
  }
  return out;
}

std::vector<double> ours(const Case& c) {
  using namespace tda::core;
  if (c.kind == "betti") return betti_curve(c.bars, linspace(c.lo, c.hi, c.resolution));
  if (c.kind == "landscape") return landscape(c.bars, linspace(c.lo, c.hi, c.resolution), c.layers);
  if (c.kind == "image")
    return persistence_image(c.bars, linspace(c.lo, c.hi, c.resolution), linspace(c.ylo, c.yhi, c.resolution),
                             c.bandwidth, c.power == 0. ? ImageWeight::Constant : ImageWeight::PersistencePower,
                             c.power);
  if (c.kind == "entropy") return {persistence_entropy(c.bars)};
  const Amplitudes a = amplitudes(c.bars, c.order, c.internal_p);
  return {a.total_persistence, a.bottleneck, a.wasserstein};
}

void expect_matches(const std::vector<Case>& cases) {
  const auto r = tda::test::run_reference(request(cases));
  ASSERT_EQ(r.exit_code, 0) << "GUDHI reference failed (python: " << tda::test::reference_python() << ")";
  const auto ref = parse_lists(r.out);
  ASSERT_EQ(ref.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto got = ours(cases[i]);
    ASSERT_EQ(got.size(), ref[i].size()) << "case " << i << " " << cases[i].kind;
    double scale = 1.;
    for (double x : ref[i]) scale = std::max(scale, std::fabs(x));
    for (size_t k = 0; k < got.size(); ++k) {
      if (cases[i].kind == "betti") {
        EXPECT_EQ(got[k], ref[i][k]) << "case " << i << " betti at " << k;
      } else {
        EXPECT_NEAR(got[k], ref[i][k], 1e-12 * scale) << "case " << i << " " << cases[i].kind << " value " << k;
      }
    }
  }
}

Diagram random_diagram(std::mt19937_64& rng, size_t n, size_t essential, double step) {
  std::uniform_real_distribution<double> u(0., 5.), len(0.01, 3.);
  Diagram d;
  for (size_t i = 0; i < n; ++i) {
    double b = u(rng), l = len(rng);
    if (step > 0) {
      b = std::round(b / step) * step;
      l = std::max(step, std::round(l / step) * step);
    }
    d.push_back({b, b + l});
  }
  for (size_t i = 0; i < essential; ++i) d.push_back({u(rng), kInf});
  return d;
}

TEST(Vectorize, RandomDiagramsMatchGudhiRepresentations) {
  std::mt19937_64 rng(1205);
  std::vector<Case> cases;
  for (int i = 0; i < 12; ++i) {
    const double step = i % 2 ? 0.25 : 0.;  // grid-aligned bars: births and deaths on grid points
    const Diagram d = random_diagram(rng, 1 + rng() % 60, rng() % 2, step);
    Case c;
    c.bars = d;
    c.lo = -0.5;
    c.hi = 8.;
    c.resolution = 35;  // step 0.25: the grid hits bar ends exactly
    c.kind = "betti";
    cases.push_back(c);
    c.kind = "landscape";
    c.layers = 1 + i % 6;
    cases.push_back(c);
    c.kind = "image";
    c.resolution = 6 + i % 5;
    c.lo = 0.;
    c.hi = 5.;
    c.ylo = 0.;
    c.yhi = 3.;
    c.bandwidth = 0.2 + 0.3 * (i % 3);
    c.power = i % 3 == 0 ? 0. : (i % 3 == 1 ? 1. : 2.5);
    cases.push_back(c);
    c.kind = "entropy";
    cases.push_back(c);
    c.kind = "amplitudes";
    c.order = i % 2 ? 2. : 1.;
    c.internal_p = i % 3 ? 2. : kInf;
    cases.push_back(c);
  }
  expect_matches(cases);
}

TEST(Vectorize, FixtureDiagramsMatchGudhiRepresentations) {
  tda::core::RipsOptions opt;
  opt.max_dim = 1;
  auto m = tda::core::io::parse_lower_distance(
      tda::test::read_file(tda::test::fixture("sphere_3_192.lower_distance_matrix")));
  const auto diagrams = tda::core::rips_from_lower_distances(std::move(m.lower), m.n, opt, {}).diagrams;
  std::vector<Case> cases;
  for (int d = 0; d <= 1; ++d) {
    Case c;
    c.bars = diagrams[d];
    c.lo = 0.;
    c.hi = 2.;
    c.resolution = 50;
    for (const char* kind : {"betti", "landscape", "entropy", "amplitudes"}) {
      c.kind = kind;
      cases.push_back(c);
    }
    c.kind = "image";
    c.resolution = 16;
    c.bandwidth = 0.05;
    c.ylo = 0.;
    c.yhi = 1.;
    c.power = 1.;
    cases.push_back(c);
  }
  expect_matches(cases);
}

TEST(Vectorize, EdgeCases) {
  // empty diagram: zeros; a single essential bar: Betti curve 1 from its birth, nothing else
  const Diagram ess{{1., kInf}};
  EXPECT_EQ(tda::core::betti_curve(ess, {0., 1., 2.}), (std::vector<double>{0., 1., 1.}));
  EXPECT_EQ(tda::core::landscape(ess, {0., 1.}, 2), (std::vector<double>{0., 0., 0., 0.}));
  EXPECT_EQ(tda::core::persistence_entropy({}), 0.);
  EXPECT_EQ(tda::core::linspace(2., 2., 3), (std::vector<double>{2., 2., 2.}));
}

}  // namespace
