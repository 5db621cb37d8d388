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

// G2 term of one neighbour: exp(-eta (r - rs)^2) fc(r). Returns the value and
// writes d(term)/d(edge vector) to grad.
template <typename T>
NNPKIT_HD T radial_term(const T* a, T r, const SymmetryFunctionParams<T>& p, T* grad) {
  T fc, dfc;
  cutoff_value_and_derivative<T>(p.cutoff_type, r, p.rc, p.alpha, fc, dfc);
  const T dr = r - p.rs;
  const T g = std::exp(-p.eta * dr * dr);
  const T value = g * fc;
  if (grad != nullptr) {
    const T dvalue_dr = g * (dfc - T(2) * p.eta * dr * fc) / r;
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
  const bool narrow = (type == static_cast<int>(SymmetryFunctionType::AngularNarrow));
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
  const T norm = std::pow(T(2), T(1) - p.zeta);
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

}  // namespace nnpkit
