// Per-pair and per-triplet terms of the Behler-Parrinello symmetry functions,
// with their gradients with respect to the edge vectors, exactly as n2p2 defines
// them: SymFncExpRad (2), SymFncExpAngn (3), SymFncExpAngw (9), the element-
// weighted SymFncExpRadWeighted (12) and SymFncExpAngnWeighted (13), and the
// compact polynomial SymFncCompRad (20), SymFncCompAngn (21), SymFncCompAngw (22)
// with their weighted forms (23, 24, 25).
// Weighted functions sum over all neighbours with weight Z_j (Z_j Z_k for pairs);
// the tables list them once per neighbour element (pair) with that weight in
// `weight`, so that one term here serves both the plain and the weighted form.
// Written once for the CPU driver and the CUDA kernels.
#pragma once

#include <cmath>

#include "core/compact_functions.h"
#include "core/cutoff_functions.h"
#include "core/host_device.h"

namespace nnpkit {

// n2p2 symmetry-function type numbers.
enum class SymmetryFunctionType : int {
  Radial = 2,
  AngularNarrow = 3,
  AngularWide = 9,
  WeightedRadial = 12,
  WeightedAngularNarrow = 13,
  CompactRadial = 20,
  CompactAngularNarrow = 21,
  CompactAngularWide = 22,
  CompactWeightedRadial = 23,
  CompactWeightedAngularNarrow = 24,
  CompactWeightedAngularWide = 25,
};

NNPKIT_HD bool is_radial_type(int type) { return type == 2 || type == 12 || type == 20 || type == 23; }
NNPKIT_HD bool is_compact_type(int type) { return type >= 20 && type <= 25; }
NNPKIT_HD bool is_known_type(int type) {
  return type == 2 || type == 3 || type == 9 || type == 12 || type == 13 || (type >= 20 && type <= 25);
}
// Narrow angular functions include the j-k distance (exponent and cutoff).
NNPKIT_HD bool is_narrow_type(int type) { return type == 3 || type == 13 || type == 21 || type == 24; }

// For the Gaussian types rs is the shift and cutoff_type n2p2's cutoff function;
// for the compact types rs is the left radial boundary rl, cutoff_type the core
// function (CoreFunctionType) and angle_left/right the angular support in radians.
template <typename T>
struct SymmetryFunctionParams {
  T eta, rs, rc, alpha, zeta, lambda;
  int cutoff_type;
  T weight = T(1);
  T angle_left = T(0), angle_right = T(0);
  bool asymmetric = false;
  T angular_norm = T(0);  // weight * 2^(1 - zeta), set by prepare_params
};

// Fills the derived constants of a parameter set; call once per function, not per term.
template <typename T>
NNPKIT_HD SymmetryFunctionParams<T> prepare_params(SymmetryFunctionParams<T> p) {
  p.angular_norm = p.weight * std::pow(T(2), T(1) - p.zeta);
  return p;
}

// Radial factor of one distance for the Gaussian types:
// R = exp(-eta (r - rs)^2) fc(r), with dR/dr. It is the G2 term itself (before the
// element weight) and the per-edge factor of the Gaussian angular terms.
template <typename T>
NNPKIT_HD T radial_factor(T r, const SymmetryFunctionParams<T>& p, T& dR_dr) {
  T fc, dfc;
  cutoff_value_and_derivative<T>(p.cutoff_type, r, p.rc, p.alpha, fc, dfc);
  const T dr = r - p.rs;
  const T g = std::exp(-p.eta * dr * dr);
  dR_dr = g * (dfc - T(2) * p.eta * dr * fc);
  return g * fc;
}

// Radial factor of the compact types: f(r) on rl < r < rc (rl stored in rs).
template <typename T>
NNPKIT_HD T compact_factor(T r, const SymmetryFunctionParams<T>& p, T& dR_dr) {
  if (!(r > p.rs && r < p.rc)) {
    dR_dr = T(0);
    return T(0);
  }
  T f;
  compact_value_and_derivative<T>(p.cutoff_type, p.asymmetric, r, p.rs, p.rc, f, dR_dr);
  return f;
}

// The per-edge factor of any type (what the CPU driver caches per edge).
template <typename T>
NNPKIT_HD T edge_factor(int type, T r, const SymmetryFunctionParams<T>& p, T& dR_dr) {
  return is_compact_type(type) ? compact_factor<T>(r, p, dR_dr) : radial_factor<T>(r, p, dR_dr);
}

// One radial term of any radial type: weight * R(r). Returns the value and writes
// d(term)/d(edge vector) to grad when grad != nullptr.
template <typename T>
NNPKIT_HD T any_radial_term(int type, const T* a, T r, const SymmetryFunctionParams<T>& p, T* grad) {
  T dR;
  const T value = p.weight * edge_factor<T>(type, r, p, dR);
  if (grad != nullptr) {
    const T k = p.weight * dR / r;
    grad[0] = k * a[0];
    grad[1] = k * a[1];
    grad[2] = k * a[2];
  }
  return value;
}

// x^n for a non-negative x: repeated multiplication for integer n (as n2p2 does
// for integer zeta), std::pow otherwise.
template <typename T>
NNPKIT_HD T power(T x, T n) {
  const int k = static_cast<int>(n);
  if (static_cast<T>(k) == n && k >= 0 && k <= 64) {
    T out = T(1);
    for (int i = 0; i < k; ++i) out *= x;
    return out;
  }
  return std::pow(x, n);
}

// Geometry of one neighbour pair (j, k) seen from centre i, shared by all angular
// functions of that pair: a = r_ij and b = r_ik are the edge vectors.
template <typename T>
struct TripletGeometry {
  T cos_t, inv12, r3sq;
  T d[3];  // r_jk = b - a
};

template <typename T>
NNPKIT_HD TripletGeometry<T> triplet_geometry(const T* a, T r1, const T* b, T r2) {
  TripletGeometry<T> g;
  for (int c = 0; c < 3; ++c) g.d[c] = b[c] - a[c];
  g.r3sq = g.d[0] * g.d[0] + g.d[1] * g.d[1] + g.d[2] * g.d[2];
  g.inv12 = T(1) / (r1 * r2);
  g.cos_t = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) * g.inv12;
  return g;
}

// Value of one angular term from the per-edge factors R1, R2 of r_ij, r_ik:
//   Gaussian (3, 9, 13): weight 2^(1-zeta) (1 + lambda cos)^zeta R1 R2 [R(r_jk) narrow]
//     zero where 1 + lambda cos <= 0 and, narrow, where r_jk >= rc;
//   compact (21, 22, 24, 25): weight f_a(theta) R1 R2 [R(r_jk) narrow], f_a the
//     symmetric compact function of the same core type on [angle_left, angle_right];
//     zero for collinear triplets and, narrow, unless max(rl, 0) < r_jk < rc.
// With coeff != nullptr also writes the scalar derivatives
//   coeff = {dG/dcos, (dG/dr_ij)/r_ij, (dG/dr_ik)/r_ik, (dG/dr_jk)/r_jk},
// from which angular_gradients builds the vectors (once per pair for all functions).
template <typename T>
NNPKIT_HD T angular_coefficients(int type, const TripletGeometry<T>& g, T r1, T R1, T dR1, T r2, T R2, T dR2,
                                 const SymmetryFunctionParams<T>& p, T* coeff) {
  auto zero = [&]() {
    if (coeff != nullptr) coeff[0] = coeff[1] = coeff[2] = coeff[3] = T(0);
    return T(0);
  };
  const bool narrow = is_narrow_type(type);
  const bool compact = is_compact_type(type);
  T R3 = T(1), dR3 = T(0), r3 = T(1);
  if (narrow) {
    if (g.r3sq >= p.rc * p.rc) return zero();
    if (compact && g.r3sq <= (p.rs > T(0) ? p.rs * p.rs : T(0))) return zero();
    r3 = std::sqrt(g.r3sq);
    R3 = edge_factor<T>(type, r3, p, dR3);
  }
  T angular, dangular_dcos;
  if (compact) {
    if (g.cos_t <= T(-1) || g.cos_t >= T(1)) return zero();
    const T theta = std::acos(g.cos_t);
    if (theta < p.angle_left || theta > p.angle_right) return zero();
    T fa, dfa;
    compact_value_and_derivative<T>(p.cutoff_type, false, theta, p.angle_left, p.angle_right, fa, dfa);
    angular = p.weight * fa;
    dangular_dcos = -p.weight * dfa / std::sqrt(T(1) - g.cos_t * g.cos_t);  // dtheta/dcos = -1/sin
  } else {
    const T plambda = T(1) + p.lambda * g.cos_t;
    if (plambda <= T(0)) return zero();
    const T norm = p.angular_norm;
    const T pz1 = power<T>(plambda, p.zeta - T(1));
    angular = norm * pz1 * plambda;
    dangular_dcos = norm * p.zeta * p.lambda * pz1;
  }
  const T R12 = R1 * R2;
  if (coeff != nullptr) {
    coeff[0] = dangular_dcos * R12 * R3;
    coeff[1] = angular * dR1 * R2 * R3 / r1;
    coeff[2] = angular * dR2 * R1 * R3 / r2;
    coeff[3] = narrow ? angular * dR3 * R12 / r3 : T(0);
  }
  return angular * R12 * R3;
}

// Gradients with respect to a = r_ij and b = r_ik from (summed) coefficients.
template <typename T>
NNPKIT_HD void angular_gradients(const T* a, T r1, const T* b, T r2, const TripletGeometry<T>& g, const T* coeff,
                                 T* grad_a, T* grad_b) {
  const T ca = g.cos_t / (r1 * r1), cb = g.cos_t / (r2 * r2);
  for (int c = 0; c < 3; ++c) {
    grad_a[c] = coeff[0] * (b[c] * g.inv12 - ca * a[c]) + coeff[1] * a[c] - coeff[3] * g.d[c];
    grad_b[c] = coeff[0] * (a[c] * g.inv12 - cb * b[c]) + coeff[2] * b[c] + coeff[3] * g.d[c];
  }
}

// Directional derivative basis of one pair along tangents ta, tb of a and b:
// q = {dcos, (a . ta), (b . tb), d . (tb - ta)}, so that the term changes by coeff . q.
template <typename T>
NNPKIT_HD void angular_tangent_basis(const T* a, T r1, const T* b, T r2, const TripletGeometry<T>& g, const T* ta,
                                     const T* tb, T* q) {
  const T a_ta = a[0] * ta[0] + a[1] * ta[1] + a[2] * ta[2];
  const T b_tb = b[0] * tb[0] + b[1] * tb[1] + b[2] * tb[2];
  const T b_ta = b[0] * ta[0] + b[1] * ta[1] + b[2] * ta[2];
  const T a_tb = a[0] * tb[0] + a[1] * tb[1] + a[2] * tb[2];
  q[0] = (b_ta + a_tb) * g.inv12 - g.cos_t * (a_ta / (r1 * r1) + b_tb / (r2 * r2));
  q[1] = a_ta;
  q[2] = b_tb;
  q[3] = g.d[0] * (tb[0] - ta[0]) + g.d[1] * (tb[1] - ta[1]) + g.d[2] * (tb[2] - ta[2]);
}

// One angular term and, when grad_a != nullptr, its gradients.
template <typename T>
NNPKIT_HD T angular_term_from_factors(int type, const T* a, T r1, T R1, T dR1, const T* b, T r2, T R2, T dR2,
                                      const SymmetryFunctionParams<T>& p, T* grad_a, T* grad_b) {
  const TripletGeometry<T> g = triplet_geometry<T>(a, r1, b, r2);
  T coeff[4];
  const T value = angular_coefficients<T>(type, g, r1, R1, dR1, r2, R2, dR2, p, grad_a != nullptr ? coeff : nullptr);
  if (grad_a != nullptr) angular_gradients<T>(a, r1, b, r2, g, coeff, grad_a, grad_b);
  return value;
}

// The same term computing the edge factors itself (CUDA kernels, references).
template <typename T>
NNPKIT_HD T any_angular_term(int type, const T* a, T r1, const T* b, T r2, const SymmetryFunctionParams<T>& p,
                             T* grad_a, T* grad_b) {
  T dR1, dR2;
  const T R1 = edge_factor<T>(type, r1, p, dR1);
  const T R2 = edge_factor<T>(type, r2, p, dR2);
  return angular_term_from_factors<T>(type, a, r1, R1, dR1, b, r2, R2, dR2, p, grad_a, grad_b);
}

}  // namespace nnpkit
