// Branch-free elementary functions that the compiler can vectorise inside
// `#pragma omp simd` loops (std::exp and std::tanh are library calls it cannot).
// Accurate to about 1 ulp in double precision over the ranges descriptors use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace nnpkit {

// p 2^n, where the low bits of `shifted` (n plus 1.5 2^mantissa_bits, as the exp
// functions below form it) hold n: n moved into p's exponent field.
template <typename F, typename U, int MantissaBits>
inline F times_two_to(F p, F shifted) {
  U bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  U pbits;
  std::memcpy(&pbits, &p, sizeof pbits);
  pbits += bits << MantissaBits;
  F out;
  std::memcpy(&out, &pbits, sizeof out);
  return out;
}

// exp(x) for double, x in [-708, 708] (no clamping: the caller's): x = n ln2 + r
// with |r| <= ln2/2, exp(r) by a polynomial, times 2^n built in the exponent bits.
__attribute__((always_inline)) inline double vexp_in_range(double x) {
  const double log2e = 1.4426950408889634;
  const double ln2_hi = 6.93147180369123816490e-01;
  const double ln2_lo = 1.90821492927058770002e-10;
  const double shifter = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const double shifted = x * log2e + shifter;
  const double n = shifted - shifter;
  const double r = (x - n * ln2_hi) - n * ln2_lo;
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
  return times_two_to<double, std::uint64_t, 52>(p, shifted);
}

// exp(x) for double. Returns 0 below -708 (where exp underflows to subnormals);
// clamped at 708, far beyond the arguments used here.
__attribute__((always_inline)) inline double vexp(double x) {
  const double xc = x < -708.0 ? -708.0 : (x > 708.0 ? 708.0 : x);
  return x < -708.0 ? 0.0 : vexp_in_range(xc);
}

// exp(x) for float, x in [-87.3, 88.3], in float arithmetic (through the double
// version, the conversions kept the compiler from vectorising float loops: CELU
// alone was 13% of a float32 water box). Same reduction as above; exp(r) by
// Cephes' degree-6 polynomial of expf (about 1 ulp).
__attribute__((always_inline)) inline float vexp_in_range(float x) {
  const float log2e = 1.44269504088896341f;
  const float ln2_hi = 0.693359375f;
  const float ln2_lo = -2.12194440e-4f;
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float shifted = x * log2e + shifter;
  const float n = shifted - shifter;
  const float r = (x - n * ln2_hi) - n * ln2_lo;
  const float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  return times_two_to<float, std::uint32_t, 23>(p, shifted);
}

// exp(x) for float: 0 below -87.3, clamped at 88.3.
inline float vexp(float x) {
  const float xc = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  return x < -87.3f ? 0.0f : vexp_in_range(xc);
}

// The lower end of vexp_in_range's arguments.
template <typename T>
constexpr T kLowestExpArgument = std::is_same_v<T, double> ? T(-708.0) : T(-87.3f);

// x = m 2^e with m in [sqrt(1/2), sqrt(2)), read from the bits of a normal x > 0;
// returns s = (m - 1) / (m + 1), |s| <= 0.172, and e (log x = e ln2 + 2 atanh(s)).
// The exponent e is read as a float without an integer conversion: its biased
// field is put into the mantissa of 2^MantissaBits, whose value is then that
// number plus the field. AVX2 has no vector conversion of 64-bit integers, and a
// float64 loop that converted one (the AEV's pow) ran scalar.
template <typename F, typename U, int MantissaBits, int Bias>
__attribute__((always_inline)) inline F log_reduction(F x, F& e) {
  U bits;
  std::memcpy(&bits, &x, sizeof bits);
  const U two_to_mantissa_bits = static_cast<U>(Bias + MantissaBits) << MantissaBits;  // the float 2^MantissaBits
  const U with_field = two_to_mantissa_bits | (bits >> MantissaBits);
  F shifted_field;
  std::memcpy(&shifted_field, &with_field, sizeof shifted_field);
  e = shifted_field - (F(U(1) << MantissaBits) + F(Bias));
  const U mantissa = (U(1) << MantissaBits) - 1;
  U mbits = (bits & mantissa) | (static_cast<U>(Bias) << MantissaBits);  // m in [1, 2)
  F m;
  std::memcpy(&m, &mbits, sizeof m);
  const bool high = m > F(1.4142135623730951);
  m = high ? F(0.5) * m : m;
  e = high ? e + F(1) : e;
  return (m - F(1)) / (m + F(1));
}

// log(x) for normal x > 0, 2 atanh(s) by its odd series to s^23 (relative error
// below 1e-16). Not for zero, subnormals, infinity or NaN.
__attribute__((always_inline)) inline double vlog(double x) {
  double e;
  const double s = log_reduction<double, std::uint64_t, 52, 1023>(x, e);
  const double s2 = s * s, s4 = s2 * s2, s8 = s4 * s4;
  const double q0 = 1.0 + s2 / 3.0;
  const double q1 = 1.0 / 5.0 + s2 / 7.0;
  const double q2 = 1.0 / 9.0 + s2 / 11.0;
  const double q3 = 1.0 / 13.0 + s2 / 15.0;
  const double q4 = 1.0 / 17.0 + s2 / 19.0;
  const double q5 = 1.0 / 21.0 + s2 / 23.0;
  const double series = (q0 + q1 * s4) + (q2 + q3 * s4) * s8 + (q4 + q5 * s4) * (s8 * s8);
  const double ln2_hi = 6.93147180369123816490e-01;
  const double ln2_lo = 1.90821492927058770002e-10;
  return e * ln2_hi + (2.0 * s * series + e * ln2_lo);
}

// log(x) for float in float arithmetic (through the double version a float loop
// ran at half the vector width): the series to s^11, its next term below 1e-10
// of the result.
__attribute__((always_inline)) inline float vlog(float x) {
  float e;
  const float s = log_reduction<float, std::uint32_t, 23, 127>(x, e);
  const float s2 = s * s, s4 = s2 * s2;
  const float series =
      (1.0f + s2 * (1.0f / 3.0f)) + s4 * ((0.2f + s2 * (1.0f / 7.0f)) + s4 * (1.0f / 9.0f + s2 * (1.0f / 11.0f)));
  const float ln2_hi = 0.693359375f;
  const float ln2_lo = -2.12194440e-4f;
  return e * ln2_hi + (2.0f * s * series + e * ln2_lo);
}

// x^y for x >= 0 as exp(y log x), 0 for x below the smallest normal number (y > 0
// here). Within a few ulp times |y log x| of std::pow: about 1e-15 relative for
// ANI's angular terms. vlog of 0 or of a subnormal is a finite negative number, so
// the logarithm needs no guarded argument and a mask zeroes those results: a select
// on the argument made GCC branch, and the loops over ANI's angle sections, 60% of
// the AEV's time, ran scalar.
template <typename T>
__attribute__((always_inline)) inline T vpow(T x, T y) {
  const T p = vexp(y * vlog(x));
  return p * (x >= std::numeric_limits<T>::min() ? T(1) : T(0));
}

// c[0] + c[1] x + ... + c[N-1] x^(N-1) by Horner's scheme.
template <typename T, size_t N>
__attribute__((always_inline)) inline T horner(T x, const double (&c)[N]) {
  T p = T(c[N - 1]);
  for (size_t k = N - 1; k-- > 0;) p = p * x + T(c[k]);
  return p;
}

// cos(theta) and sin(theta) for 0 <= theta <= pi (a cosine cutoff's argument), by
// Taylor polynomials of y = theta - pi/2 in [-pi/2, pi/2]: cos(theta) = -sin(y),
// sin(theta) = cos(y). Truncated past y^19 and y^20 (float: y^11, y^12), the error
// is below 3e-16 (float: 6e-8) plus Horner's rounding, and the loop over a centre's
// neighbours vectorises (libm's sincos was a call per edge, 2.5% of a water box).
template <typename T>
__attribute__((always_inline)) inline void vcos_sin_half_turn(T theta, T& cosine, T& sine) {
  // -sin(y) / y and (cos(y) - 1) / y^2 as polynomials in y^2 (Taylor coefficients).
  static constexpr double kSinDouble[] = {-1.0,          1.0 / 6,          -1.0 / 120,          1.0 / 5040,
                                          -1.0 / 362880, 1.0 / 39916800,   -1.0 / 6227020800.0, 1.0 / 1307674368000.0,
                                          -1.0 / 355687428096000.0, 1.0 / 121645100408832000.0};
  static constexpr double kCosDouble[] = {-0.5,           1.0 / 24,          -1.0 / 720,           1.0 / 40320,
                                          -1.0 / 3628800, 1.0 / 479001600,   -1.0 / 87178291200.0, 1.0 / 20922789888000.0,
                                          -1.0 / 6402373705728000.0, 1.0 / 2432902008176640000.0};
  static constexpr double kSinFloat[] = {-1.0, 1.0 / 6, -1.0 / 120, 1.0 / 5040, -1.0 / 362880, 1.0 / 39916800};
  static constexpr double kCosFloat[] = {-0.5, 1.0 / 24, -1.0 / 720, 1.0 / 40320, -1.0 / 3628800, 1.0 / 479001600};
  const T y = theta - T(1.57079632679489661923);
  const T y2 = y * y;
  if constexpr (sizeof(T) == 8) {
    cosine = horner(y2, kSinDouble) * y;      // -sin(y)
    sine = horner(y2, kCosDouble) * y2 + T(1);  // cos(y)
  } else {
    cosine = horner(y2, kSinFloat) * y;
    sine = horner(y2, kCosFloat) * y2 + T(1);
  }
}

// tanh(x) for 0 <= x <= 1 (the argument of n2p2's tanh cutoffs), from one exp.
template <typename T>
inline T vtanh_unit(T x) {
  const T e = vexp(T(-2) * x);
  return (T(1) - e) / (T(1) + e);
}

}  // namespace nnpkit
