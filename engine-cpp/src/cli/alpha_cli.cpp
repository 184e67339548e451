// Command-line mode for Alpha-complex persistence (see alpha_cli.hpp).
#include "cli/alpha_cli.hpp"

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <string_view>
#include <vector>

#include "cli/failure.hpp"
#include "cli/input_text.hpp"
#include "cli/progress_bar.hpp"
#include "common/flags.hpp"
#include "tda/core/alpha.hpp"

namespace tda::cli {
namespace {

constexpr const char* kAlphaUsage =
    "Usage: tda-engine --algorithm alpha [options] [filename]\n"
    "\n"
    "Options:\n"
    "  --help             print this screen\n"
    "  --format <f>       input format: point-cloud (default; numbers separated by commas\n"
    "                     or whitespace, one point per line) -- .off files (OFF/nOFF) are\n"
    "                     recognised by their header\n"
    "  --dim <k>          compute persistent homology up to dimension k\n"
    "                     (default: ambient dimension - 1)\n"
    "  --radius           report radii instead of squared radii (GUDHI's convention)\n"
    "  --max-alpha <a>    keep simplices with value <= a (in the reported unit)\n"
    "  --modulus <p>      coefficients in the prime field Z/pZ (default 2; GUDHI uses 11)\n"
    "  --stats            print statistics and the engine's memory estimate to standard error\n"
    "  --estimate         print the engine's estimate (the server admits Alpha jobs with it)\n"
    "                     on stdout and exit without computing\n"
    "  --threads <n>      threads of the Delaunay triangulation in R^3 (default 0 = all cores;\n"
    "                     the diagram is the same for every count)\n"
    "  --progress         a progress bar on stderr (stage, memory, elapsed and remaining\n"
    "                     time; by default when stderr is a terminal)\n"
    "  --no-progress      no progress bar\n"
    "\n"
    "Reads standard input when no filename is given. Ambient dimension 2 or 3.\n";

using flags::parse_int_in;
using flags::UsageError;

struct Args {
  std::optional<int> dim;
  bool radius = false;
  bool stats = false;
  bool estimate = false;
  std::optional<bool> progress;  // --progress / --no-progress (unset: when stderr is a terminal)
  std::optional<double> max_alpha;
  int modulus = 2;
  int threads = 0;
  std::optional<std::string> file;
  bool help = false;
};

double parse_double(const std::string& opt, const std::string& s) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || std::isnan(v)) throw UsageError("invalid value for " + opt + ": '" + s + "'");
  return v;
}

// The Alpha CLI's flags through the shared parser (common/flags.hpp).
Args parse_args(int argc, char** argv) {
  const flags::Parsed f = flags::parse_command_line(argc, argv,
                                                    {{"algorithm"},
                                                     {"format"},
                                                     {"dim"},
                                                     {"radius", false},
                                                     {"stats", false},
                                                     {"estimate", false},
                                                     {"progress", false},
                                                     {"no-progress", false},
                                                     {"modulus"},
                                                     {"threads"},
                                                     {"max-alpha"}});
  Args a;
  a.help = f.help;
  a.radius = f.has("radius");
  a.stats = f.has("stats");
  a.estimate = f.has("estimate");
  a.progress = progress_flag(f);
  if (f.has("algorithm") && f.values.at("algorithm") != "alpha")
    throw UsageError("this mode computes --algorithm alpha, not '" + f.values.at("algorithm") + "'");
  if (f.has("format") && f.values.at("format") != "point-cloud")
    throw UsageError("alpha accepts only --format point-cloud");
  if (f.has("dim"))
    a.dim = static_cast<int>(parse_int_in("--dim", f.values.at("dim"), 0, 64, "--dim must be between 0 and 64"));
  if (f.has("modulus"))
    a.modulus = static_cast<int>(
        parse_int_in("--modulus", f.values.at("modulus"), 2, 251, "--modulus must be a prime between 2 and 251"));
  if (f.has("threads"))
    a.threads = static_cast<int>(
        parse_int_in("--threads", f.values.at("threads"), 0, 4096, "--threads must be between 0 and 4096"));
  if (f.has("max-alpha")) a.max_alpha = parse_double("--max-alpha", f.values.at("max-alpha"));
  if (f.positional.size() > 1) throw UsageError("more than one input file given");
  if (!f.positional.empty()) a.file = f.positional.front();
  return a;
}

std::string read_input(const std::optional<std::string>& file) {
  if (!file) return read_all(std::cin);
  std::ifstream in(*file, std::ios::binary);
  if (!in) throw UsageError("cannot open " + *file);
  return read_all(in);
}

struct Cloud {
  std::vector<double> coords;
  size_t n = 0;
  size_t dim = 0;
};

bool is_sep(char c) { return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == ';'; }

// Numbers of one line; throws on a malformed token.
void line_numbers(std::string_view line, std::vector<double>& out, size_t line_no) {
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_sep(line[i])) ++i;
    if (i >= line.size()) break;
    size_t j = i;
    while (j < line.size() && !is_sep(line[j])) ++j;
    const char* b = line.data() + i;
    const char* e = line.data() + j;
    if (*b == '+' && e - b > 1 && b[1] != '-') ++b;  // from_chars takes no '+'
    double v = 0;
    const auto res = std::from_chars(b, e, v);
    if (res.ec != std::errc() || res.ptr != e)
      throw core::InvalidInput("line " + std::to_string(line_no) + ": not a number: '" +
                               std::string(line.substr(i, j - i)) + "'");
    out.push_back(v);
    i = j;
  }
}

template <class F>
void for_each_line(std::string_view text, F&& f) {
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    ++line_no;
    const size_t hash = line.find('#');
    if (hash != std::string_view::npos) line = line.substr(0, hash);
    if (!f(line, line_no)) return;
    pos = nl + 1;
  }
}

bool blank(std::string_view s) {
  for (char c : s)
    if (!is_sep(c)) return false;
  return true;
}

Cloud parse_points(std::string_view text) {
  Cloud c;
  // OFF / nOFF: header, [dimension for nOFF], counts, then the vertices
  std::string_view first;
  for_each_line(text, [&](std::string_view line, size_t) {
    if (blank(line)) return true;
    first = line;
    return false;
  });
  size_t b = 0;
  while (b < first.size() && is_sep(first[b])) ++b;
  first = first.substr(b);
  const bool off = first.rfind("OFF", 0) == 0 || first.rfind("nOFF", 0) == 0;
  if (off) {
    const bool noff = first[0] == 'n';
    std::vector<double> head;  // numbers after the keyword, before the vertices
    size_t need_head = noff ? 4 : 3;
    size_t want = 0;
    bool header_seen = false;
    std::vector<double> nums;
    for_each_line(text, [&](std::string_view line, size_t line_no) {
      if (!header_seen) {
        if (blank(line)) return true;
        header_seen = true;
        size_t k = line.find("OFF");
        line = line.substr(k + 3);
      }
      if (head.size() < need_head) {
        line_numbers(line, head, line_no);
        if (head.size() >= need_head) {
          const double nv = head[noff ? 1 : 0];
          if (nv < 0 || nv != std::floor(nv)) throw core::InvalidInput("OFF: bad vertex count");
          c.n = static_cast<size_t>(nv);
          if (noff) {
            if (head[0] < 1 || head[0] > 64 || head[0] != std::floor(head[0]))
              throw core::InvalidInput("nOFF: bad dimension");
            c.dim = static_cast<size_t>(head[0]);
            want = c.n * c.dim;
          }
          // numbers beyond the counts on the same line are coordinates
          nums.assign(head.begin() + static_cast<long>(need_head), head.end());
        }
        return true;
      }
      if (c.dim == 0) {
        // OFF: the ambient dimension is the number of coordinates of the first
        // vertex (GUDHI writes 2-D and d-D points under a plain OFF header)
        const size_t before = nums.size();
        line_numbers(line, nums, line_no);
        if (nums.size() == before) return true;
        c.dim = nums.size();
        want = c.n * c.dim;
        return nums.size() < want;
      }
      if (nums.size() >= want) return false;
      line_numbers(line, nums, line_no);
      return true;
    });
    if (head.size() < need_head) throw core::InvalidInput("OFF: missing counts line");
    if (nums.size() < want) throw core::InvalidInput("OFF: fewer coordinates than announced");
    nums.resize(want);  // faces, if any, are ignored
    c.coords = std::move(nums);
    return c;
  }
  std::vector<double> row;
  for_each_line(text, [&](std::string_view line, size_t line_no) {
    row.clear();
    line_numbers(line, row, line_no);
    if (row.empty()) return true;
    if (c.dim == 0) c.dim = row.size();
    if (row.size() != c.dim)
      throw core::InvalidInput("line " + std::to_string(line_no) + ": " + std::to_string(row.size()) +
                               " coordinates, expected " + std::to_string(c.dim));
    c.coords.insert(c.coords.end(), row.begin(), row.end());
    ++c.n;
    return true;
  });
  return c;
}

void append_double(std::string& out, double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// The barcode in Ripser's format (GUDHI's radius convention with --radius),
// written in blocks of ~1 MB as it is formatted.
void write_barcode(FILE* to, const Cloud& pc, const core::AlphaResult& r, bool radius) {
  std::string out;
  auto flush_block = [&out, to](size_t at_least) {
    if (out.size() < at_least) return;
    std::fwrite(out.data(), 1, out.size(), to);
    out.clear();
  };
  out += "point cloud with " + std::to_string(pc.n) + " points in dimension " + std::to_string(pc.dim) + "\n";
  out += "alpha complex with " + std::to_string(r.stats.simplices) + " simplices";
  if (r.stats.duplicates_merged) out += ", " + std::to_string(r.stats.duplicates_merged) + " duplicate points merged";
  out += radius ? ", values are radii\n" : ", values are squared radii\n";
  for (size_t k = 0; k < r.diagrams.size(); ++k) {
    out += "persistence intervals in dim " + std::to_string(k) + ":\n";
    for (const core::Interval& iv : r.diagrams[k]) {
      out += " [";
      append_double(out, iv.birth);
      if (std::isinf(iv.death)) {
        out += ", )\n";
      } else {
        out += ',';
        append_double(out, iv.death);
        out += ")\n";
      }
      flush_block(size_t{1} << 20);
    }
  }
  flush_block(0);
}

// The engine's data-following estimate (estimate_alpha_points, the one the server
// admits with): `estimate: memory_bytes=… seconds=…`, in R^3 with the sample's figures.
void print_estimate(FILE* to, const Cloud& pc) {
  const core::Estimate e = core::estimate_alpha_points(pc.coords, pc.n, pc.dim);
  std::fprintf(to, "estimate: memory_bytes=%llu seconds=%.3g", static_cast<unsigned long long>(e.memory_bytes),
               e.seconds);
  if (pc.dim == 3) {
    const core::AlphaProfile p = core::profile_alpha_points(pc.coords, pc.n);
    std::fprintf(to, " sample=%llu sample_tetrahedra=%llu growth=%.2f tetrahedra=%.0f%s",
                 static_cast<unsigned long long>(p.sample), static_cast<unsigned long long>(p.sample_tetrahedra),
                 p.growth, p.tetrahedra, p.exact ? " (exact)" : "");
  }
  std::fprintf(to, "\n");
}

int run(const Args& a) {
  const Cloud pc = parse_points(read_input(a.file));  // (the text is freed once parsed)
  if (pc.n == 0) throw core::InvalidInput("no points");
  if (a.estimate) {
    print_estimate(stdout, pc);
    return 0;
  }
  core::AlphaOptions opt;
  opt.max_dim = a.dim ? *a.dim : -1;
  opt.radius = a.radius;
  opt.max_alpha = a.max_alpha;
  opt.modulus = a.modulus;
  opt.threads = a.threads > 0 ? a.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // with --stats, the time spent in each stage (from the progress callbacks)
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  std::vector<std::pair<core::Stage, double>> stage_start;
  core::Callbacks cb;
  // the progress bar (the Rips command line's, with Alpha's plan)
  std::unique_ptr<ProgressBar> bar;
  if (show_progress(a.progress)) {
    bar = std::make_unique<ProgressBar>(stderr, stderr_is_terminal(), core::alpha_work_plan());
    cb = bar->callbacks();
  }
  if (a.stats)
    cb.on_progress = [&, to_bar = cb.on_progress](const core::ProgressInfo& p) {
      if (stage_start.empty() || stage_start.back().first != p.stage)
        stage_start.emplace_back(p.stage, std::chrono::duration<double>(Clock::now() - t0).count());
      if (to_bar) to_bar(p);
    };
  const core::AlphaResult r = core::alpha_from_points(pc.coords, pc.n, pc.dim, opt, cb);
  const double core_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (bar) bar->finish();

  write_barcode(stdout, pc, r, a.radius);
  std::fflush(stdout);
  if (a.stats)
    std::fprintf(stderr,
                 "points=%llu distinct=%llu simplices=%llu duplicates_merged=%llu columns_reduced=%llu threads=%d "
                 "core_seconds=%.3f\n",
                 static_cast<unsigned long long>(r.stats.points),
                 static_cast<unsigned long long>(r.stats.points - r.stats.duplicates_merged),
                 static_cast<unsigned long long>(r.stats.simplices),
                 static_cast<unsigned long long>(r.stats.duplicates_merged),
                 static_cast<unsigned long long>(r.stats.columns_reduced), opt.threads, core_seconds);
  if (a.stats) {
    // Loading = merging duplicates; Distances = Delaunay triangulation and alpha
    // values; Dim0 = sorting the edges and union-find; Reduction = the top
    // dimension's dual union-find and the dimension-1 reduction
    static const char* names[] = {"", "", "duplicates", "delaunay+values", "dim0", "reduction", "done"};
    std::fprintf(stderr, "stages:");
    for (size_t i = 0; i + 1 < stage_start.size(); ++i)
      std::fprintf(stderr, " %s=%.3f", names[static_cast<int>(stage_start[i].first)],
                   stage_start[i + 1].second - stage_start[i].second);
    std::fprintf(stderr, "\n");
    // the same time by step within the stages (alpha_detail::StepClock)
    std::fprintf(stderr, "steps:");
    for (const auto& [name, seconds] : r.stats.steps) std::fprintf(stderr, " %s=%.3f", name, seconds);
    std::fprintf(stderr, "\n");
    print_estimate(stderr, pc);
  }
  return 0;
}

}  // namespace

int run_alpha_cli(int argc, char** argv) {
  try {
    const Args a = parse_args(argc, argv);
    if (a.help) {
      std::fputs(kAlphaUsage, stdout);
      return 0;
    }
    return run(a);
  } catch (...) {
    return report_failure(kAlphaUsage);
  }
}

}  // namespace tda::cli
