// The CLI's stdout must be byte-identical to Debian ripser's; bad input must give
// exit code 2 and a message on stderr.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace t = tda::test;

namespace {

const std::string kDriver = TDA_CLI_DRIVER;

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// our_args: the same options spelled differently (defaults to args)
void expect_same_as_ripser(const std::string& args, const std::string& tool = "/usr/bin/ripser",
                           const std::string& our_args = "") {
  ASSERT_EQ(access(tool.c_str(), X_OK), 0) << tool << " is required for the CLI golden tests";
  t::CommandResult ref = t::run_command(tool + " " + args + " 2>/dev/null");
  t::CommandResult ours = t::run_command(kDriver + " " + (our_args.empty() ? args : our_args) + " 2>/dev/null");
  ASSERT_EQ(ref.exit_code, 0) << args;
  EXPECT_EQ(ours.exit_code, 0) << args;
  EXPECT_EQ(ours.out, ref.out) << args;
}

TEST(Cli, SameOutputAsRipser) {
  expect_same_as_ripser("--format lower-distance --dim 2 " + quoted(t::fixture("sphere_3_192.lower_distance_matrix")));
  const std::string r16 = quoted(t::fixture("random16.lower_distance_matrix"));
  expect_same_as_ripser("--format lower-distance --dim 3 " + r16, "/usr/bin/ripser",
                        "--format=lower-distance --dim=3 " + r16);
  // default format (full distance matrix) also reads row-layout lower triangles
  expect_same_as_ripser("--dim 2 " + quoted(t::fixture("projective_plane.lower_distance_matrix")));
  expect_same_as_ripser("--format point-cloud --dim 2 " + quoted(t::fixture("sphere_3_192_points.dat")));
  expect_same_as_ripser("--format point-cloud --dim 2 --threshold 0.5 " +
                        quoted(t::fixture("sphere_3_192_points.dat")));
  expect_same_as_ripser("--format lower-distance --dim 2 --threshold 1 " +
                        quoted(t::fixture("projective_plane.lower_distance_matrix")));
  expect_same_as_ripser("--format lower-distance --dim 2 --ratio 1.5 " +
                        quoted(t::fixture("sphere_3_192.lower_distance_matrix")));
  expect_same_as_ripser("--format upper-distance --dim 1 " +
                        quoted(t::fixture("dev-branch-tests/test2.upper_distance_matrix")));
}

TEST(Cli, SameOutputAsRipserCoeff) {
  expect_same_as_ripser(
      "--format lower-distance --dim 2 --modulus 3 " + quoted(t::fixture("projective_plane.lower_distance_matrix")),
      "/usr/bin/ripser-coeff");
}

TEST(Cli, SameOutputWithSeveralThreads) {
  const std::string sphere = quoted(t::fixture("sphere_3_192.lower_distance_matrix"));
  const std::string points = quoted(t::fixture("sphere_3_192_points.dat"));
  for (const char* threads : {"2", "4"})  // 4 is oversubscribed on a 2-core CI machine
    expect_same_as_ripser("--format lower-distance --dim 2 " + sphere, "/usr/bin/ripser",
                          std::string("--threads ") + threads + " --format lower-distance --dim 2 " + sphere);
  expect_same_as_ripser("--format point-cloud --dim 2 " + points, "/usr/bin/ripser",
                        "--threads=3 --format point-cloud --dim 2 " + points);
  expect_same_as_ripser(
      "--format lower-distance --dim 2 --modulus 3 " + quoted(t::fixture("projective_plane.lower_distance_matrix")),
      "/usr/bin/ripser-coeff",
      "--threads 2 --format lower-distance --dim 2 --modulus 3 " +
          quoted(t::fixture("projective_plane.lower_distance_matrix")));
}

TEST(Cli, MemoryLimitRefusesWithThree) {
  const std::string sphere = quoted(t::fixture("sphere_3_192.lower_distance_matrix"));
  t::CommandResult refused =
      t::run_command(kDriver + " --memory-limit 1M --format lower-distance --dim 3 " + sphere + " 2>&1");
  EXPECT_EQ(refused.exit_code, 3);
  EXPECT_NE(refused.out.find("exceeds --memory-limit"), std::string::npos) << refused.out;
  t::CommandResult fits = t::run_command(kDriver + " --memory-limit 2G --format lower-distance --dim 1 " + sphere);
  EXPECT_EQ(fits.exit_code, 0);
  t::CommandResult bad =
      t::run_command(kDriver + " --memory-limit 12X --format lower-distance " + sphere + " 2>/dev/null");
  EXPECT_EQ(bad.exit_code, 2);
}

// A sample of the projective plane RP^2 (unit sphere, antipodes identified):
// over Z/2 its dimension-2 reduction needs far more than the estimate says
// (the fill-in the estimate cannot see), which is what the runtime guard is for.
std::string write_rp2_sample(int n) {
  std::mt19937_64 rng(7);
  auto uniform = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-53 * 2.0 - 1.0; };
  std::vector<std::array<double, 3>> p;
  while (static_cast<int>(p.size()) < n) {
    std::array<double, 3> v{uniform(), uniform(), uniform()};
    const double r = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    if (r < 0.1 || r > 1) continue;
    for (double& x : v) x /= r;
    p.push_back(v);
  }
  char path[] = "/tmp/tda-rp2-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return {};
  close(fd);
  std::ofstream out(path);
  for (int i = 1; i < n; ++i) {
    for (int j = 0; j < i; ++j) {
      double plus = 0, minus = 0;
      for (int k = 0; k < 3; ++k) {
        minus += (p[i][k] - p[j][k]) * (p[i][k] - p[j][k]);
        plus += (p[i][k] + p[j][k]) * (p[i][k] + p[j][k]);
      }
      out << (j ? "," : "") << std::sqrt(std::min(plus, minus));
    }
    out << "\n";
  }
  return path;
}

// Runs the driver with `args` (no shell: the child is the engine itself), stdout
// discarded; returns its exit code, its stderr and its peak resident set (bytes).
struct Measured {
  int exit_code = -1;
  std::string err;
  uint64_t max_rss = 0;
};
Measured run_measured(const std::vector<std::string>& args) {
  Measured m;
  int fds[2];
  if (pipe(fds) != 0) return m;
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(fds[1], 2);
    close(fds[0]);
    std::vector<char*> argv{const_cast<char*>(kDriver.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(kDriver.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  char buf[4096];
  ssize_t got;
  while ((got = read(fds[0], buf, sizeof buf)) > 0) m.err.append(buf, static_cast<size_t>(got));
  close(fds[0]);
  int status = 0;
  rusage ru{};
  if (pid > 0 && wait4(pid, &status, 0, &ru) == pid) {
    m.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    m.max_rss = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  }
  return m;
}

uint64_t stat_value(const std::string& text, const std::string& key) {
  const auto at = text.find(key + "=");
  return at == std::string::npos ? 0 : std::stoull(text.substr(at + key.size() + 1));
}

// The memory guard must see what the run holds: on RP^2 H2 over Z/3 with two
// workers (the concurrent reduction's shared pivot table, per-column V and
// per-worker working columns), the accounted peak is a large share of what the
// process grew by, and a --memory-limit below the run's real growth (above the
// admission estimate) stops it.
// A scale like the server's --estimate-scale, as the CLI's argument.
std::string scale_arg(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

// The estimate covers the reduction's fill-in: on RP^2 over Z/2 the working
// column of the long bar outgrows the complex's structures many times (before
// the fill-in was measured, the estimate was ~8 MB for a ~55 MB peak).
TEST(Cli, EstimateCoversTheFillIn) {
  const std::string file = write_rp2_sample(300);
  ASSERT_FALSE(file.empty());
  const std::string args = " --format lower-distance --dim 2 --threads 1 " + quoted(file);
  t::CommandResult est = t::run_command(kDriver + " --estimate" + args);
  ASSERT_EQ(est.exit_code, 0) << est.out;
  const uint64_t estimate = stat_value(est.out, "memory_bytes");
  t::CommandResult run = t::run_command(kDriver + " --stats --no-progress" + args + " 2>&1 >/dev/null");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const uint64_t accounted = stat_value(run.out, "accounted_peak_bytes");
  const uint64_t working = stat_value(run.out, "working_peak_bytes");
  std::printf("estimate %llu bytes, accounted peak %llu bytes (working columns and V %llu)\n%s",
              static_cast<unsigned long long>(estimate), static_cast<unsigned long long>(accounted),
              static_cast<unsigned long long>(working), est.out.c_str());
  ASSERT_GT(working, accounted / 2);  // (the input is fill-in-heavy)
  EXPECT_GE(estimate, accounted);
  EXPECT_LE(estimate, 8 * accounted);                      // (measured, not a blanket margin)
  EXPECT_NE(est.out.find("pilot_s="), std::string::npos);  // the pilots' own time is reported
  std::remove(file.c_str());
}

// The estimate follows the collapsed complex: random16 (50 points in R^16, H7)
// collapses from 942 edges to 438, which leaves a small fraction of the 7-simplices;
// the figure made from the uncollapsed counts was 13x the run's peak RSS.
TEST(Cli, EstimateFollowsTheCollapse) {
  const std::string file = t::fixture("random_point_cloud_50_16_.txt");
  const std::string args = " --format point-cloud --dim 7 --threads 1 " + quoted(file);
  t::CommandResult est = t::run_command(kDriver + " --estimate" + args);
  ASSERT_EQ(est.exit_code, 0) << est.out;
  EXPECT_NE(est.out.find("collapse_measured=yes"), std::string::npos) << est.out;
  const uint64_t estimate = stat_value(est.out, "memory_bytes");
  t::CommandResult off = t::run_command(kDriver + " --estimate --collapse off" + args);
  ASSERT_EQ(off.exit_code, 0) << off.out;
  EXPECT_NE(off.out.find("collapse_measured=no"), std::string::npos) << off.out;
  const uint64_t estimate_off = stat_value(off.out, "memory_bytes");
  const Measured run =
      run_measured({"--format", "point-cloud", "--dim", "7", "--threads", "1", "--no-progress", "--stats", file});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::printf("estimate %llu bytes (without the collapse %llu), peak RSS %llu bytes\n%s",
              static_cast<unsigned long long>(estimate), static_cast<unsigned long long>(estimate_off),
              static_cast<unsigned long long>(run.max_rss), est.out.c_str());
  // the edges it counted are the ones the run reduced
  EXPECT_EQ(stat_value(est.out, "s1"), stat_value(run.err, "edges_reduced"));
  EXPECT_GE(estimate, stat_value(run.err, "accounted_peak_bytes"));
  EXPECT_LE(estimate, 3 * run.max_rss);
  EXPECT_GT(estimate_off, 5 * estimate);
}

// A run admitted with less than it needs (--estimate-scale below 1, as the
// server's knob) is stopped by the runtime guard: exit 3, the reason on stderr,
// no partial barcode on stdout. Without the scale the same limit is refused.
TEST(Cli, MemoryLimitStopsARunThatOutgrowsItsAdmission) {
  const std::string file = write_rp2_sample(300);
  ASSERT_FALSE(file.empty());
  const std::string args = " --format lower-distance --dim 2 --threads 1 --no-progress " + quoted(file);
  t::CommandResult est = t::run_command(kDriver + " --estimate" + args);
  ASSERT_EQ(est.exit_code, 0) << est.out;
  const uint64_t estimate = stat_value(est.out, "memory_bytes");
  t::CommandResult full = t::run_command(kDriver + " --stats" + args + " 2>&1 >/dev/null");
  ASSERT_EQ(full.exit_code, 0) << full.out;
  const uint64_t accounted = stat_value(full.out, "accounted_peak_bytes");
  const uint64_t limit = accounted / 2;  // the run needs twice this
  ASSERT_GT(estimate, limit);
  const std::string limited = " --memory-limit " + std::to_string(limit) + args;
  const std::string admitted = " --estimate-scale " + scale_arg(0.5 * static_cast<double>(limit) / estimate) + limited;
  t::CommandResult stopped = t::run_command(kDriver + admitted + " 2>/dev/null");
  t::CommandResult reason = t::run_command(kDriver + admitted + " 2>&1 >/dev/null");
  EXPECT_EQ(stopped.exit_code, 3);
  EXPECT_EQ(stopped.out, "");
  EXPECT_NE(reason.out.find("stopped: memory limit exceeded"), std::string::npos) << reason.out;
  EXPECT_EQ(reason.out.find("refused"), std::string::npos) << reason.out;  // (not the estimate's refusal)
  t::CommandResult refused = t::run_command(kDriver + limited + " 2>&1 >/dev/null");
  EXPECT_EQ(refused.exit_code, 3);
  EXPECT_NE(refused.out.find("exceeds --memory-limit"), std::string::npos) << refused.out;
  // the same run with room completes, equal to ripser's barcode
  ASSERT_EQ(access("/usr/bin/ripser", X_OK), 0);
  t::CommandResult ours = t::run_command(kDriver + " --memory-limit 2G" + args + " 2>/dev/null");
  t::CommandResult ref =
      t::run_command("/usr/bin/ripser --format lower-distance --dim 2 " + quoted(file) + " 2>/dev/null");
  EXPECT_EQ(ours.exit_code, 0);
  EXPECT_EQ(ours.out, ref.out);
  std::remove(file.c_str());
}

TEST(Cli, MemoryGuardSeesTheConcurrentReduction) {
  const std::string file = write_rp2_sample(600);
  ASSERT_FALSE(file.empty());
  const std::vector<std::string> args{"--format", "lower-distance", "--dim", "2", "--modulus", "3", "--threads",
                                      "2",        "--no-progress",  file};
  // the process without a job: a three-point input
  char tiny[] = "/tmp/tda-tiny-XXXXXX";
  const int fd = mkstemp(tiny);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "1\n2 3\n", 6), 6);
  close(fd);
  const Measured base = run_measured({"--format", "lower-distance", "--dim", "2", "--stats", tiny});
  std::remove(tiny);
  ASSERT_EQ(base.exit_code, 0) << base.err;
  std::vector<std::string> with_stats = args;
  with_stats.push_back("--stats");
  const Measured run = run_measured(with_stats);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const uint64_t accounted = stat_value(run.err, "accounted_peak_bytes");
  ASSERT_GT(run.max_rss, base.max_rss);
  const uint64_t growth = run.max_rss - base.max_rss;
  std::printf("accounted peak %llu bytes, peak RSS %llu bytes, without a job %llu bytes\n",
              static_cast<unsigned long long>(accounted), static_cast<unsigned long long>(run.max_rss),
              static_cast<unsigned long long>(base.max_rss));
  // (measured: 0.63-0.7 of the growth; the rest is the allocator's retained free memory
  // and the CLI's input text; before the concurrent reduction was accounted: 0.09)
  EXPECT_GE(static_cast<double>(accounted), 0.45 * static_cast<double>(growth))
      << "accounted " << accounted << " bytes, the process grew by " << growth << " bytes";
  EXPECT_LE(accounted, 2 * growth);
  // a limit below the accounted peak, admitted (--estimate-scale: the estimate covers the
  // peak), then stopped by the guard that sees the workers' columns
  t::CommandResult est = t::run_command(kDriver + " --estimate --format lower-distance --dim 2 --modulus 3 " +
                                        quoted(file) + " 2>/dev/null");
  ASSERT_EQ(est.exit_code, 0);
  const uint64_t estimate = stat_value(est.out, "memory_bytes");
  ASSERT_GT(estimate, 0u);
  const uint64_t limit = accounted * 3 / 4;
  std::vector<std::string> limited = args;
  limited.push_back("--memory-limit");
  limited.push_back(std::to_string(limit));
  limited.push_back("--estimate-scale");
  limited.push_back(scale_arg(0.5 * static_cast<double>(limit) / static_cast<double>(estimate)));
  const Measured stopped = run_measured(limited);
  EXPECT_EQ(stopped.exit_code, 3) << stopped.err;
  EXPECT_NE(stopped.err.find("stopped: memory limit exceeded"), std::string::npos) << stopped.err;
  std::remove(file.c_str());
}

TEST(Cli, ReadsStandardInput) {
  t::CommandResult r = t::run_command("printf '1\\n2 3\\n' | " + kDriver + " --format lower-distance");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out,
            "value range: [1,3]\n"
            "distance matrix with 3 points, using threshold at enclosing radius 2\n"
            "persistence intervals in dim 0:\n [0,1)\n [0,2)\n [0, )\n"
            "persistence intervals in dim 1:\n");
}

TEST(Cli, SinglePoint) {
  t::CommandResult r = t::run_command("printf '' | " + kDriver + " --format lower-distance --dim 2");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("persistence intervals in dim 0:\n [0, )\n"), std::string::npos) << r.out;
}

// The shared flag parser (src/common/flags.hpp): Ripser's spelling, `--name=value`, `--`, the
// last of a repeated flag, a negative value; errors name the flag.
TEST(Cli, FlagSpellings) {
  const std::string lower = quoted(t::fixture("projective_plane.lower_distance_matrix"));
  expect_same_as_ripser("--format lower-distance --dim 2 " + lower, "/usr/bin/ripser",
                        "--dim 1 --format=lower-distance --dim=2 -- " + lower);
  t::CommandResult unknown = t::run_command(kDriver + " --bogus=1 " + lower + " 2>&1");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.out.find("unknown option --bogus"), std::string::npos) << unknown.out;
  t::CommandResult missing = t::run_command(kDriver + " " + lower + " --threshold 2>&1");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.out.find("missing value for --threshold"), std::string::npos) << missing.out;
  t::CommandResult two = t::run_command(kDriver + " " + lower + " " + lower + " 2>&1");
  EXPECT_EQ(two.exit_code, 2);
  EXPECT_NE(two.out.find("more than one input file"), std::string::npos) << two.out;
  t::CommandResult negative = t::run_command(kDriver + " --format lower-distance --threshold -1 " + lower);
  EXPECT_EQ(negative.exit_code, 0);  // "-1" is read as the value, not as a flag
}

TEST(Cli, BadInputExitsWithTwo) {
  for (const std::string& cmd : {
           "printf '1 2 3 4' | " + kDriver + " --format lower-distance",  // not triangular
           "printf '1 2\\n3\\n' | " + kDriver + " --format point-cloud",  // ragged rows
           "printf '' | " + kDriver + " --format point-cloud",            // no points
           "printf '1 -2 3' | " + kDriver + " --format lower-distance",   // negative distance
           "printf '1' | " + kDriver + " --format lower-distance --modulus 4",
           "printf '1' | " + kDriver + " --format nonsense",
           "printf '1' | " + kDriver + " --dim",
           "printf '1' | " + kDriver + " --dim x",
           kDriver + " /nonexistent/file",
       }) {
    t::CommandResult r = t::run_command(cmd + " 2>/dev/null");
    EXPECT_EQ(r.exit_code, 2) << cmd;
  }
}

}  // namespace

// --progress draws its bar on stderr only: stdout stays byte-identical to a run
// without it (and to ripser's). Without the flag a stderr that is not a terminal
// gets nothing, and --no-progress wins over --progress.
TEST(Cli, ProgressBarOnStderrOnly) {
  const std::string err_file = ::testing::TempDir() + "/cli_progress_stderr.txt";
  auto run = [&](const std::string& args, std::string& err) {
    t::CommandResult r = t::run_command(kDriver + " " + args + " 2>" + quoted(err_file));
    std::ifstream in(err_file, std::ios::binary);
    err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    std::remove(err_file.c_str());
    return r;
  };
  const std::string lower =
      "--format lower-distance --dim 2 " + quoted(t::fixture("sphere_3_192.lower_distance_matrix"));
  const std::string points = "--format point-cloud --dim 2 " + quoted(t::fixture("sphere_3_192_points.dat"));
  for (const std::string& args : {lower, points, points + " --threshold 0.5"}) {
    std::string err_plain, err_bar, err_off, err_both;
    t::CommandResult plain = run(args, err_plain);
    t::CommandResult bar = run("--progress " + args, err_bar);
    t::CommandResult off = run("--no-progress " + args, err_off);
    t::CommandResult both = run("--progress --no-progress " + args, err_both);
    ASSERT_EQ(plain.exit_code, 0) << args;
    EXPECT_EQ(bar.exit_code, 0) << args;
    EXPECT_EQ(bar.out, plain.out) << args;
    EXPECT_EQ(off.out, plain.out) << args;
    EXPECT_EQ(both.out, plain.out) << args;
    EXPECT_EQ(err_plain, "") << args;  // (stderr is a file here: no bar by default)
    EXPECT_EQ(err_off, "") << args;
    EXPECT_EQ(err_both, "") << args;
    // the last line: all done, with the stage, the columns, the memory and the times
    EXPECT_NE(err_bar.find("100.0% done"), std::string::npos) << err_bar;
    EXPECT_NE(err_bar.find(" mem "), std::string::npos) << err_bar;
    EXPECT_EQ(err_bar.find(" mem 0 B"), std::string::npos) << err_bar;
    EXPECT_NE(err_bar.find(" elapsed "), std::string::npos) << err_bar;
    EXPECT_NE(err_bar.find(" left "), std::string::npos) << err_bar;
    EXPECT_EQ(err_bar.find("persistence intervals"), std::string::npos) << err_bar;
  }
  expect_same_as_ripser(lower, "/usr/bin/ripser", "--progress " + lower);
}
