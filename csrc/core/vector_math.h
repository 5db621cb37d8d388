// Branch-free elementary functions that the compiler can vectorise inside
// `#pragma omp simd` loops (std::exp and std::tanh are library calls it cannot).
// Accurate to about 1 ulp in double precision over the ranges descriptors use.
#pragma once

#include <cstdint>
#include <cstring>

namespace nnpkit {

// exp(x) for double: x = n ln2 + r with |r| <= ln2/2, exp(r) by a polynomial,
// times 2^n built in the exponent bits. Returns 0 below -708 (where exp
// underflows to subnormals); clamped at 708, far beyond the arguments used here.
inline double vexp(double x) {
  const double log2e = 1.4426950408889634;
  const double ln2_hi = 6.93147180369123816490e-01;
  const double ln2_lo = 1.90821492927058770002e-10;
  const double shifter = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const double xc = x < -708.0 ? -708.0 : (x > 708.0 ? 708.0 : x);
  const double shifted = xc * log2e + shifter;
  const double n = shifted - shifter;
  const double r = (xc - n * ln2_hi) - n * ln2_lo;
  // exp(r) by a degree-11 polynomial interpolating at Chebyshev nodes of
  // [-ln2/2, ln2/2] (relative error 2e-16), evaluated by Estrin's scheme: a
  // short dependency chain, so consecutive vectors overlap.
  const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
  const double q0 = 1.0 + 1.0 * r;
  const double q1 = 0.5000000000000019 + 0.1666666666666668 * r;
  const double q2 = 0.0416666666664881 + 0.008333333333319601 * r;
  const double q3 = 0.0013888888952314775 + 0.00019841269890047113 * r;
  const double q4 = 2.4801485482328494e-05 + 2.755724091857897e-06 * r;
  const double q5 = 2.763263963904103e-07 + 2.5110037605963777e-08 * r;
  const double p = (q0 + q1 * r2) + (q2 + q3 * r2) * r4 + (q4 + q5 * r2) * r8;
  // 2^n: the low bits of `shifted` hold n; move it into the exponent field.
  std::uint64_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  std::uint64_t pbits;
  std::memcpy(&pbits, &p, sizeof pbits);
  pbits += bits << 52;
  double out;
  std::memcpy(&out, &pbits, sizeof out);
  return x < -708.0 ? 0.0 : out;
}

inline float vexp(float x) { return static_cast<float>(vexp(static_cast<double>(x))); }

// tanh(x) for 0 <= x <= 1 (the argument of n2p2's tanh cutoffs), from one exp.
template <typename T>
inline T vtanh_unit(T x) {
  const T e = vexp(T(-2) * x);
  return (T(1) - e) / (T(1) + e);
}

}  // namespace nnpkit
