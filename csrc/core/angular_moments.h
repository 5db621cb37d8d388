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
// The gradient needs P on the unit sphere only, where any polynomial that agrees
// with P there gives the same tangential gradient: P is rewritten with
// uz^2 = 1 - ux^2 - uy^2 until no monomial holds uz more than once ((d + 1)^2
// monomials at degree d instead of C(d + 3, 3): 25 against 35 at 4, 81 against
// 165 at 8), and its derivatives have as few (a third of the multiply-adds at 8).
//
// Moments, adjoints and the polynomials are summed in float64 for either dtype:
// the binomial expansion cancels (lambda = -1) where the pair sum does not.
#pragma once

#include <algorithm>
#include <array>
#include <type_traits>
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
// variable axis[i].
struct MonomialTable {
  std::vector<std::array<int, 3>> exponents;
  std::vector<int> parent, axis;

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

// The monomials of degree <= d with uz's exponent at most 1, a basis of the
// polynomials on the unit sphere, in the order the gradients read them: degree < d
// without uz (n_z0 of them), degree < d with uz once (up to n_lower), degree d (up
// to size()). rows[s] is basis entry s's index in MonomialTable. A polynomial
// sum_i L_i u^{b_i} over MonomialTable's first monomial_count(d) monomials equals,
// on the sphere, sum_s reduce(L)_s u^{rows[s]}.
struct SphereBasis {
  int degree = 0, n_z0 = 0, n_lower = 0;
  std::vector<int> rows;
  // reduce's folds, uz's highest powers first: the coefficient of monomial
  // folds[f][0] = u^(a, b, c), c >= 2, is added to that of folds[f][1] = u^(a, b, c - 2)
  // and subtracted from those of u^(a + 2, b, c - 2) and u^(a, b + 2, c - 2).
  std::vector<std::array<int, 4>> folds;
  // Derivatives, for lower entries j: d/dux of the entry raised by ux is
  // (a_j + 1) u^{rows[j]}; likewise uy; d/duz of entry j < n_z0 raised by uz is u^{rows[j]}.
  std::vector<int> raised_x, raised_y, raised_z;
  std::vector<double> factor_x, factor_y;

  int size() const { return static_cast<int>(rows.size()); }

  explicit SphereBasis(int d = 0) : degree(d) {
    const MonomialTable& t = MonomialTable::get();
    std::array<std::array<std::array<int, 2>, kMaxMomentDegree + 1>, kMaxMomentDegree + 1> position{};
    for (auto& plane : position) {
      for (auto& line : plane) line = {-1, -1};
    }
    const auto place = [&](int a, int b, int c) {
      position[a][b][c] = static_cast<int>(rows.size());
      rows.push_back(t.index({a, b, c}));
    };
    for (int p = 0; p < d; ++p) {
      for (int a = p; a >= 0; --a) place(a, p - a, 0);
    }
    n_z0 = size();
    for (int p = 1; p < d; ++p) {
      for (int a = p - 1; a >= 0; --a) place(a, p - 1 - a, 1);
    }
    n_lower = size();
    for (int a = d; a >= 0; --a) place(a, d - a, 0);
    for (int a = d - 1; a >= 0 && d >= 1; --a) place(a, d - 1 - a, 1);
    // uz^c = uz^(c - 2) (1 - ux^2 - uy^2) on the sphere, until c <= 1.
    for (int c = d; c >= 2; --c) {
      for (int a = d - c; a >= 0; --a) {
        for (int b = d - c - a; b >= 0; --b) {
          folds.push_back({t.index({a, b, c}), t.index({a, b, c - 2}), t.index({a + 2, b, c - 2}),
                           t.index({a, b + 2, c - 2})});
        }
      }
    }
    for (int j = 0; j < n_lower; ++j) {
      const auto& e = t.exponents[rows[j]];
      raised_x.push_back(position[e[0] + 1][e[1]][e[2]]);
      raised_y.push_back(position[e[0]][e[1] + 1][e[2]]);
      factor_x.push_back(e[0] + 1);
      factor_y.push_back(e[1] + 1);
      if (j < n_z0) raised_z.push_back(position[e[0]][e[1]][1]);
    }
  }

  // out[s] (size()) = the coefficients on the sphere of P = sum_i L[i] u^{b_i}
  // (i < monomial_count(degree)); L is overwritten by the folds.
  // V: double, or a vector of several seeds' coefficients (the same folds per lane).
  template <typename V>
  void reduce(V* L, V* out) const {
    for (const auto& f : folds) {
      const V v = L[f[0]];
      L[f[1]] += v;
      L[f[2]] -= v;
      L[f[3]] -= v;
    }
    for (int s = 0; s < size(); ++s) out[s] = L[rows[s]];
  }

  // The derivative coefficients of P = sum_s S[s] u^{rows[s]}: dP/dux = sum_{j <
  // n_lower} dS[j] u^{rows[j]}, dP/duy with dS[n_lower + j], dP/duz = sum_{j < n_z0}
  // dS[2 n_lower + j] u^{rows[j]} (derivative_size() entries).
  int derivative_size() const { return 2 * n_lower + n_z0; }
  template <typename V>
  void derivative(const V* S, V* dS) const {
    for (int j = 0; j < n_lower; ++j) {
      dS[j] = S[raised_x[j]] * factor_x[j];
      dS[n_lower + j] = S[raised_y[j]] * factor_y[j];
    }
    for (int j = 0; j < n_z0; ++j) dS[2 * n_lower + j] = S[raised_z[j]];
  }

  static const SphereBasis& of_degree(int d) {
    static const std::array<SphereBasis, kMaxMomentDegree + 1> bases = [] {
      std::array<SphereBasis, kMaxMomentDegree + 1> b;
      for (int k = 0; k <= kMaxMomentDegree; ++k) b[k] = SphereBasis(k);
      return b;
    }();
    return bases[d];
  }
};

// The order in which both gradient kernels read the basis, so that their sums agree:
// the monomials without uz (P and the three derivative sums), then those with uz^1
// (no d/duz term) side by side with the top degree's (P only, summed into a second
// P2: on their own, their one or two chains of multiply-adds waited on the latency),
// then the top-degree monomials left over (degrees below 3) by top(it).
// accumulate(with_xy, with_z, with_top, begin, end, top_begin) takes true/false_type flags.
template <typename Accumulate, typename Top>
void for_sphere_basis_ranges(const SphereBasis& basis, Accumulate&& accumulate, Top&& top) {
  const std::true_type yes;
  const std::false_type no;
  const int n_z0 = basis.n_z0, n_lower = basis.n_lower, count = basis.size();
  const int n_pair = std::min(n_lower - n_z0, count - n_lower);
  accumulate(yes, yes, no, 0, n_z0, 0);
  accumulate(yes, no, yes, n_z0, n_z0 + n_pair, n_lower);
  accumulate(yes, no, no, n_z0 + n_pair, n_lower, 0);
  for (int it = n_lower + n_pair; it < count; ++it) top(it);
}

// Edge gradients of neighbours k < n (one element's, one radial factor) for B
// seeds at once, from seed b's coefficients on the sphere S[b] (basis.size()),
// their derivative coefficients dS[b] (basis.derivative()) and diagonal
// coefficient L0[b] (times F_k F'_k u_k): for each k, out(k) = a_k (D_k (P + L0
// F_k)) + F_k / r_k (grad P - (u_k . grad P) u_k), with D = F'(r) / r and a = r u the
// edge vector. KV vectors of neighbours at a time: B x KV x 4 independent sums (one
// chain of multiply-adds per sum over the monomials would wait on its own latency).
// Reads whole vectors: arrays hold n rounded up to KV vectors (padding with F = D = 0).
// add(k, b, gx, gy, gz) receives each real neighbour's gradient of seed b.
template <int B, int KV, typename Add>
void moment_gradients(const SphereBasis& basis, const double* const* S, const double* const* dS, const double* L0,
                      const double* mono, int64_t ld, int64_t n, const double* F, const double* D, const double* ux,
                      const double* uy, const double* uz, const double* r, const double* inv_r, Add&& add) {
  using V = Lanes<double, kWideBytes>;
  constexpr int64_t kLanes = sizeof(V) / sizeof(double);
  const int n_lower = basis.n_lower;
  const int* rows = basis.rows.data();
  for (int64_t k0 = 0; k0 < n; k0 += KV * kLanes) {
    V P[KV][B], gx[KV][B], gy[KV][B], gz[KV][B];
    for (int v = 0; v < KV; ++v) {
      const V f = load_lanes<double, kWideBytes>(F + k0 + v * kLanes);
      for (int b = 0; b < B; ++b) {
        P[v][b] = L0[b] * f;
        gx[v][b] = gy[v][b] = gz[v][b] = V();
      }
    }
    // The basis in for_sphere_basis_ranges' order; the top degree sums into P2.
    V P2[KV][B];
    for (int v = 0; v < KV; ++v) {
      for (int b = 0; b < B; ++b) P2[v][b] = V();
    }
    const auto accumulate = [&](auto with_xy, auto with_z, auto with_top, int begin, int end, int top) {
      for (int i = begin, it = top; i < end; ++i, ++it) {
        const double* m_row = mono + rows[i] * ld + k0;
        const double* t_row = decltype(with_top)::value ? mono + rows[it] * ld + k0 : nullptr;
        for (int v = 0; v < KV; ++v) {
          V m = load_lanes<double, kWideBytes>(m_row + v * kLanes);
          keep_in_register(m);  // read once for its B x 4 multiply-adds
          V mt = V();
          if constexpr (decltype(with_top)::value) mt = load_lanes<double, kWideBytes>(t_row + v * kLanes);
          for (int b = 0; b < B; ++b) {
            P[v][b] += S[b][i] * m;
            if constexpr (decltype(with_xy)::value) {
              gx[v][b] += dS[b][i] * m;
              gy[v][b] += dS[b][n_lower + i] * m;
            }
            if constexpr (decltype(with_z)::value) gz[v][b] += dS[b][2 * n_lower + i] * m;
            if constexpr (decltype(with_top)::value) P2[v][b] += S[b][it] * mt;
          }
        }
      }
    };
    for_sphere_basis_ranges(basis, accumulate, [&](int it) {
      const double* t_row = mono + rows[it] * ld + k0;
      for (int v = 0; v < KV; ++v) {
        const V mt = load_lanes<double, kWideBytes>(t_row + v * kLanes);
        for (int b = 0; b < B; ++b) P2[v][b] += S[b][it] * mt;
      }
    });
    for (int v = 0; v < KV; ++v) {
      for (int b = 0; b < B; ++b) P[v][b] += P2[v][b];
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

// moment_gradients for the seeds of a committee block, one seed per lane of a
// 4-double vector: S[i] (basis.size()) and dS[i] (basis.derivative_size()) hold
// the lanes' coefficients, L0 their diagonal ones. The sums per lane are those of
// moment_gradients, in the same order (the same numbers); here each monomial is
// read once for four seeds, and the coefficients come in whole vectors. K
// neighbours at a time: 4 K independent sums plus four coefficient vectors fit 16
// registers at K = 2. add(k, gx, gy, gz) receives each neighbour's gradients, lane b
// that of seed b.
template <typename Add>
void moment_gradients_of_seed_lanes(const SphereBasis& basis, const Lanes<double>* S, const Lanes<double>* dS,
                                    const Lanes<double>& L0, const double* mono, int64_t ld, int64_t n,
                                    const double* F, const double* D, const double* ux, const double* uy,
                                    const double* uz, const double* r, const double* inv_r, Add&& add) {
  using V = Lanes<double>;
  constexpr int K = 2;
  const int n_lower = basis.n_lower;
  const int* rows = basis.rows.data();
  for (int64_t k0 = 0; k0 < n; k0 += K) {
    V P[K], gx[K], gy[K], gz[K];
    for (int v = 0; v < K; ++v) {
      P[v] = L0 * F[k0 + v];  // F is zero past n
      gx[v] = gy[v] = gz[v] = V();
    }
    // The ranges and sums of moment_gradients (P2: the top degree beside the uz^1 monomials).
    V P2[K];
    for (int v = 0; v < K; ++v) P2[v] = V();
    const auto accumulate = [&](auto with_xy, auto with_z, auto with_top, int begin, int end, int top) {
      for (int i = begin, it = top; i < end; ++i, ++it) {
        const double* m_row = mono + rows[i] * ld + k0;
        const double* t_row = decltype(with_top)::value ? mono + rows[it] * ld + k0 : nullptr;
        V s = S[i];
        V sx = V(), sy = V(), sz = V(), st = V();
        if constexpr (decltype(with_xy)::value) {
          sx = dS[i];
          sy = dS[n_lower + i];
        }
        if constexpr (decltype(with_z)::value) sz = dS[2 * n_lower + i];
        if constexpr (decltype(with_top)::value) st = S[it];
        // Each coefficient loaded once for the K neighbours (as memory operands of
        // the multiply-adds, once per neighbour: 10 loads per 8 multiply-adds, 6 now).
        keep_in_register(s);
        if constexpr (decltype(with_xy)::value) {
          keep_in_register(sx);
          keep_in_register(sy);
        }
        if constexpr (decltype(with_z)::value) keep_in_register(sz);
        if constexpr (decltype(with_top)::value) keep_in_register(st);
        for (int v = 0; v < K; ++v) {
          const double m = m_row[v];
          P[v] += s * m;
          if constexpr (decltype(with_xy)::value) {
            gx[v] += sx * m;
            gy[v] += sy * m;
          }
          if constexpr (decltype(with_z)::value) gz[v] += sz * m;
          if constexpr (decltype(with_top)::value) P2[v] += st * t_row[v];
        }
      }
    };
    for_sphere_basis_ranges(basis, accumulate, [&](int it) {
      const double* t_row = mono + rows[it] * ld + k0;
      for (int v = 0; v < K; ++v) P2[v] += S[it] * t_row[v];
    });
    for (int v = 0; v < K; ++v) P[v] += P2[v];
    for (int v = 0; v < K && k0 + v < n; ++v) {
      const int64_t k = k0 + v;
      const double vx = ux[k], vy = uy[k], vz = uz[k];
      const double dr = D[k] * r[k];  // F'
      const double t = F[k] * inv_r[k];
      const V radial = dr * P[v];
      const V s = vx * gx[v] + vy * gy[v] + vz * gz[v];
      add(k, radial * vx + t * (gx[v] - s * vx), radial * vy + t * (gy[v] - s * vy),
          radial * vz + t * (gz[v] - s * vz));
    }
  }
}

}  // namespace nnpkit
