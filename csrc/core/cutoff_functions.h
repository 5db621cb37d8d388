// Cutoff functions exactly as n2p2 defines them (CutoffFunction, CoreFunction).
// Inner cutoff r_ci = alpha * r_c: f = 1 below r_ci, f(x) with
// x = (r - r_ci) / (r_c - r_ci) between, 0 at and beyond r_c.
// The tanh forms ignore alpha, as in n2p2.
#pragma once

#include <cmath>

#include "core/compact_functions.h"
#include "core/host_device.h"

namespace nnpkit {

// Numbering follows n2p2's `cutoff_type` keyword in input.nn.
enum class CutoffType : int {
  Hard = 0,
  Cos = 1,
  TanhU = 2,  // tanh^3(1 - r/rc), unnormalized
  Tanh = 3,   // tanh^3(1 - r/rc) / tanh^3(1): f(0) = 1
  Exp = 4,
  Poly1 = 5,
  Poly2 = 6,
  Poly3 = 7,
  Poly4 = 8,
};

constexpr int kNumCutoffTypes = 9;

// Value f and derivative df/dr of a cutoff function.
template <typename T>
NNPKIT_HD void cutoff_value_and_derivative(int type, T r, T rc, T alpha, T& f, T& df) {
  f = T(0);
  df = T(0);
  if (r >= rc) return;
  const T rci = alpha * rc;
  if (type == static_cast<int>(CutoffType::TanhU) || type == static_cast<int>(CutoffType::Tanh)) {
    const T t = std::tanh(T(1) - r / rc);
    const T t2 = t * t;
    T pre = T(1);
    if (type == static_cast<int>(CutoffType::Tanh)) {
      const T t1 = std::tanh(T(1));
      pre = T(1) / (t1 * t1 * t1);
    }
    f = pre * t * t2;
    df = pre * T(3) * t2 * (t2 - T(1)) / rc;
    return;
  }
  if (type == static_cast<int>(CutoffType::Hard)) {
    f = T(1);
    return;
  }
  if (r < rci) {
    f = T(1);
    return;
  }
  const T iw = T(1) / (rc - rci);
  const T x = (r - rci) * iw;
  T dfdx = T(0);
  switch (type) {
    case static_cast<int>(CutoffType::Cos): {
      const T pi = T(3.14159265358979323846);
      f = T(0.5) * (std::cos(pi * x) + T(1));
      dfdx = -T(0.5) * pi * std::sin(pi * x);
      break;
    }
    // As in n2p2, the other cutoffs are the compact functions' core functions.
    case static_cast<int>(CutoffType::Exp):
      core_function_value_and_derivative<T>(static_cast<int>(CoreFunctionType::Exp), x, f, dfdx);
      break;
    case static_cast<int>(CutoffType::Poly1):
    case static_cast<int>(CutoffType::Poly2):
    case static_cast<int>(CutoffType::Poly3):
    case static_cast<int>(CutoffType::Poly4):
      core_function_value_and_derivative<T>(
          static_cast<int>(CoreFunctionType::Poly1) + type - static_cast<int>(CutoffType::Poly1), x, f, dfdx);
      break;
    default:
      f = T(0);
  }
  df = dfdx * iw;
}

}  // namespace nnpkit
