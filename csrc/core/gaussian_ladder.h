// Gaussians exp(-eta (x - s_k)^2) of many x at evenly spaced shifts s_k (ANI's
// radial factors), by a product recurrence instead of one exponential per shift:
// v_{k+1} / v_k = exp(2 eta D (x - mu_k)) with D the spacing and mu_k the midpoint
// of s_k and s_{k+1}, that is E(x) times a constant per step. From the middle shift
// up and down, three exponentials (or two and a division) serve every shift: the
// angular factors of ANI-2x's 8 shifts took 8, a fifth of a water box's AEV.
//
// Used in float64 only, where each step's rounding (about 2 ulp) leaves the values
// within a few 1e-15 of the direct exponentials over a ladder of up to 16 steps;
// in float32 the same steps would cost 1e-6. Shifts that are not evenly spaced to
// within rounding, or exponents that could leave the double range, keep the direct
// exponentials (usable() is false).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/vector_math.h"

namespace nnpkit {

template <typename T>
class GaussianLadder {
 public:
  GaussianLadder() = default;

  // For x in [0, x_max].
  GaussianLadder(const std::vector<T>& shifts, T eta, T x_max) {
    const int n = static_cast<int>(shifts.size());
    if (n < 4 || !(eta > T(0)) || !(x_max > T(0))) return;
    for (int k = 0; k + 1 < n; ++k) {
      if (!(shifts[k + 1] > shifts[k])) return;
    }
    const double step = (double(shifts[n - 1]) - double(shifts[0])) / (n - 1);
    middle_ = n / 2;
    // The ladder takes every spacing D_k for the mean one D: a step's factor is off
    // by exp(2 eta (D_k - D) (x - mu_k)), and a value by the product over the steps
    // between it and the middle. Decimal shifts (ANI-2x's 0.26875 apart) deviate by
    // rounding, which gives a bound of 3e-13 for its radial terms (the errors seen
    // are a few 1e-15); shifts meant to be uneven fail this.
    double below = 0.0, above = 0.0;
    for (int k = 0; k + 1 < n; ++k) {
      (k < middle_ ? below : above) += std::abs(double(shifts[k + 1]) - double(shifts[k]) - step);
    }
    const double distance = std::max(double(x_max) - double(shifts[0]), double(shifts[n - 1]));
    if (2.0 * double(eta) * distance * std::max(below, above) > 1e-12) return;
    const double s_middle = shifts[middle_];
    centre_ = T(0.5 * (double(shifts[middle_ - 1]) + s_middle));
    const double two_eta_step = 2.0 * double(eta) * step;
    // The exponents met: the middle Gaussian's, E's, and the constant factors'.
    const double reach = std::max(s_middle, double(x_max) - s_middle);
    const double e_reach = two_eta_step * std::max(double(centre_), double(x_max) - double(centre_));
    if (double(eta) * reach * reach > 600.0 || e_reach > 300.0) return;
    up_.resize(n - 1);
    down_.resize(n - 1);
    for (int k = 0; k + 1 < n; ++k) {
      const double mid = 0.5 * (double(shifts[k]) + double(shifts[k + 1]));
      const double exponent = two_eta_step * (double(centre_) - mid);
      if (std::abs(exponent) > 300.0) return;
      up_[k] = T(std::exp(exponent));    // v_{k+1} = v_k * E * up_[k]
      down_[k] = T(std::exp(-exponent));  // v_k = v_{k+1} / E * down_[k]
    }
    eta_ = eta;
    middle_shift_ = T(s_middle);
    two_eta_step_ = T(two_eta_step);
    n_ = n;
  }

  bool usable() const { return n_ > 0; }

  // values[s * stride + k] = exp(-eta (x[k] - s_s)^2) for k < count; scratch is
  // resized to 2 count.
  void evaluate(const T* __restrict x, int64_t count, int64_t stride, T* __restrict values,
                std::vector<T>& scratch) const {
    scratch.resize(2 * count);
    T* __restrict e = scratch.data();
    T* __restrict e_inverse = e + count;
    T* __restrict middle = values + middle_ * stride;
    const T eta = eta_, s = middle_shift_, c = centre_, a = two_eta_step_;
#pragma omp simd
    for (int64_t k = 0; k < count; ++k) {
      const T d = x[k] - s;
      middle[k] = vexp(-eta * d * d);
      e[k] = vexp(a * (x[k] - c));
      e_inverse[k] = T(1) / e[k];
    }
    for (int j = middle_; j + 1 < n_; ++j) {
      const T* __restrict from = values + j * stride;
      T* __restrict to = values + (j + 1) * stride;
      const T factor = up_[j];
#pragma omp simd
      for (int64_t k = 0; k < count; ++k) to[k] = from[k] * (e[k] * factor);
    }
    for (int j = middle_ - 1; j >= 0; --j) {
      const T* __restrict from = values + (j + 1) * stride;
      T* __restrict to = values + j * stride;
      const T factor = down_[j];
#pragma omp simd
      for (int64_t k = 0; k < count; ++k) to[k] = from[k] * (e_inverse[k] * factor);
    }
  }

 private:
  int n_ = 0, middle_ = 0;
  T eta_ = T(0), middle_shift_ = T(0), centre_ = T(0), two_eta_step_ = T(0);
  std::vector<T> up_, down_;
};

}  // namespace nnpkit
