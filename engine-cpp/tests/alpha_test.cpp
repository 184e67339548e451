// Alpha-complex persistence: diagrams compared with GUDHI run on the same input.
//
// Diagrams are compared with the same coefficient field on both sides.
// GUDHI (Debian's python3-gudhi, through /usr/bin/python3, or the interpreter
// named by TDA_GUDHI_PYTHON) is required: when it cannot be run the comparison
// tests fail. Diagrams are compared per dimension as multisets within 1e-9
// relative, after dropping (near) zero-length bars on both sides.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <malloc.h>
#include <random>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "tda/core/alpha.hpp"

namespace {

using tda::core::AlphaOptions;
using tda::core::AlphaResult;
using tda::core::Interval;

constexpr double kTol = 1e-9;

std::string fixture(const std::string& name) { return std::string(TDA_FIXTURES_DIR) + "/" + name; }

struct Cloud {
  std::vector<double> coords;
  size_t n = 0, dim = 0;
};

// OFF / nOFF reader (comments after '#'; plain OFF takes its dimension from
// the first vertex line, as GUDHI does).
Cloud read_off(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::vector<std::vector<double>> rows;
  std::string line, header;
  std::vector<double> counts;
  size_t n = 0;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream ls(line);
    if (header.empty()) {
      if (!(ls >> header)) continue;
    }
    double x;
    std::vector<double> nums;
    while (ls >> x) nums.push_back(x);
    const size_t need = header == "nOFF" ? 4 : 3;
    if (counts.size() < need) {
      counts.insert(counts.end(), nums.begin(), nums.end());
      if (counts.size() >= need) n = static_cast<size_t>(counts[header == "nOFF" ? 1 : 0]);
      continue;
    }
    if (nums.empty()) continue;
    if (rows.size() < n) rows.push_back(nums);
  }
  Cloud c;
  c.n = rows.size();
  c.dim = rows.empty() ? 0 : rows[0].size();
  for (const auto& r : rows) {
    EXPECT_EQ(r.size(), c.dim);
    c.coords.insert(c.coords.end(), r.begin(), r.end());
  }
  EXPECT_EQ(c.n, n);
  return c;
}

Cloud random_cloud(size_t n, size_t dim, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-scale, scale);
  Cloud c;
  c.n = n;
  c.dim = dim;
  c.coords.resize(n * dim);
  for (double& x : c.coords) x = u(rng);
  return c;
}

using Diagrams = std::map<int, std::vector<Interval>>;

std::string python() {
  const char* p = std::getenv("TDA_GUDHI_PYTHON");
  return p && *p ? p : "/usr/bin/python3";
}

// Runs GUDHI's AlphaComplex(points).create_simplex_tree().persistence() on the
// cloud (written to a temporary file with round-trip precision).
// field 11 runs persistence() with GUDHI's defaults; max_alpha_square "-" = none.
Diagrams gudhi_diagrams(const Cloud& c, int field, const std::string& max_alpha_square) {
  char path[] = "/tmp/tda_alpha_test_XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  {
    std::ofstream out(path);
    out.precision(17);
    for (size_t i = 0; i < c.n; ++i) {
      for (size_t j = 0; j < c.dim; ++j) out << (j ? " " : "") << c.coords[i * c.dim + j];
      out << "\n";
    }
  }
  close(fd);
  const std::string script =
      "import sys, gudhi\n"
      "pts = [[float(x) for x in l.split()] for l in open(sys.argv[1]) if l.strip()]\n"
      "kw = {} if sys.argv[3] == '-' else {'max_alpha_square': float(sys.argv[3])}\n"
      "st = gudhi.AlphaComplex(points=pts).create_simplex_tree(**kw)\n"
      "pk = {} if sys.argv[2] == '11' else {'homology_coeff_field': int(sys.argv[2])}\n"
      "for d, (b, e) in st.persistence(**pk):\n"
      "    print(d, repr(float(b)), repr(float(e)))\n";
  const std::string cmd =
      python() + " -c \"" + script + "\" " + path + " " + std::to_string(field) + " " + max_alpha_square + " 2>&1";
  Diagrams dg;
  FILE* p = popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  std::string text;
  char buf[65536];
  size_t got;
  while (p && (got = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, got);
  const int status = p ? pclose(p) : -1;
  unlink(path);
  const bool ok = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  EXPECT_TRUE(ok) << "GUDHI could not be run (install python3-gudhi): " << text.substr(0, 2000);
  if (!ok) {
    dg[-1] = {};  // marks failure
    return dg;
  }
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    int d;
    std::string b, e;
    if (!(ls >> d >> b >> e)) continue;
    dg[d].push_back(Interval{std::strtod(b.c_str(), nullptr), std::strtod(e.c_str(), nullptr)});
  }
  return dg;
}

bool close_rel(double a, double b) {
  if (a == b) return true;
  if (std::isinf(a) || std::isinf(b)) return false;
  return std::fabs(a - b) <= kTol * std::max(std::fabs(a), std::fabs(b));
}

std::vector<Interval> nonzero(std::vector<Interval> v) {
  v.erase(std::remove_if(v.begin(), v.end(),
                         [](const Interval& I) {
                           return !std::isinf(I.death) &&
                                  I.death - I.birth <= kTol * std::max(std::fabs(I.birth), std::fabs(I.death));
                         }),
          v.end());
  std::sort(v.begin(), v.end(), [](const Interval& a, const Interval& b) {
    return a.birth != b.birth ? a.birth < b.birth : a.death < b.death;
  });
  return v;
}

// Multiset equality within the tolerance (greedy matching over births sorted).
void expect_same(const std::vector<Interval>& ours_in, const std::vector<Interval>& theirs_in, int dim,
                 const std::string& what) {
  const std::vector<Interval> A = nonzero(ours_in), B = nonzero(theirs_in);
  EXPECT_EQ(A.size(), B.size()) << what << ": number of bars in dimension " << dim;
  std::vector<bool> used(B.size(), false);
  size_t lo = 0, unmatched = 0;
  for (const Interval& a : A) {
    while (lo < B.size() && B[lo].birth < a.birth && !close_rel(B[lo].birth, a.birth)) ++lo;
    bool found = false;
    for (size_t j = lo; j < B.size(); ++j) {
      if (B[j].birth > a.birth && !close_rel(B[j].birth, a.birth)) break;
      if (!used[j] && close_rel(B[j].birth, a.birth) && close_rel(B[j].death, a.death)) {
        used[j] = found = true;
        break;
      }
    }
    if (!found && ++unmatched <= 5)
      ADD_FAILURE() << what << ": dim " << dim << " bar [" << a.birth << ", " << a.death << ") not in GUDHI's diagram";
  }
  EXPECT_EQ(unmatched, 0u) << what << ": dimension " << dim;
}

AlphaOptions field(int p) {
  AlphaOptions o;
  o.modulus = p;
  return o;
}

void compare_with_gudhi(const Cloud& c, const std::string& what, const AlphaOptions& opt = {}) {
  const AlphaResult r = tda::core::alpha_from_points(c.coords, c.n, c.dim, opt);
  std::string max_alpha = "-";
  if (opt.max_alpha) {
    std::ostringstream os;
    os.precision(17);
    os << *opt.max_alpha;
    max_alpha = os.str();
  }
  const Diagrams g = gudhi_diagrams(c, opt.modulus, max_alpha);
  ASSERT_EQ(g.count(-1), 0u) << "GUDHI failed";
  ASSERT_EQ(r.diagrams.size(), c.dim);
  size_t ours_total = 0;
  for (int d = 0; d < static_cast<int>(c.dim); ++d) {
    const auto it = g.find(d);
    expect_same(r.diagrams[d], it == g.end() ? std::vector<Interval>{} : it->second, d, what);
    ours_total += r.diagrams[d].size();
  }
  for (const auto& [d, bars] : g) {
    if (d >= static_cast<int>(c.dim)) {
      EXPECT_TRUE(nonzero(bars).empty()) << what << ": GUDHI reports dim " << d;
    }
  }
  EXPECT_GT(ours_total, 0u);
}

// --- equality with GUDHI ----------------------------------------------------

// Fixtures: with GUDHI's default field (Z/11, `persistence()` without
// arguments) and with Z/2.
TEST(AlphaGudhi, Tore3D300) {
  compare_with_gudhi(read_off(fixture("tore3D_300.off")), "tore3D_300 Z/11", field(11));
  compare_with_gudhi(read_off(fixture("tore3D_300.off")), "tore3D_300 Z/2", field(2));
}

// The larger GUDHI example clouds (GUDHI's default field Z/11).
TEST(AlphaGudhi, Tore3D1307) {
  compare_with_gudhi(read_off(fixture("tore3D_1307.off")), "tore3D_1307 Z/11", field(11));
}

TEST(AlphaGudhi, Sphere3D2646) {
  compare_with_gudhi(read_off(fixture("sphere3D_2646.off")), "sphere3D_2646 Z/11", field(11));
}

TEST(AlphaGudhi, Spiral3D10k) {
  compare_with_gudhi(read_off(fixture("spiral_3d_10k.off")), "spiral_3d_10k Z/11", field(11));
}

TEST(AlphaGudhi, AlphaComplexDoc) {
  // 7 co-planar points in R^3 (the z coordinates are 0)
  compare_with_gudhi(read_off(fixture("alphacomplexdoc.off")), "alphacomplexdoc Z/11", field(11));
  compare_with_gudhi(read_off(fixture("alphacomplexdoc.off")), "alphacomplexdoc Z/2", field(2));
}

TEST(AlphaGudhi, Grid10x10x10) {
  // every cell is co-spherical with its neighbours: the triangulation is not
  // unique but the diagram is
  compare_with_gudhi(read_off(fixture("grid_10_10_10_in_0_1.off")), "grid_10_10_10 Z/11", field(11));
  compare_with_gudhi(read_off(fixture("grid_10_10_10_in_0_1.off")), "grid_10_10_10 Z/2", field(2));
}

TEST(AlphaGudhi, Random3D) {
  for (uint64_t seed : {1u, 2u})
    compare_with_gudhi(random_cloud(1500, 3, seed), "random3d Z/2 seed " + std::to_string(seed));
  compare_with_gudhi(random_cloud(1500, 3, 3), "random3d Z/11", field(11));
  compare_with_gudhi(random_cloud(800, 3, 4), "random3d Z/3", field(3));
}

// A Moebius band given by its boundary curve (dense, its loop is born first)
// and its core circle (sparser). When the band fills in, the boundary becomes
// twice the core: over Z/2 the boundary class dies, over Z/11 the core class
// dies -- the dimension-1 diagrams differ by field, and match GUDHI's for each.
TEST(AlphaGudhi, MoebiusBandDependsOnTheField) {
  Cloud c;
  c.dim = 3;
  const double pi = std::acos(-1.0), w = 0.3;
  for (int i = 0; i < 600; ++i) {
    const double u = 4 * pi * i / 600;
    c.coords.insert(c.coords.end(), {(1 + w * std::cos(u / 2)) * std::cos(u), (1 + w * std::cos(u / 2)) * std::sin(u),
                                     w * std::sin(u / 2)});
    ++c.n;
  }
  for (int i = 0; i < 90; ++i) {
    const double u = 2 * pi * i / 90;
    c.coords.insert(c.coords.end(), {std::cos(u), std::sin(u), 0.0});
    ++c.n;
  }
  compare_with_gudhi(c, "moebius Z/2", field(2));
  compare_with_gudhi(c, "moebius Z/11", field(11));
  auto long_bars = [&](int p) {
    std::vector<std::pair<double, double>> v;
    const AlphaResult r = tda::core::alpha_from_points(c.coords, c.n, c.dim, field(p));  // (kept alive for the loop)
    for (const Interval& I : r.diagrams[1])
      if (I.death - I.birth > 0.01) v.emplace_back(I.birth, I.death);
    std::sort(v.begin(), v.end());
    return v;
  };
  const auto z2 = long_bars(2), z11 = long_bars(11);
  ASSERT_EQ(z2.size(), 2u);
  ASSERT_EQ(z11.size(), 2u);
  EXPECT_EQ(z2[0].first, z11[0].first);  // same births
  EXPECT_EQ(z2[1].first, z11[1].first);
  EXPECT_LT(z2[0].second, z2[1].second);    // Z/2: the older (boundary) class dies first
  EXPECT_GT(z11[0].second, z11[1].second);  // Z/11: the core class dies first
}

TEST(AlphaGudhi, Random2D) {
  for (uint64_t seed : {3u, 4u})
    compare_with_gudhi(random_cloud(2000, 2, seed, 10.0), "random2d seed " + std::to_string(seed));
}

TEST(AlphaGudhi, Grid2DWithDuplicates) {
  Cloud c;
  c.dim = 2;
  for (int rep = 0; rep < 2; ++rep)
    for (int i = 0; i < 15; ++i)
      for (int j = 0; j < 12; ++j) {
        c.coords.push_back(i * 0.5);
        c.coords.push_back(j * 0.25);
        ++c.n;
      }
  compare_with_gudhi(c, "grid2d+duplicates");
  const AlphaResult r = tda::core::alpha_from_points(c.coords, c.n, c.dim, {});
  EXPECT_EQ(r.stats.duplicates_merged, 180u);
}

TEST(AlphaGudhi, CoplanarIn3D) {
  // points on a tilted plane, plus a few duplicates
  Cloud c = random_cloud(400, 2, 5);
  Cloud d;
  d.dim = 3;
  for (size_t i = 0; i < c.n; ++i) {
    const double x = c.coords[2 * i], y = c.coords[2 * i + 1];
    d.coords.insert(d.coords.end(), {x, y, 0.25 * x - 0.5 * y});
    ++d.n;
  }
  compare_with_gudhi(d, "coplanar3d");
}

TEST(AlphaGudhi, MaxAlphaTruncation) {
  const Cloud c = read_off(fixture("tore3D_300.off"));
  AlphaOptions opt;
  opt.max_alpha = 0.25;
  compare_with_gudhi(c, "tore3D_300 max_alpha 0.25", opt);
  opt.modulus = 11;
  compare_with_gudhi(c, "tore3D_300 max_alpha 0.25 Z/11", opt);
  const AlphaResult r = tda::core::alpha_from_points(c.coords, c.n, c.dim, opt);
  for (const auto& dg : r.diagrams)
    for (const Interval& I : dg) {
      EXPECT_LE(I.birth, 0.25);
      EXPECT_TRUE(std::isinf(I.death) || I.death <= 0.25);
    }
}

// --- options, degenerate inputs, validation ----------------------------------

TEST(Alpha, RadiusIsSqrtOfSquaredRadius) {
  const Cloud c = read_off(fixture("tore3D_300.off"));
  AlphaOptions sq, rad;
  rad.radius = true;
  const AlphaResult a = tda::core::alpha_from_points(c.coords, c.n, c.dim, sq);
  const AlphaResult b = tda::core::alpha_from_points(c.coords, c.n, c.dim, rad);
  ASSERT_EQ(a.diagrams.size(), b.diagrams.size());
  for (size_t d = 0; d < a.diagrams.size(); ++d) {
    ASSERT_EQ(a.diagrams[d].size(), b.diagrams[d].size());
    for (size_t i = 0; i < a.diagrams[d].size(); ++i) {
      EXPECT_EQ(std::sqrt(a.diagrams[d][i].birth), b.diagrams[d][i].birth);
      EXPECT_EQ(std::sqrt(a.diagrams[d][i].death), b.diagrams[d][i].death);
    }
  }
  // max_alpha is in the reported unit
  rad.max_alpha = 0.5;
  sq.max_alpha = 0.25;
  const AlphaResult ta = tda::core::alpha_from_points(c.coords, c.n, c.dim, sq);
  const AlphaResult tb = tda::core::alpha_from_points(c.coords, c.n, c.dim, rad);
  for (size_t d = 0; d < ta.diagrams.size(); ++d) EXPECT_EQ(ta.diagrams[d].size(), tb.diagrams[d].size());
  EXPECT_EQ(ta.betti, tb.betti);
}

TEST(Alpha, BettiOfTheFullComplex) {
  const Cloud c = random_cloud(500, 3, 9);
  const AlphaResult r = tda::core::alpha_from_points(c.coords, c.n, c.dim, {});
  EXPECT_EQ(r.betti, (std::vector<uint64_t>{1, 0, 0}));
  EXPECT_EQ(r.stats.points, 500u);
  EXPECT_EQ(r.stats.duplicates_merged, 0u);
  EXPECT_GT(r.stats.simplices, 500u);
  EXPECT_GT(r.stats.columns_reduced, 0u);
}

TEST(Alpha, MaxDim) {
  const Cloud c = random_cloud(300, 3, 10);
  AlphaOptions opt;
  opt.max_dim = 1;
  const AlphaResult r = tda::core::alpha_from_points(c.coords, c.n, c.dim, opt);
  EXPECT_EQ(r.diagrams.size(), 2u);
  opt.max_dim = 0;
  EXPECT_EQ(tda::core::alpha_from_points(c.coords, c.n, c.dim, opt).diagrams.size(), 1u);
}

TEST(Alpha, DegenerateInputs) {
  // one point, repeated
  {
    const std::vector<double> p = {1, 2, 3, 1, 2, 3, 1, 2, 3};
    const AlphaResult r = tda::core::alpha_from_points(p, 3, 3, {});
    EXPECT_EQ(r.stats.duplicates_merged, 2u);
    ASSERT_EQ(r.diagrams[0].size(), 1u);
    EXPECT_TRUE(std::isinf(r.diagrams[0][0].death));
    EXPECT_TRUE(r.diagrams[1].empty());
  }
  // collinear points in R^3 and R^2: a path, bars [0, (gap/2)^2)
  {
    const std::vector<double> p3 = {0, 0, 0, 3, 3, 3, 1, 1, 1, 1, 1, 1};
    const AlphaResult r = tda::core::alpha_from_points(p3, 4, 3, {});
    EXPECT_EQ(r.stats.duplicates_merged, 1u);
    ASSERT_EQ(r.diagrams[0].size(), 3u);
    std::vector<double> deaths;
    for (const Interval& I : r.diagrams[0]) deaths.push_back(I.death);
    std::sort(deaths.begin(), deaths.end());
    EXPECT_DOUBLE_EQ(deaths[0], 0.75);
    EXPECT_DOUBLE_EQ(deaths[1], 3.0);
    EXPECT_TRUE(std::isinf(deaths[2]));
    const std::vector<double> p2 = {0, 0, 2, 1, 4, 2, 6, 3};
    EXPECT_EQ(tda::core::alpha_from_points(p2, 4, 2, {}).diagrams[0].size(), 4u);
  }
  // two points
  {
    const std::vector<double> p = {0, 0, 0, 2, 0, 0};
    const AlphaResult r = tda::core::alpha_from_points(p, 2, 3, {});
    ASSERT_EQ(r.diagrams[0].size(), 2u);
  }
  // co-spherical: the 8 corners of a cube and 6 face centres pushed onto the sphere
  {
    std::vector<double> p;
    for (int i = 0; i < 8; ++i) p.insert(p.end(), {i & 1 ? 1.0 : -1.0, i & 2 ? 1.0 : -1.0, i & 4 ? 1.0 : -1.0});
    const double s = std::sqrt(3.0);
    for (int a = 0; a < 3; ++a)
      for (double sg : {-s, s}) {
        double q[3] = {0, 0, 0};
        q[a] = sg;
        p.insert(p.end(), q, q + 3);
      }
    Cloud c;
    c.coords = p;
    c.n = 14;
    c.dim = 3;
    compare_with_gudhi(c, "cospherical");
  }
}

// The Gabriel test of a triangle (a floating-point filter in front of CGAL's exact
// predicate) against the exact predicate alone: random triangles with random
// points, points on or within a few ulps of the smallest circumsphere, far from
// the origin, and tiny or huge coordinates (outside the filter's range).
TEST(Alpha, TriangleGabrielTestAgreesWithExactPredicate) {
  using tda::core::alpha_detail::Kernel;
  using tda::core::alpha_detail::Predicates;
  const auto exact = [](const double* p, const double* q, const double* r, const double* w) {
    const auto P = [](const double* x) { return Kernel::Point_3(x[0], x[1], x[2]); };
    return Kernel().side_of_bounded_sphere_3_object()(P(p), P(q), P(r), P(w)) == CGAL::ON_BOUNDED_SIDE;
  };
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> U(-1, 1);
  int inside = 0, outside = 0, checked = 0;
  const std::pair<double, double> frames[] = {{1.0, 0.0},  {1e-3, 0.0}, {1e30, 0.0}, {1e-45, 0.0},
                                              {1e45, 0.0}, {1.0, 1e6},  {1e-3, 1e6}};  // (scale, offset)
  for (const auto& [scale, offset] : frames) {
    for (int it = 0; it < 4000; ++it) {
      double p[3], q[3], r[3], w[3];
      for (int i = 0; i < 3; ++i) {
        p[i] = offset + scale * U(rng);
        q[i] = offset + scale * U(rng);
        r[i] = offset + scale * U(rng);
      }
      // the circumcentre in long double, then w on that sphere (rounded), nudged by a few ulps or not
      long double a[3], b[3];
      for (int i = 0; i < 3; ++i) {
        a[i] = static_cast<long double>(p[i]) - r[i];
        b[i] = static_cast<long double>(q[i]) - r[i];
      }
      const long double n[3] = {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
      const long double aa = a[0] * a[0] + a[1] * a[1] + a[2] * a[2], bb = b[0] * b[0] + b[1] * b[1] + b[2] * b[2];
      const long double nn = n[0] * n[0] + n[1] * n[1] + n[2] * n[2];
      long double v[3], c[3];
      for (int i = 0; i < 3; ++i) v[i] = aa * b[i] - bb * a[i];
      c[0] = (v[1] * n[2] - v[2] * n[1]) / (2 * nn);
      c[1] = (v[2] * n[0] - v[0] * n[2]) / (2 * nn);
      c[2] = (v[0] * n[1] - v[1] * n[0]) / (2 * nn);
      const long double rad = std::sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]);
      long double dir[3] = {static_cast<long double>(U(rng)), static_cast<long double>(U(rng)),
                            static_cast<long double>(U(rng))};
      const long double dl = std::sqrt(dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2]);
      const int mode = it % 4;  // 0: anywhere; 1: on the sphere (rounded); 2, 3: nudged in or out
      for (int i = 0; i < 3; ++i) {
        if (mode == 0) {
          w[i] = offset + scale * U(rng);
        } else {
          w[i] = static_cast<double>(r[i] + c[i] + rad * dir[i] / dl);
          for (int k = 0; k < it % 3; ++k) w[i] = std::nextafter(w[i], mode == 2 ? 0.0 : 1e300);
        }
      }
      const bool got = Predicates<3>::triangle_attached(p, q, r, w);
      ASSERT_EQ(got, exact(p, q, r, w)) << "scale " << scale << " offset " << offset << " case " << it;
      (got ? inside : outside) += 1;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 28000);
  EXPECT_GT(inside, 5000);
  EXPECT_GT(outside, 5000);
  // exactly on the sphere (integer coordinates): not strictly inside
  const double p[3] = {2, 0, 0}, q[3] = {0, 2, 0}, r[3] = {0, 0, 0};
  const double on[3] = {2, 2, 0}, in[3] = {1, 1, 1}, out[3] = {1, 1, 1.5};
  EXPECT_FALSE(Predicates<3>::triangle_attached(p, q, r, on));
  EXPECT_TRUE(Predicates<3>::triangle_attached(p, q, r, in));
  EXPECT_FALSE(Predicates<3>::triangle_attached(p, q, r, out));
}

TEST(Alpha, Validation) {
  using tda::core::InvalidInput;
  const std::vector<double> p = {0, 0, 1, 1};
  EXPECT_THROW(tda::core::alpha_from_points(p, 2, 1, {}), InvalidInput);
  EXPECT_THROW(tda::core::alpha_from_points(p, 1, 4, {}), InvalidInput);
  EXPECT_THROW(tda::core::alpha_from_points({}, 0, 2, {}), InvalidInput);
  EXPECT_THROW(tda::core::alpha_from_points(p, 3, 2, {}), InvalidInput);
  const std::vector<double> bad = {0, 0, std::nan(""), 1};
  EXPECT_THROW(tda::core::alpha_from_points(bad, 2, 2, {}), InvalidInput);
  const std::vector<double> inf = {0, 0, HUGE_VAL, 1};
  EXPECT_THROW(tda::core::alpha_from_points(inf, 2, 2, {}), InvalidInput);
  const std::vector<double> huge = {0, 0, 1e200, 1};
  EXPECT_THROW(tda::core::alpha_from_points(huge, 2, 2, {}), InvalidInput);
  AlphaOptions o;
  o.max_dim = -2;
  EXPECT_THROW(tda::core::alpha_from_points(p, 2, 2, o), InvalidInput);
  AlphaOptions m;
  m.modulus = 4;
  EXPECT_THROW(tda::core::alpha_from_points(p, 2, 2, m), InvalidInput);
  m.modulus = 257;
  EXPECT_THROW(tda::core::alpha_from_points(p, 2, 2, m), InvalidInput);
  EXPECT_THROW(tda::core::estimate_alpha(10, 7), InvalidInput);
  const auto e = tda::core::estimate_alpha(100000, 3);
  EXPECT_GT(e.memory_bytes, 100000u * 100);
  EXPECT_GT(e.seconds, 0.0);
}

TEST(Alpha, CancellationAndProgress) {
  const Cloud c = random_cloud(2000, 3, 11);
  tda::core::Callbacks cb;
  int calls = 0;
  bool done = false;
  cb.on_progress = [&](const tda::core::ProgressInfo& p) {
    ++calls;
    done = done || p.stage == tda::core::Stage::Done;
  };
  tda::core::alpha_from_points(c.coords, c.n, c.dim, {}, cb);
  EXPECT_GT(calls, 3);
  EXPECT_TRUE(done);
  tda::core::Callbacks cancel;
  cancel.is_cancelled = [] { return true; };
  EXPECT_THROW(tda::core::alpha_from_points(c.coords, c.n, c.dim, {}, cancel), tda::core::Cancelled);
}

// Cancelled at a spread of its checks on two threads (the passes split over the
// threads, the two rounds of dimensions 0 and 2 side by side, the gathered
// columns): every run stops with Cancelled, and an uncancelled run afterwards
// still equals the one-thread result.
TEST(Alpha, PassesBetweenInsertionAndTrianglesReport) {
  // the cells' canonical order, their flat arrays and the edge index ran for
  // seconds on large clouds without a report (1M-point torus: 3.5 s): each now
  // reports its start at its share of [0.5, kTrianglesFrom) of the Distances
  // stage, and the stage's fraction only grows
  const Cloud c = random_cloud(30000, 3, 8);
  for (int t : {1, 2}) {
    AlphaOptions o;
    o.threads = t;
    std::vector<double> f;
    tda::core::Callbacks cb;
    cb.on_progress = [&](const tda::core::ProgressInfo& p) {
      if (p.stage == tda::core::Stage::Distances && p.columns_total > 0)
        f.push_back(static_cast<double>(p.columns_done) / static_cast<double>(p.columns_total));
    };
    tda::core::alpha_from_points(c.coords, c.n, c.dim, o, cb);
    for (size_t i = 1; i < f.size(); ++i) EXPECT_GE(f[i], f[i - 1]) << "threads " << t << " report " << i;
    for (int k = 0; k < 6; ++k) {
      const double start = 0.5 + (tda::core::alpha_detail::kTrianglesFrom - 0.5) * k / 6;
      EXPECT_TRUE(std::any_of(f.begin(), f.end(), [&](double x) { return std::fabs(x - start) < 1e-6; }))
          << "threads " << t << ": pass " << k << " did not report its start";
    }
  }
}

TEST(Alpha, CancelledAtEveryStageOnTwoThreads) {
  const Cloud c = random_cloud(20000, 3, 5);
  AlphaOptions o;
  o.threads = 2;
  std::atomic<int> checks{0};
  tda::core::Callbacks count;
  count.is_cancelled = [&] {
    ++checks;
    return false;
  };
  const AlphaResult whole = tda::core::alpha_from_points(c.coords, c.n, c.dim, o, count);
  ASSERT_GT(checks.load(), 10);
  AlphaOptions one;
  one.threads = 1;
  const AlphaResult serial = tda::core::alpha_from_points(c.coords, c.n, c.dim, one);
  auto same_as_serial = [&](const AlphaResult& r) {
    if (r.diagrams.size() != serial.diagrams.size()) return false;
    for (size_t d = 0; d < r.diagrams.size(); ++d) {
      if (r.diagrams[d].size() != serial.diagrams[d].size()) return false;
      for (size_t i = 0; i < r.diagrams[d].size(); ++i)
        if (r.diagrams[d][i].birth != serial.diagrams[d][i].birth ||
            r.diagrams[d][i].death != serial.diagrams[d][i].death)
          return false;
    }
    return true;
  };
  // Worker 0 takes a varying share of the chunks and polls while it waits, so a
  // run's number of checks varies: a run asked to stop at a check it never reaches
  // must finish with the right result instead. Most stop.
  const int last = checks.load() * 6 / 10;
  int stopped = 0;
  for (int i = 0; i <= 8; ++i) {
    const int k = 1 + i * (last - 1) / 8;
    std::atomic<int> seen{0};
    tda::core::Callbacks cb;
    cb.is_cancelled = [&] { return ++seen >= k; };
    try {
      const AlphaResult r = tda::core::alpha_from_points(c.coords, c.n, c.dim, o, cb);
      EXPECT_LT(seen.load(), k) << "check " << k << " was reached but the run went on";
      EXPECT_TRUE(same_as_serial(r)) << "check " << k;
    } catch (const tda::core::Cancelled&) {
      ++stopped;
    }
  }
  EXPECT_GE(stopped, 5);
  EXPECT_TRUE(same_as_serial(whole));
}

// --- the CLI (tda_alpha_cli: the same code as `tda-engine --algorithm alpha`) ---

struct CliRun {
  int code = -1;
  std::string out;
};

// err: where stderr goes (discarded when empty)
CliRun run_cli(const std::string& args, const std::string& input, const std::string& err = "") {
  char path[] = "/tmp/tda_alpha_cli_XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, input.data(), input.size()), static_cast<ssize_t>(input.size()));
  close(fd);
  CliRun r;
  FILE* p = popen(
      (std::string(TDA_ALPHA_CLI) + " " + args + " " + path + " 2>" + (err.empty() ? "/dev/null" : err)).c_str(), "r");
  char buf[4096];
  size_t got;
  while (p && (got = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, got);
  const int st = p ? pclose(p) : -1;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  unlink(path);
  return r;
}

TEST(AlphaCli, FormatsAndOutput) {
  // a unit square in CSV: 4 edges of squared half-length 0.25, the square fills at 0.5
  const std::string csv = "0,0\n1,0\n0,1\n1,1\n";
  CliRun r = run_cli("--algorithm alpha --format point-cloud", csv);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("persistence intervals in dim 0:\n [0,0.25)\n [0,0.25)\n [0,0.25)\n [0, )\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("persistence intervals in dim 1:\n [0.25,0.5)\n"), std::string::npos) << r.out;
  // the same from standard input (the shell redirects the file: "... <" + path)
  EXPECT_EQ(run_cli("--algorithm alpha --format point-cloud <", csv).out, r.out);
  r = run_cli("--algorithm alpha --radius", "0 0\n1 0\n0 1\n1 1\n");
  EXPECT_NE(r.out.find(" [0.5,0.7071067811865476)"), std::string::npos) << r.out;
  // OFF with 2-D points (dimension from the first vertex line), comments
  r = run_cli("--algorithm alpha", "OFF\n# comment\n4 0 0\n0 0\n1 0\n0 1\n1 1\n");
  EXPECT_NE(r.out.find("4 points in dimension 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" [0.25,0.5)"), std::string::npos) << r.out;
  // nOFF with the dimension on the counts line
  r = run_cli("--algorithm alpha --dim 0", "nOFF\n3 4 0 0\n0 0 0\n2 0 0\n0 2 0\n0 0 2\n");
  EXPECT_NE(r.out.find("4 points in dimension 3"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("dim 1"), std::string::npos) << r.out;
  // duplicates are reported
  r = run_cli("--algorithm alpha", "0 0\n0 0\n1 0\n");
  EXPECT_NE(r.out.find("1 duplicate points merged"), std::string::npos) << r.out;
  // errors: exit code 2
  EXPECT_EQ(run_cli("--algorithm alpha", "0 0\n1 x\n").code, 2);
  EXPECT_EQ(run_cli("--algorithm alpha", "0 0 0 0\n1 1 1 1\n").code, 2);
  EXPECT_EQ(run_cli("--algorithm alpha --modulus 4", "0 0\n1 1\n").code, 2);
  EXPECT_EQ(run_cli("--algorithm rips", "0 0\n1 1\n").code, 2);
}

// The first n points of a 3-D cloud as text, one point per line.
std::string cloud_text_3d(const Cloud& c, size_t n) {
  std::string text;
  for (size_t i = 0; i < n; ++i)
    text += std::to_string(c.coords[3 * i]) + " " + std::to_string(c.coords[3 * i + 1]) + " " +
            std::to_string(c.coords[3 * i + 2]) + "\n";
  return text;
}

// The command line's run on `input` with its stderr in `err`.
CliRun run_cli_stderr(const std::string& args, const std::string& input, std::string& err) {
  // (one file per process: ctest runs the tests as processes side by side)
  const std::string err_file = ::testing::TempDir() + "/alpha_cli_stderr_" + std::to_string(getpid()) + ".txt";
  const CliRun r = run_cli(args, input, err_file);
  std::ifstream in(err_file, std::ios::binary);
  err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  std::remove(err_file.c_str());
  return r;
}

// --progress draws the bar on stderr only (stdout unchanged); without the flag a
// stderr that is not a terminal gets nothing, and --no-progress wins.
TEST(AlphaCli, ProgressBarOnStderrOnly) {
  const Cloud c = random_cloud(20000, 3, 17);
  const std::string cloud = cloud_text_3d(c, c.n);
  auto run = [&](const std::string& flags, std::string& err) {
    return run_cli_stderr("--algorithm alpha --threads 2 " + flags, cloud, err);
  };
  std::string err_plain, err_bar, err_off, err_both;
  const CliRun plain = run("", err_plain), bar = run("--progress", err_bar), off = run("--no-progress", err_off),
               both = run("--progress --no-progress", err_both);
  ASSERT_EQ(plain.code, 0);
  EXPECT_EQ(bar.code, 0);
  EXPECT_EQ(bar.out, plain.out);
  EXPECT_EQ(off.out, plain.out);
  EXPECT_EQ(both.out, plain.out);
  EXPECT_EQ(err_plain, "");
  EXPECT_EQ(err_off, "");
  EXPECT_EQ(err_both, "");
  EXPECT_NE(err_bar.find("100.0% done"), std::string::npos) << err_bar;
  EXPECT_NE(err_bar.find(" mem "), std::string::npos) << err_bar;
  EXPECT_NE(err_bar.find(" left "), std::string::npos) << err_bar;
  EXPECT_EQ(err_bar.find("persistence intervals"), std::string::npos) << err_bar;
}

// --stats' steps: each step of the pipeline timed once, in order, within the
// call's wall time; and the command line prints them.
TEST(AlphaStats, StepsCoverThePipelineInOrder) {
  using Names = std::vector<std::string>;
  auto run = [](const Cloud& c, int threads, Names& names) {
    AlphaOptions opt;
    opt.threads = threads;
    const auto t0 = std::chrono::steady_clock::now();
    const AlphaResult r = tda::core::alpha_from_points(c.coords, c.n, c.dim, opt);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double sum = 0;
    names.clear();
    for (const auto& [name, seconds] : r.stats.steps) {
      names.emplace_back(name);
      EXPECT_GE(seconds, 0.0) << name;
      sum += seconds;
    }
    EXPECT_LE(sum, wall);
  };
  const Names r3 = {"duplicates",          "spatial_sort", "insertion", "cells",
                    "triangulation_freed", "edge_index",   "triangles", "edge_values"};
  const Names tail = {"dim1_reduction", "dim1_bars", "output"};
  const Cloud c3 = random_cloud(20000, 3, 5), c2 = random_cloud(20000, 2, 6);
  Names got, want;
  run(c3, 1, got);
  want = r3;
  want.insert(want.end(), {"dim0", "top_dimension"});
  want.insert(want.end(), tail.begin(), tail.end());
  EXPECT_EQ(got, want);
  run(c3, 2, got);
  want = r3;
  want.insert(want.end(), {"sorts", "cofacets", "union_finds"});
  want.insert(want.end(), tail.begin(), tail.end());
  EXPECT_EQ(got, want);
  run(c2, 2, got);  // (R^2: the spatial sort is inside the insertion; no dimension 1 to reduce)
  EXPECT_EQ(got, (Names{"duplicates", "insertion", "cells", "faces", "sorts", "cofacets", "union_finds", "output"}));

  std::string err;
  ASSERT_EQ(run_cli_stderr("--algorithm alpha --stats", cloud_text_3d(c3, 2000), err).code, 0);
  EXPECT_NE(err.find("\nsteps: duplicates="), std::string::npos) << err;
  EXPECT_NE(err.find(" dim1_bars="), std::string::npos) << err;
}

// The process's peak RSS (VmHWM), bytes; 0 when /proc cannot tell.
uint64_t peak_rss() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  return 0;
}

// Resets the peak RSS to the current RSS (Linux: "5" to clear_refs).
void reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
}

// Issue #14: the Alpha estimate of degenerate clouds. Points on the moment curve
// (t, t^2, t^3) have a Delaunay triangulation of ~n^2/2 tetrahedra, far beyond the
// size-only estimate; the data-following one (estimate_alpha_points, what the
// server admits with) must cover the run's measured peak within a sane factor,
// and keep the random cube's figure. The peak is the peak RSS of a child process
// that runs only the computation, and, as a lower check, the memory guard's
// accounting (MemoryBudget::peak) of the same run. The child starts as a copy
// of this process, which holds what earlier tests left (malloc's freed heap,
// TBB's pools): it gives back what malloc can (malloc_trim), resets its
// high-water mark, and the run's peak is counted above what was resident then,
// so it is the same whether the test runs alone or after others.
struct MeasuredRun {
  tda::core::Estimate estimate;
  tda::core::AlphaProfile profile;
  uint64_t rss = 0;     // peak RSS of the run above the resident set it started with, bytes
  uint64_t budget = 0;  // peak of the memory guard's accounting, bytes
  uint64_t simplices = 0;
};

MeasuredRun measure_alpha(const Cloud& c) {
  MeasuredRun m;
  m.profile = tda::core::profile_alpha_points(c.coords, c.n);
  m.estimate = tda::core::estimate_alpha_points(c.coords, c.n, c.dim);
  int pipe_fd[2];
  if (pipe(pipe_fd) != 0) ADD_FAILURE() << "pipe";
  const pid_t pid = fork();
  if (pid == 0) {  // the run, alone in a process: its peak RSS is the computation's
    close(pipe_fd[0]);
    malloc_trim(0);
    reset_peak_rss();
    const uint64_t before = peak_rss();
    tda::core::MemoryBudget budget(0);  // unlimited: it only records the peak
    tda::core::Callbacks cb;
    cb.memory = &budget;
    AlphaOptions o;
    o.threads = 1;
    const uint64_t simplices = tda::core::alpha_from_points(c.coords, c.n, c.dim, o, cb).stats.simplices;
    const uint64_t out[3] = {simplices, budget.peak(), peak_rss() - before};
    const bool ok = write(pipe_fd[1], out, sizeof out) == static_cast<ssize_t>(sizeof out);
    _exit(ok ? 0 : 1);
  }
  close(pipe_fd[1]);
  uint64_t in[3] = {0, 0, 0};
  const bool got = read(pipe_fd[0], in, sizeof in) == static_cast<ssize_t>(sizeof in);
  close(pipe_fd[0]);
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(got && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  m.simplices = in[0];
  m.budget = in[1];
  m.rss = in[2];
  EXPECT_GT(m.rss, uint64_t{0}) << "no peak RSS from /proc/self/status";
  const auto ratio = [](uint64_t a, uint64_t b) { return static_cast<double>(a) / static_cast<double>(b); };
  std::printf(
      "n=%zu estimate=%llu peak_rss=%llu estimate/rss=%.2f size_only/rss=%.2f budget_peak=%llu "
      "sample=%llu sample_tets=%llu growth=%.2f predicted_tets=%.0f simplices=%llu\n",
      c.n, static_cast<unsigned long long>(m.estimate.memory_bytes), static_cast<unsigned long long>(m.rss),
      ratio(m.estimate.memory_bytes, m.rss), ratio(tda::core::estimate_alpha(c.n, 3).memory_bytes, m.rss),
      static_cast<unsigned long long>(m.budget), static_cast<unsigned long long>(m.profile.sample),
      static_cast<unsigned long long>(m.profile.sample_tetrahedra), m.profile.growth, m.profile.tetrahedra,
      static_cast<unsigned long long>(m.simplices));
  return m;
}

Cloud moment_curve(size_t n) {
  Cloud c;
  c.n = n;
  c.dim = 3;
  for (size_t i = 0; i < n; ++i) {
    const double t = -1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(n - 1);
    c.coords.insert(c.coords.end(), {t, t * t, t * t * t});
  }
  return c;
}

TEST(AlphaEstimate, MomentCurveIsCoveredWithinTenTimes) {
  const Cloud c = moment_curve(2000);
  const MeasuredRun m = measure_alpha(c);
  EXPECT_GT(m.simplices, uint64_t{c.n} * c.n);  // quadratic: ~2n^2 simplices (n^2/2 tetrahedra)
  EXPECT_LT(tda::core::estimate_alpha(c.n, 3).memory_bytes, m.rss / 4);  // what the size-only figure misses
  EXPECT_GT(m.profile.growth, 1.8);
  EXPECT_GE(m.estimate.memory_bytes, m.rss);
  EXPECT_GE(m.estimate.memory_bytes, m.budget);
  EXPECT_LE(m.estimate.memory_bytes, 10 * m.rss);
}

TEST(AlphaEstimate, SpiralIsCoveredWithinTenTimes) {
  // a curve whose triangulation turns super-linear only at its full density (the
  // random sample alone predicts a third of it; the nearest-point patch sees it)
  const Cloud c = read_off(fixture("spiral_3d_10k.off"));
  const MeasuredRun m = measure_alpha(c);
  EXPECT_GE(m.estimate.memory_bytes, m.rss);
  EXPECT_GE(m.estimate.memory_bytes, m.budget);
  EXPECT_LE(m.estimate.memory_bytes, 10 * m.rss);
}

TEST(AlphaEstimate, SmallMomentCurveIsCountedExactly) {
  const Cloud c = moment_curve(400);  // below the sample size: the triangulation itself is counted
  const MeasuredRun m = measure_alpha(c);
  EXPECT_TRUE(m.profile.exact);
  EXPECT_GE(m.estimate.memory_bytes, m.rss);
  EXPECT_LE(m.estimate.memory_bytes, 10 * m.rss);
}

// A torus of radii 1 and 0.35 sampled uniformly by area (bench/large_cloud_bench.py's).
Cloud torus_surface(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  Cloud c;
  c.n = n;
  c.dim = 3;
  while (c.coords.size() < 3 * n) {
    const double a = 2 * M_PI * u(rng), b = 2 * M_PI * u(rng);
    if (u(rng) * 1.35 > 1 + 0.35 * std::cos(b)) continue;  // the area element's weight
    const double w = 1 + 0.35 * std::cos(b);
    c.coords.insert(c.coords.end(), {w * std::cos(a), w * std::sin(a), 0.35 * std::sin(b)});
  }
  return c;
}

TEST(AlphaEstimate, SurfaceIsNotTakenForSuperLinear) {
  // a surface sample's triangulation is linear (~13 tetrahedra per point), but a
  // 512-point sample grew 1.19 between its halves (its boundary): 2.3x the peak
  // at 100k points, 4.5x (8.3 GB for 1.85 GB) at 1M. Larger samples, less the
  // boundary's share of their growth, follow it.
  const Cloud c = torus_surface(100000, 21);
  const MeasuredRun m = measure_alpha(c);
  EXPECT_EQ(m.profile.sample, tda::core::kAlphaRefinePoints);
  EXPECT_LT(m.profile.growth, 1.1);
  EXPECT_GE(m.estimate.memory_bytes, m.rss);
  EXPECT_LE(m.estimate.memory_bytes, 2 * m.rss);
}

TEST(AlphaEstimate, RandomCubeKeepsTheSizeOnlyFigure) {
  const Cloud c = random_cloud(100000, 3, 5);
  const MeasuredRun m = measure_alpha(c);
  EXPECT_LT(m.profile.growth, 1.3);
  EXPECT_EQ(m.estimate.memory_bytes, tda::core::estimate_alpha(c.n, 3).memory_bytes);
  EXPECT_GE(m.estimate.memory_bytes, m.rss);
  EXPECT_LE(m.estimate.memory_bytes, 3 * m.rss);
}

}  // namespace

// --- the parallel Delaunay triangulation (CGAL with TBB) ----------------------

AlphaOptions threads(int t, int p = 2) {
  AlphaOptions o;
  o.threads = t;
  o.modulus = p;
  return o;
}

// Equal to GUDHI with two threads, and bar for bar (same doubles) to one thread:
// the cells are put in a canonical order, so no value depends on the schedule.
TEST(AlphaParallel, SameDiagramForEveryThreadCount) {
  EXPECT_TRUE(tda::core::alpha_detail::kParallelDelaunay) << "built without TBB: the parallel path is not tested";
  compare_with_gudhi(read_off(fixture("tore3D_1307.off")), "tore3D_1307 2 threads Z/11", threads(2, 11));
  compare_with_gudhi(read_off(fixture("grid_10_10_10_in_0_1.off")), "grid_10_10_10 2 threads", threads(2));
  compare_with_gudhi(random_cloud(20000, 3, 7), "random3d 20k 2 threads", threads(2));
  for (const Cloud& c : {read_off(fixture("grid_10_10_10_in_0_1.off")), read_off(fixture("sphere3D_2646.off")),
                         random_cloud(30000, 3, 8)}) {
    const AlphaResult one = tda::core::alpha_from_points(c.coords, c.n, c.dim, threads(1));
    for (int t : {2, 3}) {
      const AlphaResult many = tda::core::alpha_from_points(c.coords, c.n, c.dim, threads(t));
      ASSERT_EQ(one.diagrams.size(), many.diagrams.size());
      EXPECT_EQ(one.stats.simplices, many.stats.simplices);
      for (size_t d = 0; d < one.diagrams.size(); ++d) {
        ASSERT_EQ(one.diagrams[d].size(), many.diagrams[d].size()) << "dim " << d << " threads " << t;
        for (size_t i = 0; i < one.diagrams[d].size(); ++i) {
          EXPECT_EQ(one.diagrams[d][i].birth, many.diagrams[d][i].birth) << "dim " << d << " bar " << i;
          EXPECT_EQ(one.diagrams[d][i].death, many.diagrams[d][i].death) << "dim " << d << " bar " << i;
        }
      }
    }
  }
}

// The lock-free dimension-1 reduction against the serial one on random columns
// (three entries in a band of 3000 ranks that moves with the column, 3 columns
// for 4 ranks: many columns need additions, and the bands of the chunks that
// workers take at once overlap, so later columns take pivots that earlier ones
// then claim back, as often as the workers overlap in time): the
// same pivot of every column and the same owner of every rank, over Z/2 and
// Z/5, on 2 to 4 threads.
// Columns already gathered, as the lock-free reduction's source.
struct GatheredColumns {
  const std::vector<tda::core::alpha_detail::TriColumn>& cols;
  size_t size() const { return cols.size(); }
  void gather(size_t begin, size_t end, tda::core::alpha_detail::TriColumn* out) const {
    std::copy(cols.begin() + static_cast<long>(begin), cols.begin() + static_cast<long>(end), out);
  }
};

template <class Field>
void same_pairs_as_serial(const Field& field, uint32_t p, const char* what) {
  using tda::core::alpha_detail::kNoColumn;
  using tda::core::alpha_detail::TriColumn;
  std::mt19937 rng(11);
  constexpr uint32_t kRanks = 40000, kBand = 3000;
  std::vector<TriColumn> cols(30000);
  for (size_t j = 0; j < cols.size(); ++j) {
    TriColumn& c = cols[j];
    c.len = 3;
    const uint32_t low = static_cast<uint32_t>(j * (kRanks - kBand) / cols.size());
    std::uniform_int_distribution<uint32_t> rank(low, low + kBand - 1), coef(1, p - 1);
    do {
      for (int k = 0; k < 3; ++k) c.rank[k] = rank(rng);
      std::sort(c.rank, c.rank + 3);
    } while (c.rank[0] == c.rank[1] || c.rank[1] == c.rank[2]);
    for (int k = 0; k < 3; ++k) c.coef[k] = static_cast<uint8_t>(coef(rng));
  }
  std::vector<uint32_t> at1(kRanks, kNoColumn), piv1(cols.size(), kNoColumn);
  tda::core::alpha_detail::reduce_dim1(
      field, cols, at1, [](size_t, uint64_t) {}, [&](size_t j, uint32_t r) { piv1[j] = r; });
  // (the owners as column indices, as the concurrent reduction reports them)
  std::vector<uint32_t> owner1(kRanks, kNoColumn);
  for (size_t j = 0; j < cols.size(); ++j)
    if (piv1[j] != kNoColumn) owner1[piv1[j]] = static_cast<uint32_t>(j);
  size_t paired = 0;
  for (uint32_t r : piv1) paired += r != kNoColumn;
  EXPECT_GT(paired, cols.size() * 9 / 10) << what;  // (few columns vanish)
  for (int threads : {2, 3, 4}) {
    std::vector<uint32_t> at(kRanks, kNoColumn), piv(cols.size(), kNoColumn);
    tda::core::alpha_detail::reduce_dim1_concurrent(
        field, GatheredColumns{cols}, at, [&](size_t j, uint32_t r) { piv[j] = r; }, threads, [](size_t, uint64_t) {});
    EXPECT_EQ(piv, piv1) << what << " threads=" << threads;
    EXPECT_EQ(at, owner1) << what << " threads=" << threads;
  }
}

TEST(AlphaParallel, LockFreeReductionPairsAsTheSerialOne) {
  same_pairs_as_serial(tda::core::alpha_detail::Z2Field{}, 2, "Z/2");
  same_pairs_as_serial(tda::core::alpha_detail::ZpField(5), 5, "Z/5");
}
