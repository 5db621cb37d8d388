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

// G2 term of one neighbour: exp(-eta (r - rs)^2) fc(r). Returns the value and
// writes d(term)/d(edge vector) to grad.
template <typename T>
NNPKIT_HD T radial_term(const T* a, T r, const SymmetryFunctionParams<T>& p, T* grad) {
  T fc, dfc;
  cutoff_value_and_derivative<T>(p.cutoff_type, r, p.rc, p.alpha, fc, dfc);
  const T dr = r - p.rs;
  const T g = std::exp(-p.eta * dr * dr);
  const T value = p.weight * g * fc;
  if (grad != nullptr) {
    const T dvalue_dr = p.weight * g * (dfc - T(2) * p.eta * dr * fc) / r;
    grad[0] = dvalue_dr * a[0];
    grad[1] = dvalue_dr * a[1];
    grad[2] = dvalue_dr * a[2];
  }
  return value;
}

// Angular term of one neighbour pair (j, k) seen from centre i, with a = r_ij and
// b = r_ik (edge vectors x_j - x_i, x_k - x_i):
//   narrow (type 3): 2^(1-zeta) (1 + lambda cos)^zeta exp(-eta sum_{ij,ik,jk}(r - rs)^2) fc_ij fc_ik fc_jk
//   wide   (type 9): 2^(1-zeta) (1 + lambda cos)^zeta exp(-eta sum_{ij,ik}(r - rs)^2)    fc_ij fc_ik
// As in n2p2, the term is zero where 1 + lambda cos <= 0, and for type 3 where
// r_jk >= rc. Writes the gradients with respect to a and b when grad_a != nullptr.
template <typename T>
NNPKIT_HD T angular_term(int type, const T* a, T r1, const T* b, T r2, const SymmetryFunctionParams<T>& p,
                         T* grad_a, T* grad_b) {
  const bool narrow = is_narrow_type(type);
  const T d[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
  T r3 = T(0);
  if (narrow) {
    r3 = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    if (r3 >= p.rc) {
      if (grad_a != nullptr) {
        for (int c = 0; c < 3; ++c) grad_a[c] = grad_b[c] = T(0);
      }
      return T(0);
    }
  }
  const T inv12 = T(1) / (r1 * r2);
  const T cos_t = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) * inv12;
  const T plambda = T(1) + p.lambda * cos_t;
  if (plambda <= T(0)) {
    if (grad_a != nullptr) {
      for (int c = 0; c < 3; ++c) grad_a[c] = grad_b[c] = T(0);
    }
    return T(0);
  }
  const T norm = p.weight * std::pow(T(2), T(1) - p.zeta);
  const T pz1 = std::pow(plambda, p.zeta - T(1));
  const T angular = norm * pz1 * plambda;
  const T dangular_dcos = norm * p.zeta * p.lambda * pz1;

  T fc1, dfc1, fc2, dfc2, fc3 = T(1), dfc3 = T(0);
  cutoff_value_and_derivative<T>(p.cutoff_type, r1, p.rc, p.alpha, fc1, dfc1);
  cutoff_value_and_derivative<T>(p.cutoff_type, r2, p.rc, p.alpha, fc2, dfc2);
  const T s1 = r1 - p.rs, s2 = r2 - p.rs;
  T exponent = s1 * s1 + s2 * s2;
  T s3 = T(0);
  if (narrow) {
    cutoff_value_and_derivative<T>(p.cutoff_type, r3, p.rc, p.alpha, fc3, dfc3);
    s3 = r3 - p.rs;
    exponent += s3 * s3;
  }
  const T g = std::exp(-p.eta * exponent);
  const T radial = g * fc1 * fc2 * fc3;
  const T value = angular * radial;
  if (grad_a != nullptr) {
    const T two_eta = T(2) * p.eta;
    // d(radial)/dr for each of the three distances
    const T dR1 = g * (dfc1 - two_eta * s1 * fc1) * fc2 * fc3;
    const T dR2 = g * (dfc2 - two_eta * s2 * fc2) * fc1 * fc3;
    const T dR3 = narrow ? g * (dfc3 - two_eta * s3 * fc3) * fc1 * fc2 : T(0);
    const T cA = dangular_dcos * radial;
    const T inv_r1sq = T(1) / (r1 * r1), inv_r2sq = T(1) / (r2 * r2);
    const T k3 = narrow ? angular * dR3 / r3 : T(0);
    const T ka = angular * dR1 / r1;
    const T kb = angular * dR2 / r2;
    for (int c = 0; c < 3; ++c) {
      const T dcos_da = b[c] * inv12 - cos_t * a[c] * inv_r1sq;
      const T dcos_db = a[c] * inv12 - cos_t * b[c] * inv_r2sq;
      grad_a[c] = cA * dcos_da + ka * a[c] - k3 * d[c];
      grad_b[c] = cA * dcos_db + kb * b[c] + k3 * d[c];
    }
  }
  return value;
}

// Compact radial term (types 20, 23): weight * f(r) on rl < r < rc.
template <typename T>
NNPKIT_HD T compact_radial_term(const T* a, T r, const SymmetryFunctionParams<T>& p, T* grad) {
  if (!(r > p.rs && r < p.rc)) {
    if (grad != nullptr) grad[0] = grad[1] = grad[2] = T(0);
    return T(0);
  }
  T f, df;
  compact_value_and_derivative<T>(p.cutoff_type, p.asymmetric, r, p.rs, p.rc, f, df);
  if (grad != nullptr) {
    const T k = p.weight * df / r;
    grad[0] = k * a[0];
    grad[1] = k * a[1];
    grad[2] = k * a[2];
  }
  return p.weight * f;
}

// Compact angular term (types 21, 22, 24, 25) of the pair (j, k) seen from i:
//   weight * f_r(r_ij) f_r(r_ik) [f_r(r_jk) narrow] * f_a(theta_ijk)
// with f_r on (rl, rc) (asymmetric if requested) and f_a the symmetric compact
// function of the same core type on [angle_left, angle_right]. As in n2p2 the
// term is zero for collinear triplets (|cos| = 1) and, for the narrow form,
// unless max(rl, 0) < r_jk < rc.
template <typename T>
NNPKIT_HD T compact_angular_term(int type, const T* a, T r1, const T* b, T r2, const SymmetryFunctionParams<T>& p,
                                 T* grad_a, T* grad_b) {
  auto zero = [&]() {
    if (grad_a != nullptr) {
      for (int c = 0; c < 3; ++c) grad_a[c] = grad_b[c] = T(0);
    }
    return T(0);
  };
  if (!(r1 > p.rs && r1 < p.rc && r2 > p.rs && r2 < p.rc)) return zero();
  const bool narrow = is_narrow_type(type);
  const T d[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
  T r3 = T(0);
  if (narrow) {
    const T r3sq = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    const T rl_sq = p.rs > T(0) ? p.rs * p.rs : T(0);
    if (r3sq >= p.rc * p.rc || r3sq <= rl_sq) return zero();
    r3 = std::sqrt(r3sq);
  }
  const T inv12 = T(1) / (r1 * r2);
  const T cos_t = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) * inv12;
  if (cos_t <= T(-1) || cos_t >= T(1)) return zero();
  const T theta = std::acos(cos_t);
  if (theta < p.angle_left || theta > p.angle_right) return zero();
  T fa, dfa;
  compact_value_and_derivative<T>(p.cutoff_type, false, theta, p.angle_left, p.angle_right, fa, dfa);
  T f1, df1, f2, df2, f3 = T(1), df3 = T(0);
  compact_value_and_derivative<T>(p.cutoff_type, p.asymmetric, r1, p.rs, p.rc, f1, df1);
  compact_value_and_derivative<T>(p.cutoff_type, p.asymmetric, r2, p.rs, p.rc, f2, df2);
  if (narrow) compact_value_and_derivative<T>(p.cutoff_type, p.asymmetric, r3, p.rs, p.rc, f3, df3);
  const T radial = f1 * f2 * f3;
  const T angular = p.weight * fa;
  if (grad_a != nullptr) {
    // d(theta)/d(cos) = -1 / sin(theta)
    const T cA = -radial * p.weight * dfa / std::sqrt(T(1) - cos_t * cos_t);
    const T ka = angular * df1 * f2 * f3 / r1;
    const T kb = angular * f1 * df2 * f3 / r2;
    const T k3 = narrow ? angular * f1 * f2 * df3 / r3 : T(0);
    const T inv_r1sq = T(1) / (r1 * r1), inv_r2sq = T(1) / (r2 * r2);
    for (int c = 0; c < 3; ++c) {
      const T dcos_da = b[c] * inv12 - cos_t * a[c] * inv_r1sq;
      const T dcos_db = a[c] * inv12 - cos_t * b[c] * inv_r2sq;
      grad_a[c] = cA * dcos_da + ka * a[c] - k3 * d[c];
      grad_b[c] = cA * dcos_db + kb * b[c] + k3 * d[c];
    }
  }
  return angular * radial;
}

// One radial term of any radial type.
template <typename T>
NNPKIT_HD T any_radial_term(int type, const T* a, T r, const SymmetryFunctionParams<T>& p, T* grad) {
  return is_compact_type(type) ? compact_radial_term<T>(a, r, p, grad) : radial_term<T>(a, r, p, grad);
}

// One angular term of any angular type.
template <typename T>
NNPKIT_HD T any_angular_term(int type, const T* a, T r1, const T* b, T r2, const SymmetryFunctionParams<T>& p,
                             T* grad_a, T* grad_b) {
  return is_compact_type(type) ? compact_angular_term<T>(type, a, r1, b, r2, p, grad_a, grad_b)
                               : angular_term<T>(type, a, r1, b, r2, p, grad_a, grad_b);
}

}  // namespace nnpkit
