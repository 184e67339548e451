// Golden tests: the core's barcodes must equal those of Debian's ripser /
// ripser-coeff, per dimension as multisets of the printed (float32, 6 significant
// digits) intervals. The reference tools are required: a missing tool is a failure.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "tda/core/io.hpp"
#include "tda/core/rips.hpp"
#include "test_util.hpp"

using namespace tda::core;
namespace t = tda::test;

namespace {

struct Case {
  std::string file;
  std::string format;  // ripser --format
  int dim;
  int modulus;
  double threshold = -1;  // < 0: none
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.file << " --format " << c.format << " --dim " << c.dim << " --modulus " << c.modulus;
  if (c.threshold >= 0) *os << " --threshold " << c.threshold;
}

class Golden : public ::testing::TestWithParam<Case> {};

TEST_P(Golden, MatchesRipser) {
  const Case& c = GetParam();
  const std::string tool = c.modulus == 2 ? "/usr/bin/ripser" : "/usr/bin/ripser-coeff";
  ASSERT_EQ(access(tool.c_str(), X_OK), 0) << tool << " is required for the golden tests";
  const std::string path = t::fixture(c.file);
  const std::string text = t::read_file(path);
  ASSERT_FALSE(text.empty()) << "missing fixture " << path;

  std::string cmd = tool + " --format " + c.format + " --dim " + std::to_string(c.dim);
  if (c.modulus != 2) cmd += " --modulus " + std::to_string(c.modulus);
  if (c.threshold >= 0) {
    std::ostringstream thr;
    thr << c.threshold;
    cmd += " --threshold " + thr.str();
  }
  cmd += " '" + path + "' 2>/dev/null";
  t::CommandResult ref = t::run_command(cmd);
  ASSERT_EQ(ref.exit_code, 0) << cmd;
  t::Barcodes expected = t::parse_ripser_output(ref.out);
  ASSERT_FALSE(expected.empty());

  // the barcodes must not depend on the number of workers (4 is oversubscribed on CI),
  // nor on working columns being cut into buckets (split 64: most columns are),
  // nor on the edge collapse (forced on, off, or by the rule)
  struct Run {
    int threads;
    size_t split;
    Collapse collapse;
  };
  for (Run run : {Run{1, 0, Collapse::Off}, Run{2, 0, Collapse::On}, Run{4, 0, Collapse::Auto},
                  Run{1, 64, Collapse::On}, Run{2, 64, Collapse::Off}}) {
    const int threads = run.threads;
    RipsOptions o;
    o.collapse = run.collapse;
    o.max_dim = c.dim;
    o.modulus = c.modulus;
    o.threads = threads;
    o.column_split = run.split;
    if (c.threshold >= 0) o.threshold = c.threshold;
    RipsResult r;
    size_t n;
    if (c.format == "point-cloud") {
      io::PointCloud pc = io::parse_point_cloud(text);
      n = pc.n;
      r = rips_from_points(pc.coords, pc.n, pc.dim, o);
    } else {
      io::LowerMatrix m = c.format == "lower-distance"   ? io::parse_lower_distance(text)
                          : c.format == "upper-distance" ? io::parse_upper_distance(text)
                                                         : io::parse_distance_matrix(text);
      n = m.n;
      r = rips_from_lower_distances(m.lower, m.n, o);
    }
    const int shown = std::max(0, std::min<int>(c.dim, static_cast<int>(n) - 2));
    EXPECT_EQ(t::to_barcodes(r, shown), expected)
        << "threads=" << threads << " split=" << run.split << " collapse=" << static_cast<int>(run.collapse);
  }
}

std::vector<Case> cases() {
  std::vector<Case> v = {
      {"sphere_3_192.lower_distance_matrix", "lower-distance", 2, 2},
      {"random16.lower_distance_matrix", "lower-distance", 3, 2},
      {"projective_plane.lower_distance_matrix", "lower-distance", 2, 2},
      {"projective_plane.lower_distance_matrix", "lower-distance", 2, 3},
      {"random16.lower_distance_matrix", "lower-distance", 3, 5},
      {"sphere_3_192_points.dat", "point-cloud", 2, 2},
      {"sphere_3_192_points.dat", "point-cloud", 2, 3},
      // the fast benchmark inputs of the Ripser / Ripser++ papers
      {"o3_1024.txt", "point-cloud", 3, 2, 1.8},
      {"celegans.distance_matrix", "distance", 2, 2},
      {"Vicsek300_300_of_300.distance_matrix", "distance", 2, 2},
      {"fractal_9_5_2_random_edge_list.txt_0.19795_distmat.txt", "distance", 2, 2},
      {"random_point_cloud_50_16_.txt", "point-cloud", 7, 2},
  };
  for (const char* f :
       {"almostlinear4", "almostlinear4a", "almostlinear4b", "almostlinear4c", "linear5", "test", "test2"})
    v.push_back({std::string("dev-branch-tests/") + f + ".lower_distance_matrix", "lower-distance", 3, 2});
  for (const char* f : {"test", "test2"})
    v.push_back({std::string("dev-branch-tests/") + f + ".upper_distance_matrix", "upper-distance", 3, 2});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Golden, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string s = info.param.file + "_" + info.param.format + "_d" +
                                           std::to_string(info.param.dim) + "_p" + std::to_string(info.param.modulus) +
                                           (info.param.threshold >= 0 ? "_thr" : "");
                           for (char& ch : s)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

}  // namespace

// Small random integer matrices (many equal distances) stress the tie-breaking,
// apparent and emergent pair shortcuts and the sparse (threshold) mode.
TEST(GoldenRandom, TieHeavyMatricesMatchRipser) {
  ASSERT_EQ(access("/usr/bin/ripser", X_OK), 0) << "/usr/bin/ripser is required for the golden tests";
  ASSERT_EQ(access("/usr/bin/ripser-coeff", X_OK), 0) << "/usr/bin/ripser-coeff is required for the golden tests";
  std::string tmpl = (std::filesystem::temp_directory_path() / "tda_golden_XXXXXX").string();
  const int fd = mkstemp(tmpl.data());
  ASSERT_GE(fd, 0);
  close(fd);
  const std::string path = tmpl;
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 60; ++trial) {
    const size_t n = 3 + rng() % 11;
    const int maxv = std::vector<int>{1, 2, 3, 5, 50}[rng() % 5];
    std::vector<value_t> lower(n * (n - 1) / 2);
    for (auto& d : lower) d = static_cast<value_t>(1 + rng() % maxv);
    {
      std::ofstream out(path);
      for (value_t d : lower) out << d << ' ';
    }
    RipsOptions o;
    o.max_dim = 1 + static_cast<int>(rng() % 3);
    o.modulus = trial % 3 == 0 ? 3 : 2;
    o.threads = 1 + trial % 4;
    o.column_split = trial % 2 ? 4 : 0;
    o.collapse = trial % 3 == 1 ? Collapse::On : trial % 3 == 2 ? Collapse::Off : Collapse::Auto;
    std::string cmd = std::string(o.modulus == 2 ? "/usr/bin/ripser" : "/usr/bin/ripser-coeff --modulus 3") +
                      " --format lower-distance --dim " + std::to_string(o.max_dim);
    if (trial % 4 == 1) {
      o.threshold = static_cast<double>(1 + rng() % maxv);
      cmd += " --threshold " + std::to_string(static_cast<int>(*o.threshold));
    }
    t::CommandResult ref = t::run_command(cmd + " '" + path + "' 2>/dev/null");
    ASSERT_EQ(ref.exit_code, 0) << cmd;
    RipsResult r = rips_from_lower_distances(lower, n, o);
    const int shown = std::max(0, std::min<int>(o.max_dim, static_cast<int>(n) - 2));
    EXPECT_EQ(t::to_barcodes(r, shown), t::parse_ripser_output(ref.out)) << cmd << " trial " << trial;
  }
  unlink(path.c_str());
}
