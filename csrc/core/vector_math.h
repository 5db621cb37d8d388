// Branch-free elementary functions that the compiler can vectorise inside
// `#pragma omp simd` loops (std::exp and std::tanh are library calls it cannot).
// Accurate to about 1 ulp in double precision over the ranges descriptors use.
#pragma once

#include <cstdint>
#include <cstring>

namespace nnpkit {

// exp(x) for double: x = n ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series
// to degree 13 (truncation below 2e-17 relative), times 2^n built in the exponent
// bits. Returns 0 below -708 (where exp underflows to subnormals) and is only
// used with arguments <= 0 plus small positive ones, far from overflow.
inline double vexp(double x) {
  const double log2e = 1.4426950408889634;
  const double ln2_hi = 6.93147180369123816490e-01;
  const double ln2_lo = 1.90821492927058770002e-10;
  const double shifter = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const double xc = x < -708.0 ? -708.0 : (x > 708.0 ? 708.0 : x);
  const double shifted = xc * log2e + shifter;
  const double n = shifted - shifter;
  const double r = (xc - n * ln2_hi) - n * ln2_lo;
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
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
