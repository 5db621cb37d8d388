// The rows of a symmetry-function table (sf_int, sf_real; layout in
// symmetry_functions.h), read and validated once for every CPU driver.
#pragma once

#include <torch/types.h>

#include <vector>

#include "core/symmetry_function_terms.h"

namespace nnpkit {

struct SymmetryFunctionRow {
  int64_t centre = 0;
  int type = 0;
  int64_t neighbor1 = 0;
  int64_t neighbor2 = -1;  // angular types only
  int64_t column = 0;
  SymmetryFunctionParams<double> params;  // prepare_params applied
};

// Throws c10::Error naming the row for an unknown type, cutoff or core function,
// bad radii, alpha or angles, or a missing second neighbour element.
std::vector<SymmetryFunctionRow> read_symmetry_function_table(const torch::Tensor& sf_int,
                                                              const torch::Tensor& sf_real);

// The same parameters in the working precision of a driver.
template <typename T>
SymmetryFunctionParams<T> params_as(const SymmetryFunctionParams<double>& p) {
  SymmetryFunctionParams<T> out{T(p.eta), T(p.rs), T(p.rc), T(p.alpha), T(p.zeta), T(p.lambda), p.cutoff_type};
  out.weight = T(p.weight);
  out.angle_left = T(p.angle_left);
  out.angle_right = T(p.angle_right);
  out.asymmetric = p.asymmetric;
  out.angular_norm = T(p.angular_norm);
  return out;
}

}  // namespace nnpkit
