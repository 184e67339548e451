// Command-line mode: Ripser's flags, input formats and output text.
#include "cli/cli.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include <sys/resource.h>
#include "cli/failure.hpp"
#include "cli/input_text.hpp"
#include "cli/progress_bar.hpp"
#include "common/flags.hpp"
#include "tda/core/collapse_estimate.hpp"
#include "tda/core/fill_in.hpp"
#include "tda/core/io.hpp"
#include "tda/core/rips.hpp"

namespace tda::cli {
namespace {

using core::value_t;

constexpr const char* kUsage =
    "Usage: tda-engine [options] [filename]\n"
    "\n"
    "Options (Ripser-compatible):\n"
    "  --help           print this screen\n"
    "  --format <f>     input format: distance (full matrix; default), lower-distance,\n"
    "                   upper-distance, point-cloud\n"
    "  --dim <k>        compute persistent homology up to dimension k (default 1)\n"
    "  --threshold <t>  compute Rips complexes up to diameter t\n"
    "  --modulus <p>    coefficients in the prime field Z/pZ (default 2)\n"
    "  --threads <n>    worker threads (default 0 = all cores)\n"
    "  --memory-limit <bytes>  refuse (exit 3) when the estimated peak memory exceeds\n"
    "                   this, and stop (exit 3) when the run's accounted memory outgrows\n"
    "                   it; suffixes K, M, G, T (powers of 1024), e.g. 512M, 4G\n"
    "  --estimate-scale X  refuse only when X times the estimate exceeds --memory-limit\n"
    "                   (default 1; 0 < X <= 1000), like the server's knob; the limit\n"
    "                   still stops a run that outgrows it\n"
    "  --ratio <r>      only show persistence pairs with death/birth ratio > r\n"
    "\n"
    "Other options:\n"
    "  --collapse <c>   edge collapse before the reduction (same barcode): auto (default;\n"
    "                   where it pays), on, off\n"
    "  --stats          print the run's figures (edges, collapse, stage times, the peak\n"
    "                   of the memory guard's accounting) and the engine's memory\n"
    "                   estimate on stderr\n"
    "  --estimate       print the engine's estimate (the server admits jobs with it) on\n"
    "                   stdout and exit without computing\n"
    "  --progress       a progress bar on stderr (stage, dimension, columns, memory,\n"
    "                   elapsed and remaining time); the default when stderr is a terminal\n"
    "  --no-progress    no progress bar\n"
    "  --sparse <eps>   the sparse Rips filtration, an APPROXIMATION: every bar within a\n"
    "                   factor 1+eps of the Rips diagram's (eps in (0, 1]); linear size,\n"
    "                   for clouds too large for the exact complex. Never the default.\n"
    "\n"
    "Reads standard input when no filename is given. Other commands: serve.\n";

using flags::parse_int_in;
using flags::UsageError;

enum class Format { Distance, LowerDistance, UpperDistance, PointCloud };

struct Args {
  Format format = Format::Distance;
  int dim = 1;
  std::optional<float> threshold;
  int modulus = 2;
  int threads = 0;
  std::optional<uint64_t> memory_limit;
  float ratio = 1;
  std::optional<std::string> file;
  bool help = false;
  core::Collapse collapse = core::Collapse::Auto;
  double estimate_scale = 1;  // --memory-limit refuses when estimate x this exceeds it
  bool stats = false;
  bool estimate = false;
  std::optional<double> sparse;
  std::optional<bool> progress;  // --progress / --no-progress (unset: when stderr is a terminal)
};

float parse_float(const std::string& opt, const std::string& s) {
  errno = 0;
  char* end = nullptr;
  float v = std::strtof(s.c_str(), &end);
  if (s.empty() || *end != '\0' || std::isnan(v)) throw UsageError("invalid value for " + opt + ": '" + s + "'");
  return v;
}

// "123", "4G", "512MiB", "1.5GB" (K/M/G/T are powers of 1024).
uint64_t parse_size(const std::string& opt, const std::string& s) {
  size_t pos = 0;
  while (pos < s.size() && (std::isdigit(static_cast<unsigned char>(s[pos])) || s[pos] == '.')) ++pos;
  char* end = nullptr;
  const std::string num = s.substr(0, pos);
  const double x = num.empty() ? -1 : std::strtod(num.c_str(), &end);
  std::string unit = s.substr(pos);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  else if (unit == "K" || unit == "KB" || unit == "KIB") scale = 1024.0;
  else if (unit == "M" || unit == "MB" || unit == "MIB") scale = 1024.0 * 1024;
  else if (unit == "G" || unit == "GB" || unit == "GIB") scale = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "TB" || unit == "TIB") scale = 1024.0 * 1024 * 1024 * 1024;
  const double bytes = x * scale;
  if (num.empty() || *end != '\0' || scale == 0 || !(bytes >= 1) || bytes > 9.0e18)
    throw UsageError("invalid value for " + opt + ": '" + s + "' (expected bytes, e.g. 512M or 4G)");
  return static_cast<uint64_t>(bytes);
}

Format parse_format(const std::string& value) {
  if (value == "distance") return Format::Distance;
  if (value == "lower-distance") return Format::LowerDistance;
  if (value == "upper-distance") return Format::UpperDistance;
  if (value == "point-cloud") return Format::PointCloud;
  throw UsageError("unsupported format '" + value + "'");
}

core::Collapse parse_collapse(const std::string& value) {
  if (value == "auto") return core::Collapse::Auto;
  if (value == "on") return core::Collapse::On;
  if (value == "off") return core::Collapse::Off;
  throw UsageError("--collapse must be auto, on or off");
}

// Ripser's flags (`--dim 2`; also `--dim=2`) through the shared parser (common/flags.hpp).
Args parse_args(int argc, char** argv) {
  const flags::Parsed f = flags::parse_command_line(argc, argv,
                                                    {{"format"},
                                                     {"dim"},
                                                     {"threshold"},
                                                     {"modulus"},
                                                     {"threads"},
                                                     {"memory-limit"},
                                                     {"estimate-scale"},
                                                     {"collapse"},
                                                     {"sparse"},
                                                     {"ratio"},
                                                     {"stats", false},
                                                     {"estimate", false},
                                                     {"progress", false},
                                                     {"no-progress", false}});
  Args a;
  a.help = f.help;
  a.stats = f.has("stats");
  a.estimate = f.has("estimate");
  a.progress = progress_flag(f);
  const auto value = [&](const char* name) -> const std::string& { return f.values.at(name); };
  const auto opt = [](const char* name) { return std::string("--") + name; };
  if (f.has("format")) a.format = parse_format(value("format"));
  if (f.has("dim"))
    a.dim = static_cast<int>(parse_int_in(opt("dim"), value("dim"), 0, core::kMaxDimension,
                                          "--dim must be between 0 and " + std::to_string(core::kMaxDimension)));
  if (f.has("threshold")) a.threshold = parse_float(opt("threshold"), value("threshold"));
  if (f.has("modulus"))
    a.modulus =
        static_cast<int>(parse_int_in(opt("modulus"), value("modulus"), 2, core::kMaxModulus,
                                      "--modulus must be a prime between 2 and " + std::to_string(core::kMaxModulus)));
  if (f.has("threads"))
    a.threads = static_cast<int>(
        parse_int_in(opt("threads"), value("threads"), 0, 4096, "--threads must be between 0 and 4096"));
  if (f.has("memory-limit")) a.memory_limit = parse_size(opt("memory-limit"), value("memory-limit"));
  if (f.has("collapse")) a.collapse = parse_collapse(value("collapse"));
  if (f.has("estimate-scale")) {
    a.estimate_scale = parse_float(opt("estimate-scale"), value("estimate-scale"));
    if (!(a.estimate_scale > 0 && a.estimate_scale <= 1000)) throw UsageError("--estimate-scale must be in (0, 1000]");
  }
  if (f.has("sparse")) {
    const double e = parse_float(opt("sparse"), value("sparse"));
    if (!(e > 0 && e <= core::kSparseMaxEpsilon)) throw UsageError("--sparse must be in (0, 1]");
    a.sparse = e;
  }
  if (f.has("ratio")) a.ratio = parse_float(opt("ratio"), value("ratio"));
  if (f.positional.size() > 1) throw UsageError("more than one input file given");
  if (!f.positional.empty()) a.file = f.positional.front();
  return a;
}

struct MemoryLimitExceeded : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The engine's data-following estimate (the one the server admits with),
// printed by --stats; a job whose estimate exceeds --memory-limit is refused
// before the distance matrix or anything of the computation is allocated.
// Returns true when the run stops here (--estimate).
bool check_memory(const Args& a, size_t n, size_t dim, const std::vector<value_t>* lower,
                  const std::vector<value_t>* coords) {
  if (!a.memory_limit && !a.stats && !a.estimate) return false;
  std::optional<double> thr;
  if (a.threshold) thr = static_cast<double>(*a.threshold);
  core::ComplexProfile p;
  core::FillIn fill;
  core::Estimate e;
  double profile_s = 0;  // (the measurement of the complex alone, as a Compute's admission makes it)
  if (a.sparse) {
    e = core::estimate_sparse_rips(n, static_cast<uint32_t>(dim), lower != nullptr, a.dim, *a.sparse);
  } else {
    const auto started = std::chrono::steady_clock::now();
    p = lower ? core::profile_lower(*lower, n, a.dim, thr) : core::profile_points(*coords, n, dim, a.dim, thr);
    profile_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    fill = lower ? core::fill_in_lower(*lower, n, a.dim, a.modulus, p, a.collapse)
                 : core::fill_in_points(*coords, n, dim, a.dim, a.modulus, p, a.collapse);
    // the complex the reduction will see when the edges collapse (collapse_estimate.hpp);
    // not for --stats alone, whose run would pay the collapse twice
    if (a.estimate || a.memory_limit) {
      auto c = lower ? core::collapsed_profile_lower(*lower, n, a.dim, thr, p, a.collapse)
                     : core::collapsed_profile_points(*coords, n, dim, a.dim, thr, p, a.collapse);
      if (c) p = std::move(*c);
    }
    e = core::estimate_rips_profile(p, static_cast<uint32_t>(dim), lower != nullptr, a.dim, thr.has_value(),
                                    fill.bytes);
  }
  if (a.stats || a.estimate) {
    std::string simplices;
    for (size_t k = p.collapse_measured ? 1 : 2; k < p.simplices.size(); ++k)
      simplices += " s" + std::to_string(k) + "=" + std::to_string(static_cast<uint64_t>(p.simplices[k]));
    std::string pilots;
    for (size_t i = 0; i < fill.points.size(); ++i)
      pilots +=
          (i ? "," : "") + std::to_string(fill.points[i]) + ":" + std::to_string(static_cast<uint64_t>(fill.peaks[i]));
    std::fprintf(
        a.estimate ? stdout : stderr,
        "estimate: memory_bytes=%llu seconds=%.3g cutoff=%g edges=%.0f collapse_measured=%s%s sampled_vertices=%u "
        "profile_s=%.3f fill_in_bytes=%.0f fill_in_exponent=%.2f pilots=%s%s pilot_s=%.3f\n",
        static_cast<unsigned long long>(e.memory_bytes), e.seconds, p.cutoff, p.edges,
        p.collapse_measured ? (p.collapse_stopped_early ? "probe" : "yes") : "no", simplices.c_str(),
        p.sampled_vertices, profile_s, fill.bytes, fill.exponent, pilots.empty() ? "none" : pilots.c_str(),
        fill.cut ? "(cut)" : "", fill.seconds);
  }
  if (a.memory_limit && static_cast<double>(e.memory_bytes) * a.estimate_scale > static_cast<double>(*a.memory_limit))
    throw MemoryLimitExceeded("estimated memory " + std::to_string(e.memory_bytes) + " bytes exceeds --memory-limit " +
                              std::to_string(*a.memory_limit) + " bytes (" + std::to_string(n) + " points, dim " +
                              std::to_string(a.dim) + ")");
  return a.estimate;
}

std::string read_input(const std::optional<std::string>& file) {
  if (!file) return read_all(std::cin);
  std::ifstream in(*file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open input file '" + *file + "': " + std::strerror(errno));
  return read_all(in);
}

// Appends like `std::cout << float` (default precision 6, %g style).
void put(std::string& out, value_t v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
  out += buf;
}
void put(std::string& out, double v) { put(out, static_cast<value_t>(v)); }
void put(std::string& out, uint64_t v) { out += std::to_string(v); }
void put(std::string& out, const char* s) { out += s; }

template <class... T>
void line(std::string& out, const T&... parts) {
  (put(out, parts), ...);
  out += '\n';
}

// "value range: [min,max]" over all pairwise distances (max ignores +inf).
void value_range(std::string& out, const std::vector<value_t>& lower) {
  value_t lo = std::numeric_limits<value_t>::infinity(), hi = -std::numeric_limits<value_t>::infinity();
  for (value_t d : lower) {
    lo = std::min(lo, d);
    if (d != std::numeric_limits<value_t>::infinity()) hi = std::max(hi, d);
  }
  line(out, "value range: [", lo, ",", hi, "]");
}

void print_barcodes(std::string& out, const core::RipsResult& r, size_t n, int max_dim, float ratio) {
  // like Ripser, dimensions above n - 2 are not listed
  const int shown = std::max(0, std::min<int>(max_dim, static_cast<int>(std::min<size_t>(n, 1u << 30)) - 2));
  for (int k = 0; k <= shown; ++k) {
    line(out, "persistence intervals in dim ", static_cast<uint64_t>(k), ":");
    for (const core::Interval& iv : r.diagrams[k]) {
      if (std::isinf(iv.death)) {
        line(out, " [", iv.birth, ", )");
      } else if (k == 0 || static_cast<value_t>(iv.death) > static_cast<value_t>(iv.birth) * ratio) {
        line(out, " [", iv.birth, ",", iv.death, ")");
      }
    }
  }
}

// --stats: lines of key=value figures on stderr.
void print_stats(const core::RipsStats& s, core::Collapse mode, const core::MemoryBudget* memory) {
  if (s.sparse_epsilon > 0)
    std::fprintf(stderr, "stats: approximation=sparse-rips eps=%g interleaving_factor=%g permutation_s=%.3f\n",
                 s.sparse_epsilon, 1 + s.sparse_epsilon, s.seconds_permutation);
  const char* rule = mode == core::Collapse::On    ? "forced"
                     : mode == core::Collapse::Off ? "off"
                     : s.collapse_stopped_early    ? "auto,stopped-after-probe"
                                                   : "auto";
  std::fprintf(
      stderr,
      "stats: points=%llu threshold=%g edges_below_threshold=%llu collapse=%s(%s) edges_reduced=%llu "
      "edges_delayed=%llu columns_reduced=%llu apparent_pairs=%llu edges_s=%.3f collapse_s=%.3f "
      "reduction_s=%.3f sort_s=%.3f edges_cpu_s=%.3f collapse_cpu_s=%.3f reduction_cpu_s=%.3f\n",
      static_cast<unsigned long long>(s.points), s.threshold_used, static_cast<unsigned long long>(s.edges),
      s.collapsed ? "yes" : "no", rule, static_cast<unsigned long long>(s.collapsed ? s.edges_after_collapse : s.edges),
      static_cast<unsigned long long>(s.edges_delayed), static_cast<unsigned long long>(s.columns_reduced),
      static_cast<unsigned long long>(s.apparent_pairs), s.seconds_edges, s.seconds_collapse, s.seconds_reduction,
      s.seconds_sort, s.cpu_seconds_edges, s.cpu_seconds_collapse, s.cpu_seconds_reduction);
  if (s.collapsed)
    std::fprintf(stderr,
                 "stats: collapse_probe_edges=%llu probe_removed=%llu probe_delayed=%llu probe_bar=%g "
                 "collapse_blocks=%u\n",
                 static_cast<unsigned long long>(s.probe_edges), static_cast<unsigned long long>(s.probe_removed),
                 static_cast<unsigned long long>(s.probe_delayed), core::kCollapseBar, s.collapse_blocks);
  // the runtime memory guard's accounted peak, and the process's peak resident set for comparison
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::fprintf(stderr, "stats: accounted_peak_bytes=%llu working_peak_bytes=%llu process_peak_rss_bytes=%llu\n",
               static_cast<unsigned long long>(memory ? memory->peak() : 0),
               static_cast<unsigned long long>(memory ? memory->working_peak() : 0),
               static_cast<unsigned long long>(ru.ru_maxrss) * 1024ull);
}

// The header line that says the barcode is an approximation.
void sparse_line(std::string& out, double eps) {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "sparse Rips filtration (approximation): bars within a factor %g of the Rips diagram's", 1 + eps);
  line(out, buf);
}

// The progress bar (--progress, or stderr a terminal without --no-progress),
// its shares from the measured complex (the sparse filtration: equal shares).
void start_progress(const Args& a, size_t n, size_t dim, const std::vector<value_t>* lower,
                    const std::vector<value_t>* coords, std::unique_ptr<ProgressBar>& bar, core::Callbacks& cb) {
  if (!show_progress(a.progress)) return;
  core::WorkPlan plan = core::uniform_work_plan(a.dim);
  if (!a.sparse) {
    std::optional<double> thr;
    if (a.threshold) thr = static_cast<double>(*a.threshold);
    const core::ComplexProfile p =
        lower ? core::profile_lower(*lower, n, a.dim, thr) : core::profile_points(*coords, n, dim, a.dim, thr);
    const bool collapse =
        a.collapse == core::Collapse::On ||
        (a.collapse == core::Collapse::Auto && core::detail::collapse_pays(n, static_cast<size_t>(p.edges), a.dim));
    plan = core::rips_work_plan(n, static_cast<uint32_t>(dim), p.edges, p.simplices, a.dim, collapse, p.scanned_pairs);
  }
  bar = std::make_unique<ProgressBar>(stderr, stderr_is_terminal(), plan, a.memory_limit.value_or(0));
  cb = bar->callbacks();
}

int run(const Args& a) {
  std::string text = read_input(a.file);  // (freed once parsed: the run does not need it)
  core::RipsOptions opt;
  opt.max_dim = a.dim;
  opt.modulus = a.modulus;
  opt.threads = core::resolve_threads(a.threads);
  opt.collapse = a.collapse;
  if (a.threshold) opt.threshold = static_cast<double>(*a.threshold);
  opt.sparse = a.sparse;
  if (a.sparse && a.collapse == core::Collapse::Auto) opt.collapse = core::Collapse::Off;

  std::string out;
  core::RipsResult result;
  size_t n = 0;
  std::unique_ptr<ProgressBar> bar;
  core::Callbacks cb;
  // --memory-limit is also the runtime guard: the computation's large allocations
  // are charged to it, and past it the run stops (exit 3) before the OS kills it
  core::MemoryBudget guard(a.memory_limit.value_or(0));
  // (the progress bar, when shown, carries the same limit; --stats prints the accounted peak)
  if (a.memory_limit || a.stats) cb.memory = &guard;
  if (a.format == Format::PointCloud) {
    core::io::PointCloud pc = core::io::parse_point_cloud(text);
    std::string().swap(text);
    n = pc.n;
    if (check_memory(a, pc.n, pc.dim, nullptr, &pc.coords)) return 0;
    start_progress(a, pc.n, pc.dim, nullptr, &pc.coords, bar, cb);
    line(out, "point cloud with ", static_cast<uint64_t>(pc.n), " points in dimension ", static_cast<uint64_t>(pc.dim));
    if (a.sparse) sparse_line(out, *a.sparse);
    if (a.threshold || a.sparse) {
      result = core::rips_from_points(pc.coords, pc.n, pc.dim, opt, cb);
    } else {
      core::detail::validate_options(pc.n, opt);
      core::detail::validate_values(pc.coords, false, "coordinates");
      if (cb.on_progress) cb.on_progress(core::ProgressInfo{core::Stage::Distances, 0, 0, 0, 0});
      std::vector<value_t> lower = core::lower_from_points(pc.coords, pc.n, pc.dim, core::NoPoll{}, opt.threads);
      value_range(out, lower);
      line(out, "distance matrix with ", static_cast<uint64_t>(n), " points, using threshold at enclosing radius ",
           core::enclosing_radius_lower(lower, n));
      result = core::rips_from_lower_distances(std::move(lower), n, opt, cb);
    }
  } else {
    core::io::LowerMatrix m = a.format == Format::Distance        ? core::io::parse_distance_matrix(text)
                              : a.format == Format::LowerDistance ? core::io::parse_lower_distance(text)
                                                                  : core::io::parse_upper_distance(text);
    std::string().swap(text);
    n = m.n;
    if (check_memory(a, n, 0, &m.lower, nullptr)) return 0;
    start_progress(a, n, 0, &m.lower, nullptr, bar, cb);
    core::detail::validate_options(n, opt);
    core::detail::validate_values(m.lower, true, "distances");
    value_range(out, m.lower);
    if (a.sparse) {
      line(out, "distance matrix with ", static_cast<uint64_t>(n), " points");
      sparse_line(out, *a.sparse);
    } else if (a.threshold) {
      uint64_t entries = 0;
      for (value_t d : m.lower) entries += d <= *a.threshold;
      line(out, "sparse distance matrix with ", static_cast<uint64_t>(n), " points and ", entries, "/",
           static_cast<uint64_t>((n * n - 1) / 2), " entries");
    } else {
      line(out, "distance matrix with ", static_cast<uint64_t>(n), " points, using threshold at enclosing radius ",
           core::enclosing_radius_lower(m.lower, n));
    }
    result = core::rips_from_lower_distances(std::move(m.lower), n, opt, cb);
  }
  if (bar) bar->finish();  // (its last line before the barcode)
  print_barcodes(out, result, n, a.dim, a.ratio);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (a.stats) print_stats(result.stats, a.collapse, cb.memory);
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv) {
  try {
    Args a = parse_args(argc, argv);
    if (a.help) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    return run(a);
  } catch (const MemoryLimitExceeded& e) {
    std::fprintf(stderr, "tda-engine: refused: %s\n", e.what());
    return 3;
  } catch (const core::MemoryLimitExceeded& e) {
    std::fprintf(stderr, "tda-engine: stopped: %s (--memory-limit)\n", e.what());
    return 3;
  } catch (...) {
    return report_failure(kUsage);
  }
}

}  // namespace tda::cli
