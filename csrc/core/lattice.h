// 3-vectors and 3x3 cells (rows are lattice vectors) for the cell geometry of the
// neighbour search and the periodic-image bounds.
#pragma once

#include <array>
#include <cmath>

namespace nnpkit::lattice {

using Vec3 = std::array<double, 3>;
using Mat3 = std::array<double, 9>;  // row-major

inline Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
inline double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
inline double norm(const Vec3& a) { return std::sqrt(dot(a, a)); }
inline Vec3 row(const Mat3& m, int i) { return {m[3 * i], m[3 * i + 1], m[3 * i + 2]}; }
inline Vec3 normalized(const Vec3& a) {
  const double n = norm(a);
  return {a[0] / n, a[1] / n, a[2] / n};
}

inline double determinant(const Mat3& m) { return dot(row(m, 0), cross(row(m, 1), row(m, 2))); }

inline Mat3 inverse(const Mat3& m) {
  const Vec3 a = row(m, 0), b = row(m, 1), c = row(m, 2);
  const Vec3 bc = cross(b, c), ca = cross(c, a), ab = cross(a, b);
  const double det = dot(a, bc);
  // (m^-1) columns are bc, ca, ab divided by det.
  return {bc[0] / det, ca[0] / det, ab[0] / det, bc[1] / det, ca[1] / det,
          ab[1] / det, bc[2] / det, ca[2] / det, ab[2] / det};
}

}  // namespace nnpkit::lattice
