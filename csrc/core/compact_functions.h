// Compact-support functions of n2p2's polynomial symmetry functions (Bircher,
// Singraber, Dellago 2021): a core function c(x) on 0 <= x <= 1 with c(0) = 1,
// c(1) = 0, mirrored about the centre of an interval [left, right]:
//   f(a) = c(|a - centre| / half_width),   zero outside (left, right).
// The asymmetric variant ('p1a'..'p4a') evaluates c((2 - x) x) instead of c(x).
#pragma once

#include <cmath>

#include "core/host_device.h"

namespace nnpkit {

// Numbering of the core functions in the symmetry-function tables (sf_int column 4
// for the compact types). Subtype strings: p1..p4 -> Poly1..Poly4, e -> Exp.
enum class CoreFunctionType : int { Poly1 = 0, Poly2 = 1, Poly3 = 2, Poly4 = 3, Exp = 4 };

constexpr int kNumCoreFunctionTypes = 5;

// c(x) and dc/dx for 0 <= x < 1.
template <typename T>
NNPKIT_HD void core_function_value_and_derivative(int type, T x, T& f, T& df) {
  switch (type) {
    case static_cast<int>(CoreFunctionType::Poly1):
      f = (T(2) * x - T(3)) * x * x + T(1);
      df = x * (T(6) * x - T(6));
      return;
    case static_cast<int>(CoreFunctionType::Poly2):
      f = ((T(15) - T(6) * x) * x - T(10)) * x * x * x + T(1);
      df = x * x * ((T(60) - T(30) * x) * x - T(30));
      return;
    case static_cast<int>(CoreFunctionType::Poly3):
      f = (x * (x * (T(20) * x - T(70)) + T(84)) - T(35)) * x * x * x * x + T(1);
      df = x * x * x * (x * (x * (T(140) * x - T(420)) + T(420)) - T(140));
      return;
    case static_cast<int>(CoreFunctionType::Poly4):
      f = (x * (x * ((T(315) - T(70) * x) * x - T(540)) + T(420)) - T(126)) * x * x * x * x * x + T(1);
      df = x * x * x * x * (x * (x * ((T(2520) - T(630) * x) * x - T(3780)) + T(2520)) - T(630));
      return;
    case static_cast<int>(CoreFunctionType::Exp): {
      // e * exp(1 / (x^2 - 1)) = exp(1 - 1 / (1 - x^2))
      const T inv = T(1) / (x * x - T(1));
      f = std::exp(T(1) + inv);
      df = -T(2) * x * inv * inv * f;
      return;
    }
    default:
      f = T(0);
      df = T(0);
  }
}

// Value f and derivative df/da of the compact function on (left, right).
template <typename T>
NNPKIT_HD void compact_value_and_derivative(int type, bool asymmetric, T a, T left, T right, T& f, T& df) {
  const T half_width = T(0.5) * (right - left);
  const T inv_width = T(1) / half_width;
  const T u = (a - T(0.5) * (left + right)) * inv_width;
  const T x = std::fabs(u);
  if (x >= T(1)) {
    f = T(0);
    df = T(0);
    return;
  }
  T dfdx;
  if (asymmetric) {
    core_function_value_and_derivative<T>(type, (T(2) - x) * x, f, dfdx);
    dfdx *= T(2) - T(2) * x;
  } else {
    core_function_value_and_derivative<T>(type, x, f, dfdx);
  }
  df = (u < T(0) ? -inv_width : inv_width) * dfdx;
}

}  // namespace nnpkit
