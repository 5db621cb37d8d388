// Wide Gaussian angular functions (n2p2 type 9) of integer zeta as products of
// per-neighbour moments: O(n) per centre instead of O(n^2) neighbour pairs.
//
// With u the unit edge vectors, (1 + lambda u_j.u_k)^zeta expands into
// sum_{p <= zeta} C(zeta, p) lambda^p sum_{|b| = p} (p! / b!) u_j^b u_k^b over the
// monomials u^b = ux^b1 uy^b2 uz^b3, so a block's sum over pairs (j in A, k in B)
// of F_j F_k (1 + lambda cos)^zeta is sum_b w_b M^A_b M^B_b with the moments
// M^A_b = sum_{j in A} F_j u_j^b (F: the function's radial factor). When A = B the
// pairs j < k are half of the full sum less its diagonal (u_j.u_j = 1), that is
// (sum_b w_b M_b^2 - (1 + lambda)^zeta sum_j F_j^2) / 2. The expansion holds for
// |lambda| <= 1, where 1 + lambda cos is never negative (the pair code's clamp to
// zero never acts). Gradients go through the moments: with adjoints L_b = dG/dM_b
// and P(u) = sum_b L_b u^b, neighbour j's edge gradient is
// F'_j P(u_j) u_j + (F_j / r_j) (grad P - (u_j . grad P) u_j).
//
// Moments, adjoints and the polynomials are summed in float64 for either dtype:
// the binomial expansion cancels (lambda = -1) where the pair sum does not.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/vector_lanes.h"

namespace nnpkit {

// Functions of zeta up to this degree use moments (C(d + 3, 3) monomials: 165 at
// 8); a higher zeta (n2p2 potentials use 16 at times) stays with the pairs.
constexpr int kMaxMomentDegree = 8;

constexpr int monomial_count(int degree) { return (degree + 1) * (degree + 2) * (degree + 3) / 6; }

// Monomials of three variables up to kMaxMomentDegree, by degree: index 0 is 1,
// then x, y, z, then degree 2, ... Monomial i (> 0) is monomial parent[i] times
// variable axis[i]; raised[c][j] is the index of u^b u_c for monomials j below
// the highest degree.
struct MonomialTable {
  std::vector<std::array<int, 3>> exponents;
  std::vector<int> parent, axis;
  std::array<std::vector<int>, 3> raised;

  MonomialTable() {
    for (int d = 0; d <= kMaxMomentDegree; ++d) {
      for (int a = d; a >= 0; --a) {
        for (int b = d - a; b >= 0; --b) exponents.push_back({a, b, d - a - b});
      }
    }
    const int n = static_cast<int>(exponents.size());
    parent.assign(n, -1);
    axis.assign(n, -1);
    for (int i = 1; i < n; ++i) {
      // The first variable present: monomial i is u^b / u_c times u_c.
      const int c = exponents[i][0] > 0 ? 0 : (exponents[i][1] > 0 ? 1 : 2);
      std::array<int, 3> e = exponents[i];
      --e[c];
      parent[i] = index(e);
      axis[i] = c;
    }
    for (int c = 0; c < 3; ++c) {
      for (int j = 0; j < monomial_count(kMaxMomentDegree - 1); ++j) {
        std::array<int, 3> e = exponents[j];
        ++e[c];
        raised[c].push_back(index(e));
      }
    }
  }

  int index(const std::array<int, 3>& e) const {
    for (size_t i = 0; i < exponents.size(); ++i) {
      if (exponents[i] == e) return static_cast<int>(i);
    }
    return -1;
  }

  static const MonomialTable& get() {
    static const MonomialTable table;
    return table;
  }
};

// The weights w_b of one function's expansion (|b| <= zeta): C(zeta, p) lambda^p p! / b!.
inline std::vector<double> moment_weights(int zeta, double lambda) {
  const MonomialTable& t = MonomialTable::get();
  const auto factorial = [](int n) {
    double f = 1.0;
    for (int i = 2; i <= n; ++i) f *= i;
    return f;
  };
  std::vector<double> w(monomial_count(zeta));
  for (size_t i = 0; i < w.size(); ++i) {
    const auto& e = t.exponents[i];
    const int p = e[0] + e[1] + e[2];
    double lambda_p = 1.0;
    for (int q = 0; q < p; ++q) lambda_p *= lambda;
    const double multinomial = factorial(p) / (factorial(e[0]) * factorial(e[1]) * factorial(e[2]));
    w[i] = factorial(zeta) / (factorial(p) * factorial(zeta - p)) * lambda_p * multinomial;
  }
  return w;
}

// mono[i * ld + k] = u_k^{b_i} for i < count and the n neighbours (ld >= n).
inline void evaluate_monomials(const double* ux, const double* uy, const double* uz, int64_t n, int count,
                               int64_t ld, double* mono) {
  const MonomialTable& t = MonomialTable::get();
  for (int64_t k = 0; k < n; ++k) mono[k] = 1.0;
  const double* u[3] = {ux, uy, uz};
  for (int i = 1; i < count; ++i) {
    const double* __restrict from = mono + t.parent[i] * ld;
    const double* __restrict by = u[t.axis[i]];
    double* __restrict to = mono + i * ld;
#pragma omp simd
    for (int64_t k = 0; k < n; ++k) to[k] = from[k] * by[k];
  }
}

// The derivative coefficients of P(u) = sum_i L_i u^{b_i} (monomials of degree
// <= d, lower_count those of degree < d): dP/du_c = sum_j dL[c * lower_count + j]
// u^{b_j}, where dL[c][j] = L_i (b_jc + 1) for u^{b_i} = u^{b_j} u_c (one i per j).
inline void polynomial_derivative(const double* L, int lower_count, double* dL) {
  const MonomialTable& t = MonomialTable::get();
  for (int c = 0; c < 3; ++c) {
    const int* raised = t.raised[c].data();
    double* d = dL + c * lower_count;
    for (int j = 0; j < lower_count; ++j) d[j] = L[raised[j]] * (t.exponents[j][c] + 1);
  }
}

// Edge gradients of neighbours k < n (one element's, one radial factor) for B
// seeds at once, from seed b's adjoints L[b] (count monomials), derivative
// coefficients dL[b] (3 x lower_count) and diagonal coefficient L0[b] (times
// F_k F'_k u_k): for each k, out(k) = a_k (D_k (P + L0 F_k)) + F_k / r_k (grad P -
// (u_k . grad P) u_k), with D = F'(r) / r and a = r u the edge vector. KV vectors
// of neighbours at a time: B x KV x 4 independent sums (one chain of multiply-adds
// per sum over the monomials would wait on its own latency). Reads whole vectors:
// arrays hold n rounded up to KV vectors (padding with F = D = 0).
// add(k, b, gx, gy, gz) receives each real neighbour's gradient of seed b.
template <int B, int KV, typename Add>
void moment_gradients(const double* const* L, const double* const* dL, const double* L0, int count, int lower_count,
                      const double* mono, int64_t ld, int64_t n, const double* F, const double* D, const double* ux,
                      const double* uy, const double* uz, const double* r, const double* inv_r, Add&& add) {
  using V = Lanes<double, kWideBytes>;
  constexpr int64_t kLanes = sizeof(V) / sizeof(double);
  for (int64_t k0 = 0; k0 < n; k0 += KV * kLanes) {
    V P[KV][B], gx[KV][B], gy[KV][B], gz[KV][B];
    for (int v = 0; v < KV; ++v) {
      const V f = load_lanes<double, kWideBytes>(F + k0 + v * kLanes);
      for (int b = 0; b < B; ++b) {
        P[v][b] = L0[b] * f;
        gx[v][b] = gy[v][b] = gz[v][b] = V();
      }
    }
    int i = 0;
    for (; i < lower_count; ++i) {
      for (int v = 0; v < KV; ++v) {
        const V m = load_lanes<double, kWideBytes>(mono + i * ld + k0 + v * kLanes);
        for (int b = 0; b < B; ++b) {
          P[v][b] += L[b][i] * m;
          gx[v][b] += dL[b][i] * m;
          gy[v][b] += dL[b][lower_count + i] * m;
          gz[v][b] += dL[b][2 * lower_count + i] * m;
        }
      }
    }
    for (; i < count; ++i) {
      for (int v = 0; v < KV; ++v) {
        const V m = load_lanes<double, kWideBytes>(mono + i * ld + k0 + v * kLanes);
        for (int b = 0; b < B; ++b) P[v][b] += L[b][i] * m;
      }
    }
    for (int v = 0; v < KV; ++v) {
      const int64_t k = k0 + v * kLanes;
      if (k >= n) break;
      const V vx = load_lanes<double, kWideBytes>(ux + k), vy = load_lanes<double, kWideBytes>(uy + k),
              vz = load_lanes<double, kWideBytes>(uz + k);
      const V dr = load_lanes<double, kWideBytes>(D + k) * load_lanes<double, kWideBytes>(r + k);  // F'
      const V t = load_lanes<double, kWideBytes>(F + k) * load_lanes<double, kWideBytes>(inv_r + k);
      const int64_t lanes = n - k < kLanes ? n - k : kLanes;
      for (int b = 0; b < B; ++b) {
        const V radial = dr * P[v][b];
        const V s = vx * gx[v][b] + vy * gy[v][b] + vz * gz[v][b];
        const V ox = radial * vx + t * (gx[v][b] - s * vx);
        const V oy = radial * vy + t * (gy[v][b] - s * vy);
        const V oz = radial * vz + t * (gz[v][b] - s * vz);
        for (int64_t l = 0; l < lanes; ++l) add(k + l, b, ox[l], oy[l], oz[l]);
      }
    }
  }
}

}  // namespace nnpkit
