// Bottleneck and Wasserstein distances of the core against GUDHI 3.13
// (gudhi.bottleneck_distance with e=0, gudhi.hera.wasserstein_distance),
// run in the same test on random diagrams and on diagrams computed from fixtures.
#include "tda/core/diagram_distance.hpp"

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
  Diagram a, b;
  double order = 1.;
  double internal_p = kInf;
};

std::string diagram_json(const Diagram& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) {
    if (i) s += ",";
    s += "[" + tda::test::json_number(d[i].birth) + "," + tda::test::json_number(d[i].death) + "]";
  }
  return s + "]";
}

struct Reference {
  double bottleneck, wasserstein, wasserstein_exact;
};

std::vector<Reference> reference(const std::vector<Case>& cases) {
  std::string req = "{\"op\":\"distance\",\"cases\":[";
  for (size_t i = 0; i < cases.size(); ++i) {
    if (i) req += ",";
    req += "{\"a\":" + diagram_json(cases[i].a) + ",\"b\":" + diagram_json(cases[i].b) +
           ",\"order\":" + tda::test::json_number(cases[i].order) +
           ",\"internal_p\":" + tda::test::json_number(cases[i].internal_p) + ",\"delta\":1e-6}";
  }
  req += "]}";
  const auto r = tda::test::run_reference(req);
  EXPECT_EQ(r.exit_code, 0) << "GUDHI reference failed (python: " << tda::test::reference_python() << ")";
  std::vector<Reference> out;
  size_t at = 0;
  for (size_t i = 0; i < cases.size() && r.exit_code == 0; ++i) {
    Reference ref;
    ref.bottleneck = tda::test::json_field(r.out, "bottleneck", at);
    ref.wasserstein = tda::test::json_field(r.out, "wasserstein", at);
    ref.wasserstein_exact = tda::test::json_field(r.out, "wasserstein_exact", at);
    out.push_back(ref);
  }
  return out;
}

// Bars on a grid of `step` (many ties and equal distances) or continuous.
Diagram random_diagram(std::mt19937_64& rng, size_t n, double step, size_t essential) {
  std::uniform_real_distribution<double> u(0., 10.), len(0., 4.);
  Diagram d;
  for (size_t i = 0; i < n; ++i) {
    double b = u(rng), l = len(rng);
    if (step > 0) {
      b = std::round(b / step) * step;
      l = std::round(l / step) * step;
    }
    d.push_back({b, b + l});  // some have length 0
  }
  for (size_t i = 0; i < essential; ++i) d.push_back({u(rng), kInf});
  return d;
}

void expect_matches(const std::vector<Case>& cases) {
  const auto ref = reference(cases);
  ASSERT_EQ(ref.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const double bn = tda::core::bottleneck_distance(c.a, c.b);
    EXPECT_EQ(bn, ref[i].bottleneck) << "case " << i << " |a|=" << c.a.size() << " |b|=" << c.b.size();
    const double w = tda::core::wasserstein_distance(c.a, c.b, c.order, c.internal_p);
    if (std::isinf(ref[i].wasserstein_exact)) {
      EXPECT_TRUE(std::isinf(w)) << "case " << i;
    } else {
      // equal to the exact optimal transport (POT's network simplex) up to rounding
      EXPECT_NEAR(w, ref[i].wasserstein_exact, 1e-9 * std::max(1., ref[i].wasserstein_exact))
          << "case " << i << " order " << c.order << " internal_p " << c.internal_p << " |a|=" << c.a.size()
          << " |b|=" << c.b.size();
      // and hera's auction ends within its relative error (1e-6) above it, never below
      // (NaN: no hera value, see gudhi_ref.py)
      if (!std::isnan(ref[i].wasserstein)) {
        EXPECT_LE(w, ref[i].wasserstein * (1 + 1e-12) + 1e-12) << "case " << i << ": hera found a cheaper matching";
        EXPECT_LE(ref[i].wasserstein, w * (1 + 1.01e-6) + 1e-12) << "case " << i;
      }
    }
  }
}

TEST(DiagramDistance, RandomDiagramsMatchGudhi) {
  std::mt19937_64 rng(20261205);
  std::vector<Case> cases;
  const double orders[] = {1., 2., 1.5};
  const double norms[] = {kInf, 2., 1.};
  for (int i = 0; i < 60; ++i) {
    const size_t n = rng() % 40, m = rng() % 40;
    const size_t ess = rng() % 3;
    const double step = (i % 3 == 0) ? 0.5 : 0.;  // a third on a grid: ties
    Case c;
    c.a = random_diagram(rng, n, step, ess);
    c.b = random_diagram(rng, m, step, (i % 10 == 7) ? ess + 1 : ess);  // some essential mismatches: inf
    c.order = orders[i % 3];
    c.internal_p = norms[(i / 3) % 3];
    cases.push_back(std::move(c));
  }
  // edge cases: empty, identical, one side empty
  cases.push_back({{}, {}, 1., kInf});
  cases.push_back({{{1, 3}, {2, kInf}}, {{1, 3}, {2, kInf}}, 2., 2.});
  cases.push_back({{{0, 1}, {0.25, 4}}, {}, 1., kInf});
  cases.push_back({{{1, 1}, {2, 2}}, {{0, 0.5}}, 1., kInf});
  expect_matches(cases);
}

TEST(DiagramDistance, LargerDiagramsMatchGudhi) {
  // enough pairs (> 65536 candidates) for the search on values before the enumeration
  std::mt19937_64 rng(7);
  std::vector<Case> cases;
  cases.push_back({random_diagram(rng, 400, 0., 1), random_diagram(rng, 350, 0., 1), 1., kInf});
  cases.push_back({random_diagram(rng, 300, 0.125, 0), random_diagram(rng, 420, 0.125, 0), 2., 2.});
  expect_matches(cases);
}

TEST(DiagramDistance, FixtureDiagramsMatchGudhi) {
  // H0 and H1 of three fixtures' Rips filtrations, pairwise
  std::vector<Case> cases;
  tda::core::RipsOptions opt;
  opt.max_dim = 1;
  auto diagrams_of = [&](const std::string& name) {
    auto m = tda::core::io::parse_lower_distance(tda::test::read_file(tda::test::fixture(name)));
    return tda::core::rips_from_lower_distances(std::move(m.lower), m.n, opt, {}).diagrams;
  };
  const auto s = diagrams_of("sphere_3_192.lower_distance_matrix");
  const auto p = diagrams_of("projective_plane.lower_distance_matrix");
  const auto r = diagrams_of("random16.lower_distance_matrix");
  for (int d = 0; d <= 1; ++d) {
    cases.push_back({s[d], p[d], 1., kInf});
    cases.push_back({p[d], r[d], 2., 2.});
    cases.push_back({s[d], r[d], 1., 1.});
  }
  expect_matches(cases);
}

TEST(DiagramDistance, RefusesMalformedBars) {
  EXPECT_THROW(tda::core::bottleneck_distance({{2, 1}}, {}), tda::core::InvalidInput);
  EXPECT_THROW(tda::core::bottleneck_distance({}, {{std::nan(""), 1}}), tda::core::InvalidInput);
  EXPECT_THROW(tda::core::wasserstein_distance({{-kInf, 1}}, {}, 1., kInf), tda::core::InvalidInput);
  EXPECT_THROW(tda::core::wasserstein_distance({}, {}, 0.5, kInf), tda::core::InvalidInput);
  EXPECT_THROW(tda::core::wasserstein_distance({}, {}, 1., 0.), tda::core::InvalidInput);
}

TEST(DiagramDistance, HonoursCancellation) {
  std::mt19937_64 rng(3);
  const Diagram a = random_diagram(rng, 300, 0., 0), b = random_diagram(rng, 300, 0., 0);
  EXPECT_THROW(tda::core::bottleneck_distance(a, b, [] { return true; }), tda::core::Cancelled);
  EXPECT_THROW(tda::core::wasserstein_distance(a, b, 1., kInf, [] { return true; }), tda::core::Cancelled);
}

}  // namespace
