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
};

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

// Angular term of one neighbour pair (j, k) seen from centre i, with a = r_ij and
// b = r_ik (edge vectors x_j - x_i, x_k - x_i), from the per-edge factors R1, R2:
//   Gaussian (3, 9, 13): weight 2^(1-zeta) (1 + lambda cos)^zeta R1 R2 [R(r_jk) narrow]
//     zero where 1 + lambda cos <= 0 and, narrow, where r_jk >= rc;
//   compact (21, 22, 24, 25): weight f_a(theta) R1 R2 [R(r_jk) narrow], f_a the
//     symmetric compact function of the same core type on [angle_left, angle_right];
//     zero for collinear triplets and, narrow, unless max(rl, 0) < r_jk < rc.
// Writes the gradients with respect to a and b when grad_a != nullptr.
template <typename T>
NNPKIT_HD T angular_term_from_factors(int type, const T* a, T r1, T R1, T dR1, const T* b, T r2, T R2, T dR2,
                                      const SymmetryFunctionParams<T>& p, T* grad_a, T* grad_b) {
  auto zero = [&]() {
    if (grad_a != nullptr) {
      for (int c = 0; c < 3; ++c) grad_a[c] = grad_b[c] = T(0);
    }
    return T(0);
  };
  const bool narrow = is_narrow_type(type);
  const bool compact = is_compact_type(type);
  const T d[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
  T R3 = T(1), dR3 = T(0), r3 = T(1);
  if (narrow) {
    const T r3sq = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    if (r3sq >= p.rc * p.rc) return zero();
    if (compact && r3sq <= (p.rs > T(0) ? p.rs * p.rs : T(0))) return zero();
    r3 = std::sqrt(r3sq);
    R3 = edge_factor<T>(type, r3, p, dR3);
  }
  const T inv12 = T(1) / (r1 * r2);
  const T cos_t = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) * inv12;
  T angular, dangular_dcos;
  if (compact) {
    if (cos_t <= T(-1) || cos_t >= T(1)) return zero();
    const T theta = std::acos(cos_t);
    if (theta < p.angle_left || theta > p.angle_right) return zero();
    T fa, dfa;
    compact_value_and_derivative<T>(p.cutoff_type, false, theta, p.angle_left, p.angle_right, fa, dfa);
    angular = p.weight * fa;
    dangular_dcos = -p.weight * dfa / std::sqrt(T(1) - cos_t * cos_t);  // dtheta/dcos = -1/sin
  } else {
    const T plambda = T(1) + p.lambda * cos_t;
    if (plambda <= T(0)) return zero();
    const T norm = p.weight * power<T>(T(2), T(1) - p.zeta);
    const T pz1 = power<T>(plambda, p.zeta - T(1));
    angular = norm * pz1 * plambda;
    dangular_dcos = norm * p.zeta * p.lambda * pz1;
  }
  const T radial = R1 * R2 * R3;
  if (grad_a != nullptr) {
    const T cA = dangular_dcos * radial;
    const T ka = angular * dR1 * R2 * R3 / r1;
    const T kb = angular * dR2 * R1 * R3 / r2;
    const T k3 = narrow ? angular * dR3 * R1 * R2 / r3 : T(0);
    const T ca = cos_t / (r1 * r1), cb = cos_t / (r2 * r2);
    for (int c = 0; c < 3; ++c) {
      grad_a[c] = cA * (b[c] * inv12 - ca * a[c]) + ka * a[c] - k3 * d[c];
      grad_b[c] = cA * (a[c] * inv12 - cb * b[c]) + kb * b[c] + k3 * d[c];
    }
  }
  return angular * radial;
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
