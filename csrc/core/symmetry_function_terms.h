// Per-pair and per-triplet terms of the Behler-Parrinello symmetry functions,
// with their gradients with respect to the edge vectors, exactly as n2p2 defines
// them (SymFncExpRad = type 2, SymFncExpAngn = type 3, SymFncExpAngw = type 9).
// Written once for the CPU driver and the CUDA kernels.
#pragma once

#include <cmath>

#include "core/cutoff_functions.h"
#include "core/host_device.h"

namespace nnpkit {

// n2p2 symmetry-function type numbers.
enum class SymmetryFunctionType : int { Radial = 2, AngularNarrow = 3, AngularWide = 9 };

template <typename T>
struct SymmetryFunctionParams {
  T eta, rs, rc, alpha, zeta, lambda;
  int cutoff_type;
};

// Radial factor of one distance: R = exp(-eta (r - rs)^2) fc(r), with dR/dr.
// It is the G2 term itself and the per-edge factor of the angular terms.
template <typename T>
NNPKIT_HD T radial_factor(T r, const SymmetryFunctionParams<T>& p, T& dR_dr) {
  T fc, dfc;
  cutoff_value_and_derivative<T>(p.cutoff_type, r, p.rc, p.alpha, fc, dfc);
  const T dr = r - p.rs;
  const T g = std::exp(-p.eta * dr * dr);
  dR_dr = g * (dfc - T(2) * p.eta * dr * fc);
  return g * fc;
}

// G2 term of one neighbour: exp(-eta (r - rs)^2) fc(r). Returns the value and
// writes d(term)/d(edge vector) to grad when grad != nullptr.
template <typename T>
NNPKIT_HD T radial_term(const T* a, T r, const SymmetryFunctionParams<T>& p, T* grad) {
  T dR;
  const T value = radial_factor<T>(r, p, dR);
  if (grad != nullptr) {
    const T k = dR / r;
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
// b = r_ik (edge vectors x_j - x_i, x_k - x_i):
//   narrow (type 3): 2^(1-zeta) (1 + lambda cos)^zeta exp(-eta sum_{ij,ik,jk}(r - rs)^2) fc_ij fc_ik fc_jk
//   wide   (type 9): 2^(1-zeta) (1 + lambda cos)^zeta exp(-eta sum_{ij,ik}(r - rs)^2)    fc_ij fc_ik
// As in n2p2, the term is zero where 1 + lambda cos <= 0, and for type 3 where
// r_jk >= rc. R1, R2 (and derivatives) are the radial factors of r1 and r2, which
// callers may cache per edge. Writes the gradients with respect to a and b when
// grad_a != nullptr.
template <typename T>
NNPKIT_HD T angular_term_from_factors(int type, const T* a, T r1, T R1, T dR1, const T* b, T r2, T R2, T dR2,
                                      const SymmetryFunctionParams<T>& p, T* grad_a, T* grad_b) {
  const bool narrow = (type == static_cast<int>(SymmetryFunctionType::AngularNarrow));
  const T d[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
  T R3 = T(1), dR3 = T(0), r3 = T(1);
  if (narrow) {
    r3 = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    if (r3 >= p.rc) R3 = T(0);
    else R3 = radial_factor<T>(r3, p, dR3);
  }
  const T inv12 = T(1) / (r1 * r2);
  const T cos_t = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) * inv12;
  const T plambda = T(1) + p.lambda * cos_t;
  if (plambda <= T(0) || R3 == T(0)) {
    if (grad_a != nullptr) {
      for (int c = 0; c < 3; ++c) grad_a[c] = grad_b[c] = T(0);
    }
    return T(0);
  }
  const T norm = power<T>(T(2), T(1) - p.zeta);
  const T pz1 = power<T>(plambda, p.zeta - T(1));
  const T angular = norm * pz1 * plambda;
  const T radial = R1 * R2 * R3;
  const T value = angular * radial;
  if (grad_a != nullptr) {
    const T cA = norm * p.zeta * p.lambda * pz1 * radial;  // d(angular)/dcos * radial
    const T ka = angular * dR1 * R2 * R3 / r1;
    const T kb = angular * dR2 * R1 * R3 / r2;
    const T k3 = narrow ? angular * dR3 * R1 * R2 / r3 : T(0);
    const T ca = cos_t / (r1 * r1), cb = cos_t / (r2 * r2);
    for (int c = 0; c < 3; ++c) {
      grad_a[c] = cA * (b[c] * inv12 - ca * a[c]) + ka * a[c] - k3 * d[c];
      grad_b[c] = cA * (a[c] * inv12 - cb * b[c]) + kb * b[c] + k3 * d[c];
    }
  }
  return value;
}

// The same term computing the edge factors itself (CUDA kernels, references).
template <typename T>
NNPKIT_HD T angular_term(int type, const T* a, T r1, const T* b, T r2, const SymmetryFunctionParams<T>& p,
                         T* grad_a, T* grad_b) {
  T dR1, dR2;
  const T R1 = radial_factor<T>(r1, p, dR1);
  const T R2 = radial_factor<T>(r2, p, dR2);
  return angular_term_from_factors<T>(type, a, r1, R1, dR1, b, r2, R2, dR2, p, grad_a, grad_b);
}

}  // namespace nnpkit
