// Geometry of the alpha filtration: squared circumradii of Delaunay simplices
// and the Gabriel ("attached") test, both accurate enough that filtration values
// agree with an exact computation to about 1e-13 relative.
//
// Circumradii are evaluated in long double with a conditioning check; a simplex
// too flat for that (rare: slivers, near-collinear triangles) is evaluated in
// exact rational arithmetic (GMP through CGAL::Gmpq) and rounded once.
// The Gabriel tests are exact: a floating-point filter with an error bound, then
// CGAL's exact predicates when it cannot decide.
#pragma once

#include <CGAL/Exact_predicates_inexact_constructions_kernel.h>
#include <CGAL/Gmpq.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace tda::core::alpha_detail {

using Kernel = CGAL::Exact_predicates_inexact_constructions_kernel;
using Point2 = Kernel::Point_2;
using Point3 = Kernel::Point_3;
using ldouble = long double;

// Thresholds on the normalised size of the determinant below which the long
// double evaluation (64-bit mantissa, unit roundoff 5.4e-20) may lose more than
// ~1e-12 relative (the error grows like a few units of roundoff over the
// normalised determinant); then go exact.
inline constexpr ldouble kFlatTriangle = 1e-6L;  // |a x b|^2 / (|a|^2 |b|^2)
inline constexpr ldouble kFlatTetra = 1e-6L;     // |det(a,b,c)| / (|a| |b| |c|)

// Squared half length of the edge pq (the radius of its diametral sphere).
template <int D>
inline double edge_sq_radius(const double* p, const double* q) {
  ldouble s = 0;
  for (int i = 0; i < D; ++i) {
    const ldouble d = static_cast<ldouble>(p[i]) - q[i];  // exact in long double
    s += d * d;
  }
  return static_cast<double>(s / 4);
}

namespace exact {
using Q = CGAL::Gmpq;

template <int D>
inline double triangle_sq_radius(const double* p, const double* q, const double* r) {
  Q a[D], b[D], c[D];
  for (int i = 0; i < D; ++i) {
    a[i] = Q(p[i]) - Q(r[i]);
    b[i] = Q(q[i]) - Q(r[i]);
    c[i] = a[i] - b[i];
  }
  Q aa = 0, bb = 0, cc = 0, s = 0;
  for (int i = 0; i < D; ++i) {
    aa += a[i] * a[i];
    bb += b[i] * b[i];
    cc += c[i] * c[i];
  }
  for (int i = 0; i < D; ++i)
    for (int j = i + 1; j < D; ++j) {
      const Q m = a[i] * b[j] - a[j] * b[i];
      s += m * m;
    }
  if (CGAL::is_zero(s)) return std::numeric_limits<double>::infinity();
  const Q r2 = aa * bb * cc / (Q(4) * s);
  return CGAL::to_double(r2);
}

inline double tetra_sq_radius(const double* p, const double* q, const double* r, const double* t) {
  Q a[3], b[3], c[3];
  for (int i = 0; i < 3; ++i) {
    a[i] = Q(p[i]) - Q(t[i]);
    b[i] = Q(q[i]) - Q(t[i]);
    c[i] = Q(r[i]) - Q(t[i]);
  }
  const Q aa = a[0] * a[0] + a[1] * a[1] + a[2] * a[2];
  const Q bb = b[0] * b[0] + b[1] * b[1] + b[2] * b[2];
  const Q cc = c[0] * c[0] + c[1] * c[1] + c[2] * c[2];
  const Q bc[3] = {b[1] * c[2] - b[2] * c[1], b[2] * c[0] - b[0] * c[2], b[0] * c[1] - b[1] * c[0]};
  const Q ca[3] = {c[1] * a[2] - c[2] * a[1], c[2] * a[0] - c[0] * a[2], c[0] * a[1] - c[1] * a[0]};
  const Q ab[3] = {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
  const Q det = a[0] * bc[0] + a[1] * bc[1] + a[2] * bc[2];
  if (CGAL::is_zero(det)) return std::numeric_limits<double>::infinity();
  Q num2 = 0;
  for (int i = 0; i < 3; ++i) {
    const Q x = aa * bc[i] + bb * ca[i] + cc * ab[i];
    num2 += x * x;
  }
  const Q r2 = num2 / (Q(4) * det * det);
  return CGAL::to_double(r2);
}
}  // namespace exact

// Squared circumradius of the triangle pqr in R^D (the radius of its smallest
// circumsphere): |a|^2 |b|^2 |a-b|^2 / (4 |a x b|^2) with a = p - r, b = q - r,
// |a x b|^2 summed over the 2x2 minors (Lagrange's identity, no cancellation
// beyond that of the minors themselves).
template <int D>
inline double triangle_sq_radius(const double* p, const double* q, const double* r) {
  ldouble a[D], b[D];
  ldouble aa = 0, bb = 0, cc = 0;
  for (int i = 0; i < D; ++i) {
    a[i] = static_cast<ldouble>(p[i]) - r[i];
    b[i] = static_cast<ldouble>(q[i]) - r[i];
    const ldouble c = a[i] - b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
    cc += c * c;
  }
  ldouble s = 0;
  for (int i = 0; i < D; ++i)
    for (int j = i + 1; j < D; ++j) {
      const ldouble m = a[i] * b[j] - a[j] * b[i];
      s += m * m;
    }
  if (!(s > kFlatTriangle * aa * bb)) return exact::triangle_sq_radius<D>(p, q, r);
  return static_cast<double>(aa * bb * cc / (4 * s));
}

// Squared circumradius of the tetrahedron pqrt in R^3.
inline double tetra_sq_radius(const double* p, const double* q, const double* r, const double* t) {
  ldouble a[3], b[3], c[3];
  for (int i = 0; i < 3; ++i) {
    a[i] = static_cast<ldouble>(p[i]) - t[i];
    b[i] = static_cast<ldouble>(q[i]) - t[i];
    c[i] = static_cast<ldouble>(r[i]) - t[i];
  }
  const ldouble aa = a[0] * a[0] + a[1] * a[1] + a[2] * a[2];
  const ldouble bb = b[0] * b[0] + b[1] * b[1] + b[2] * b[2];
  const ldouble cc = c[0] * c[0] + c[1] * c[1] + c[2] * c[2];
  const ldouble bc[3] = {b[1] * c[2] - b[2] * c[1], b[2] * c[0] - b[0] * c[2], b[0] * c[1] - b[1] * c[0]};
  const ldouble ca[3] = {c[1] * a[2] - c[2] * a[1], c[2] * a[0] - c[0] * a[2], c[0] * a[1] - c[1] * a[0]};
  const ldouble ab[3] = {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
  const ldouble det = a[0] * bc[0] + a[1] * bc[1] + a[2] * bc[2];
  const ldouble scale2 = aa * bb * cc;
  if (!(det * det > kFlatTetra * kFlatTetra * scale2)) return exact::tetra_sq_radius(p, q, r, t);
  ldouble num2 = 0;
  for (int i = 0; i < 3; ++i) {
    const ldouble x = aa * bc[i] + bb * ca[i] + cc * ab[i];
    num2 += x * x;
  }
  return static_cast<double>(num2 / (4 * det * det));
}

// Gabriel tests: true when `w` lies strictly inside the smallest circumsphere
// of the simplex (then the simplex is attached to the coface through w).
template <int D>
struct Predicates;

template <>
struct Predicates<2> {
  static Point2 pt(const double* p) { return Point2(p[0], p[1]); }
  static bool edge_attached(const double* u, const double* v, const double* w) {
    // strictly inside the diametral circle <=> (w-u).(w-v) < 0; a quick
    // decision in double when the value is far from zero, exact otherwise
    const double a0 = w[0] - u[0], a1 = w[1] - u[1], b0 = w[0] - v[0], b1 = w[1] - v[1];
    const double dot = a0 * b0 + a1 * b1;
    const double mag = std::fabs(a0 * b0) + std::fabs(a1 * b1);
    if (std::fabs(dot) > 1e-12 * mag) return dot < 0;
    return Kernel().side_of_bounded_circle_2_object()(pt(u), pt(v), pt(w)) == CGAL::ON_BOUNDED_SIDE;
  }
  static bool triangle_attached(const double* p, const double* q, const double* r, const double* w) {
    return Kernel().side_of_bounded_circle_2_object()(pt(p), pt(q), pt(r), pt(w)) == CGAL::ON_BOUNDED_SIDE;
  }
};

template <>
struct Predicates<3> {
  static Point3 pt(const double* p) { return Point3(p[0], p[1], p[2]); }
  static bool edge_attached(const double* u, const double* v, const double* w) {
    const double a0 = w[0] - u[0], a1 = w[1] - u[1], a2 = w[2] - u[2];
    const double b0 = w[0] - v[0], b1 = w[1] - v[1], b2 = w[2] - v[2];
    const double dot = a0 * b0 + a1 * b1 + a2 * b2;
    const double mag = std::fabs(a0 * b0) + std::fabs(a1 * b1) + std::fabs(a2 * b2);
    if (std::fabs(dot) > 1e-12 * mag) return dot < 0;
    return Kernel().side_of_bounded_sphere_3_object()(pt(u), pt(v), pt(w)) == CGAL::ON_BOUNDED_SIDE;
  }
  // w strictly inside the smallest circumsphere of the triangle pqr. With
  // a = p - r, b = q - r, d = w - r, n = a x b and u = (|a|^2 b - |b|^2 a) x n,
  // the sphere's centre is r + u / (2 |n|^2), so w is inside iff
  // S = |d|^2 |n|^2 - d.u < 0 (a homogeneous polynomial of degree 6). S is
  // evaluated in double; its rounding error is below gamma_k times S_abs, the
  // same expression over absolute values (k < 30 roundings, inputs included),
  // so |S| > 1e-12 S_abs decides its sign. Components outside [1e-40, 1e40]
  // (under/overflow possible) and undecided cases go to CGAL's exact predicate.
  static bool triangle_attached(const double* p, const double* q, const double* r, const double* w) {
    double a[3], b[3], d[3];
    bool ok = true;
    for (int i = 0; i < 3; ++i) {
      a[i] = p[i] - r[i];
      b[i] = q[i] - r[i];
      d[i] = w[i] - r[i];
      ok = ok && in_range(a[i]) && in_range(b[i]) && in_range(d[i]);
    }
    if (ok) {
      const double n[3] = {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
      const double na[3] = {std::fabs(a[1] * b[2]) + std::fabs(a[2] * b[1]),
                            std::fabs(a[2] * b[0]) + std::fabs(a[0] * b[2]),
                            std::fabs(a[0] * b[1]) + std::fabs(a[1] * b[0])};
      const double aa = a[0] * a[0] + a[1] * a[1] + a[2] * a[2];
      const double bb = b[0] * b[0] + b[1] * b[1] + b[2] * b[2];
      const double dd = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
      const double v[3] = {aa * b[0] - bb * a[0], aa * b[1] - bb * a[1], aa * b[2] - bb * a[2]};
      double va[3];
      for (int i = 0; i < 3; ++i) va[i] = aa * std::fabs(b[i]) + bb * std::fabs(a[i]);
      const double u[3] = {v[1] * n[2] - v[2] * n[1], v[2] * n[0] - v[0] * n[2], v[0] * n[1] - v[1] * n[0]};
      const double ua[3] = {va[1] * na[2] + va[2] * na[1], va[2] * na[0] + va[0] * na[2],
                            va[0] * na[1] + va[1] * na[0]};
      const double nn = n[0] * n[0] + n[1] * n[1] + n[2] * n[2];
      const double nna = na[0] * na[0] + na[1] * na[1] + na[2] * na[2];
      const double s = dd * nn - (d[0] * u[0] + d[1] * u[1] + d[2] * u[2]);
      const double sa = dd * nna + std::fabs(d[0]) * ua[0] + std::fabs(d[1]) * ua[1] + std::fabs(d[2]) * ua[2];
      if (std::fabs(s) > 1e-12 * sa) return s < 0;
    }
    return Kernel().side_of_bounded_sphere_3_object()(pt(p), pt(q), pt(r), pt(w)) == CGAL::ON_BOUNDED_SIDE;
  }

 private:
  static bool in_range(double x) {
    const double m = std::fabs(x);
    return m == 0 || (m >= 1e-40 && m <= 1e40);
  }
};

}  // namespace tda::core::alpha_detail
