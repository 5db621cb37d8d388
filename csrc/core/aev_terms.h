// Per-pair and per-triplet terms of the ANI atomic environment vector (AEV),
// exactly as TorchANI 2.9 (and NeuroChem before it) defines them, with their
// derivatives with respect to the edge vectors. Written once for the CPU driver
// and CUDA kernels.
//
//   cutoff        fc(r)   = 0.5 cos(pi r / rc) + 0.5
//   radial  (k)   G_k     = 0.25 exp(-EtaR (r - ShfR_k)^2) fc(r)              (r < Rcr)
//   angular (k,l) G_kl    = 2 ((1 + cos(theta - ShfZ_l)) / 2)^Zeta
//                             exp(-EtaA ((r_a + r_b)/2 - ShfA_k)^2) fc(r_a) fc(r_b)   (r_a, r_b < Rca)
//   with theta = acos(0.95 cos(angle between a and b)), the 0.95 inherited from
//   NeuroChem. Angular column of (k, l) within a species-pair block: k * n_sections + l.
#pragma once

#include <cmath>

#include "core/host_device.h"
#if !defined(__CUDACC__)
#include "core/vector_math.h"
#endif

namespace nnpkit {

// exp and pow of the terms: on the CPU branch-free versions that vectorise over a
// neighbour's shifts and sections (std::exp and std::pow are calls per element,
// most of the AEV's cost), on a GPU the device library's.
#if defined(__CUDACC__)
#define NNPKIT_SIMD
template <typename T>
NNPKIT_HD T ani_exp(T x) { return exp(x); }
template <typename T>
NNPKIT_HD T ani_pow(T x, T y) { return pow(x, y); }
#else
#define NNPKIT_SIMD _Pragma("omp simd")
template <typename T>
inline T ani_exp(T x) { return vexp(x); }
template <typename T>
inline T ani_pow(T x, T y) { return vpow(x, y); }
#endif

// Fixed bounds let the per-triplet scratch arrays live on the stack (also on a GPU).
constexpr int kAniMaxRadialShifts = 64;
constexpr int kAniMaxAngularShifts = 32;
constexpr int kAniMaxSections = 32;

template <typename T>
struct AniRadialParams {
  T cutoff, eta;
  int n_shifts;
  const T* shifts;
};

template <typename T>
struct AniAngularParams {
  T cutoff, eta, zeta;
  // Zeta - 1 when Zeta is a whole number up to kAniMaxIntegerZeta (ANI's 32 is),
  // else -1: x^(Zeta-1) is then a few multiplications instead of a pow call.
  int zeta_minus_one_int;
  int n_shifts, n_sections;
  const T* shifts;
  const T* cos_sections;  // cos(ShfZ_l), sin(ShfZ_l), precomputed
  const T* sin_sections;
};

constexpr int kAniMaxIntegerZeta = 1024;

// x^n for n >= 0 by repeated squaring (within a few ulp of std::pow).
template <typename T>
NNPKIT_HD T ani_integer_power(T x, int n) {
  T result = T(1);
  while (n > 0) {
    if (n & 1) result *= x;
    x *= x;
    n >>= 1;
  }
  return result;
}

template <typename T>
NNPKIT_HD void ani_cosine_cutoff(T r, T rc, T& f, T& df) {
  const T k = T(3.14159265358979323846) / rc;
  f = T(0.5) * std::cos(r * k) + T(0.5);
  df = -T(0.5) * k * std::sin(r * k);
}

// Radial terms of one neighbour at distance r < cutoff: value[k] and, if
// dvalue_dr != nullptr, d value[k] / dr.
template <typename T>
NNPKIT_HD void ani_radial_terms(T r, const AniRadialParams<T>& p, T* value, T* dvalue_dr) {
  T fc, dfc;
  ani_cosine_cutoff<T>(r, p.cutoff, fc, dfc);
  NNPKIT_SIMD
  for (int k = 0; k < p.n_shifts; ++k) {
    const T d = r - p.shifts[k];
    const T g = T(0.25) * ani_exp<T>(-p.eta * d * d);
    value[k] = g * fc;
    if (dvalue_dr != nullptr) dvalue_dr[k] = g * (dfc - T(2) * p.eta * d * fc);
  }
}

// Everything one angular triplet (centre, a, b) needs, for values and derivatives:
// the radial factors R_k(r_mean) and dR_k/dr_mean, the angle factors A_l(c) and
// dA_l/dc of the plain cosine c = a.b / (r_a r_b), the cutoff product and its parts.
template <typename T>
struct AniTriplet {
  T radial[kAniMaxAngularShifts], dradial[kAniMaxAngularShifts];
  T angle[kAniMaxSections], dangle[kAniMaxSections];
  T fc_a, dfc_a, fc_b, dfc_b;
  T dcos_da[3], dcos_db[3];
};

// The factors of one triplet, each for one shift or section: the CPU driver
// evaluates them over all triplets of a centre at once (aev_pair_terms.h); a
// per-triplet driver (a GPU thread per triplet) loops over them the same way.

// R_k of the pair's mean distance and dR_k/d(mean).
template <typename T>
NNPKIT_HD void ani_mean_distance_factor(T mean, T shift, T eta, T& value, T& derivative) {
  const T d = mean - shift;
  value = ani_exp<T>(-eta * d * d);
  derivative = -T(2) * eta * d * value;
}

// (1 + cos(theta - z)) / 2 with cos(theta) = x (the 0.95-scaled cosine), sin(theta) = sin_theta.
template <typename T>
NNPKIT_HD T ani_half_cosine(T x, T sin_theta, T cos_z, T sin_z) {
  return T(0.5) * (T(1) + x * cos_z + sin_theta * sin_z);
}

// A_l = 2 half^Zeta from power = half^(Zeta-1), and dA_l/dc of the plain cosine c.
template <typename T>
NNPKIT_HD void ani_section_factor(T power, T half, T x_over_sin, T cos_z, T sin_z, T zeta, bool derivatives,
                                  T& value, T& derivative) {
  value = T(2) * power * half;
  if (derivatives) {
    // d(half)/dc = 0.5 * 0.95 (cos z - x sin z / sin(theta))
    const T dhalf = T(0.475) * (cos_z - x_over_sin * sin_z);
    derivative = T(2) * zeta * power * dhalf;
  }
}

// The cosine's derivatives with respect to the two edge vectors.
template <typename T>
NNPKIT_HD void ani_cosine_derivatives(const T* a, T ra, const T* b, T rb, T c, T inv_ab, T* dcos_da, T* dcos_db) {
  const T inv_a2 = T(1) / (ra * ra), inv_b2 = T(1) / (rb * rb);
  for (int c3 = 0; c3 < 3; ++c3) {
    dcos_da[c3] = b[c3] * inv_ab - c * a[c3] * inv_a2;
    dcos_db[c3] = a[c3] * inv_ab - c * b[c3] * inv_b2;
  }
}

// Jacobian-vector product: adds d term_kl along the tangents (ta, tb) to out[kl].
template <typename T>
NNPKIT_HD void ani_angular_jvp(const AniTriplet<T>& t, const T* a, T ra, const T* b, T rb,
                               const AniAngularParams<T>& p, const T* ta, const T* tb, T* out) {
  T dra = T(0), drb = T(0), dcos = T(0);
  for (int c = 0; c < 3; ++c) {
    dra += a[c] * ta[c];
    drb += b[c] * tb[c];
    dcos += t.dcos_da[c] * ta[c] + t.dcos_db[c] * tb[c];
  }
  dra /= ra;
  drb /= rb;
  const T f = t.fc_a * t.fc_b;
  const T df = t.dfc_a * t.fc_b * dra + t.fc_a * t.dfc_b * drb;
  const T dmean = T(0.5) * (dra + drb);
  for (int k = 0; k < p.n_shifts; ++k) {
    const T rk = t.radial[k];
    const T radial_part = t.dradial[k] * dmean * f + rk * df;  // d(R_k f) along the tangent
    const T angle_part = rk * f * dcos;
    T* row = out + k * p.n_sections;
    for (int l = 0; l < p.n_sections; ++l) row[l] += radial_part * t.angle[l] + angle_part * t.dangle[l];
  }
}

// Index of the unordered species pair (i, j) in TorchANI's order: the upper
// triangle of an n x n matrix read row by row, (0,0), (0,1), ..., (1,1), ...
NNPKIT_HD int ani_species_pair_index(int i, int j, int n_species) {
  if (i > j) {
    const int s = i;
    i = j;
    j = s;
  }
  return i * n_species - i * (i - 1) / 2 + (j - i);
}

}  // namespace nnpkit
