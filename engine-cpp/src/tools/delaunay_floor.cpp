// tda_delaunay_floor: the bare CGAL Delaunay triangulation of a point cloud, timed.
//
// The floor of the Alpha-complex computation: what the triangulation alone costs
// on the same points, with the same kernel (exact predicates, inexact
// constructions) and the same number of threads, written the way a CGAL user
// writes it (`Delaunay_triangulation_3 dt(points.begin(), points.end())`, which
// spatially sorts, then inserts; in R^3 with threads > 1 and TBB, the parallel
// triangulation with a lock grid over the bounding box). bench/alpha_bench.py
// prints the engine's time next to it.
//
//   tda_delaunay_floor [--threads N] FILE      (one point per line, 2 or 3 numbers)
//
// Prints one line on stdout: `delaunay_seconds=... vertices=... cells=... threads=...`
// (the time excludes reading the file).
#include <CGAL/Delaunay_triangulation_2.h>
#include <CGAL/Delaunay_triangulation_3.h>
#include <CGAL/Exact_predicates_inexact_constructions_kernel.h>

#ifdef CGAL_LINKED_WITH_TBB
#include <tbb/global_control.h>
#endif

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace {

using Kernel = CGAL::Exact_predicates_inexact_constructions_kernel;
using Clock = std::chrono::steady_clock;

struct Cloud {
  std::vector<double> xs;
  size_t dim = 0;
};

bool is_sep(char c) { return c == ' ' || c == ',' || c == '\t' || c == '\r' || c == ';'; }

Cloud read_cloud(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot open ") + path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Cloud c;
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    ++line_no;
    size_t k = 0;
    for (size_t i = pos; i < nl;) {
      while (i < nl && is_sep(text[i])) ++i;
      if (i >= nl || text[i] == '#') break;
      size_t j = i;
      while (j < nl && !is_sep(text[j])) ++j;
      double v = 0;
      const auto r = std::from_chars(text.data() + i, text.data() + j, v);
      if (r.ec != std::errc() || r.ptr != text.data() + j)
        throw std::runtime_error("line " + std::to_string(line_no) + ": not a number");
      c.xs.push_back(v);
      ++k;
      i = j;
    }
    if (k) {
      if (!c.dim) c.dim = k;
      if (k != c.dim) throw std::runtime_error("line " + std::to_string(line_no) + ": wrong number of coordinates");
    }
    pos = nl + 1;
  }
  if (c.dim != 2 && c.dim != 3) throw std::runtime_error("points must be in R^2 or R^3");
  return c;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void triangulate_2d(const Cloud& c, int threads) {
  using DT = CGAL::Delaunay_triangulation_2<Kernel>;
  std::vector<Kernel::Point_2> pts(c.xs.size() / 2);
  for (size_t i = 0; i < pts.size(); ++i) pts[i] = Kernel::Point_2(c.xs[2 * i], c.xs[2 * i + 1]);
  const auto t0 = Clock::now();
  DT dt(pts.begin(), pts.end());  // CGAL has no parallel 2-D Delaunay
  const double s = seconds_since(t0);
  std::printf("delaunay_seconds=%.3f vertices=%zu cells=%zu threads=%d parallel=no\n", s,
              static_cast<size_t>(dt.number_of_vertices()), static_cast<size_t>(dt.number_of_faces()), threads);
}

template <class DT>
void report_3d(const DT& dt, double s, int threads, bool parallel) {
  std::printf("delaunay_seconds=%.3f vertices=%zu cells=%zu threads=%d parallel=%s\n", s,
              static_cast<size_t>(dt.number_of_vertices()), static_cast<size_t>(dt.number_of_finite_cells()), threads,
              parallel ? "yes" : "no");
}

void triangulate_3d(const Cloud& c, int threads) {
  std::vector<Kernel::Point_3> pts(c.xs.size() / 3);
  for (size_t i = 0; i < pts.size(); ++i) pts[i] = Kernel::Point_3(c.xs[3 * i], c.xs[3 * i + 1], c.xs[3 * i + 2]);
#ifdef CGAL_LINKED_WITH_TBB
  if (threads > 1) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    using Tds =
        CGAL::Triangulation_data_structure_3<CGAL::Triangulation_vertex_base_3<Kernel>,
                                             CGAL::Delaunay_triangulation_cell_base_3<Kernel>, CGAL::Parallel_tag>;
    using DT = CGAL::Delaunay_triangulation_3<Kernel, Tds>;
    const auto t0 = Clock::now();
    const CGAL::Bbox_3 box = CGAL::bbox_3(pts.begin(), pts.end());
    typename DT::Lock_data_structure locks(box, 50);
    DT dt(pts.begin(), pts.end(), &locks);
    report_3d(dt, seconds_since(t0), threads, true);
    return;
  }
#endif
  using DT = CGAL::Delaunay_triangulation_3<Kernel>;
  const auto t0 = Clock::now();
  DT dt(pts.begin(), pts.end());
  report_3d(dt, seconds_since(t0), threads, false);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  const char* file = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
      if (threads < 1) threads = 1;
    } else if (!file && a.rfind("--", 0) != 0) {
      file = argv[i];
    } else {
      std::fprintf(stderr, "usage: tda_delaunay_floor [--threads N] FILE\n");
      return 2;
    }
  }
  if (!file) {
    std::fprintf(stderr, "usage: tda_delaunay_floor [--threads N] FILE\n");
    return 2;
  }
  try {
    const Cloud c = read_cloud(file);
    if (c.dim == 2) triangulate_2d(c, threads);
    else triangulate_3d(c, threads);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tda_delaunay_floor: %s\n", e.what());
    return 2;
  }
  return 0;
}
