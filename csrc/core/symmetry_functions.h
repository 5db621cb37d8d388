// Behler-Parrinello symmetry functions over the edge list of the model contract,
// exposed as the torch operator torch.ops.nnpkit.symmetry_functions with an
// analytic backward (and a forward-mode product for training on forces).
//
// A symmetry-function set is two tensors, one row per function:
//   sf_int  int64  [S, 7]: centre element, n2p2 type (2, 3, 9, 12, 13, 20-25),
//                          neighbour element 1, neighbour element 2 (-1 for radial),
//                          cutoff type (compact types: core function, CoreFunctionType),
//                          output column, asymmetric (compact types 'pNa': 1, else 0)
//   sf_real double [S, 9]: eta, rs (compact: rl), rc, alpha (inner cutoff fraction),
//                          zeta, lambda, weight, angle_left, angle_right (radians)
// The first 6 columns alone are accepted too (weight 1, no angles, symmetric).
// Element-weighted functions (12, 13, 23-25) appear once per neighbour element
// (pair) with weight Z_j (Z_j Z_k), all rows writing the same column.
// Elements are indices into the model's species list. The output G has shape
// [n_centers, n_columns]; row i holds the functions of centre atom i's element in
// the columns the set assigns them (n2p2's sorted order when imported from n2p2).
#pragma once

#include <torch/types.h>

namespace nnpkit {

constexpr int64_t kSfIntColumnsBasic = 6;
constexpr int64_t kSfRealColumnsBasic = 6;
constexpr int64_t kSfIntColumns = 7;
constexpr int64_t kSfRealColumns = 9;

// Forward values, [n_centers, n_columns].
torch::Tensor symmetry_functions_forward(const torch::Tensor& edge_vectors, const torch::Tensor& edge_index,
                                         const torch::Tensor& species, const torch::Tensor& sf_int,
                                         const torch::Tensor& sf_real, int64_t n_centers, int64_t n_columns);

// Vector-Jacobian product: sum_ic grad_G[i,c] dG[i,c]/d(edge vector), [E, 3]; for seeds
// [M, n_centers, n_columns] (committee members) [M, E, 3] in one pass.
torch::Tensor symmetry_functions_vjp(const torch::Tensor& grad_G, const torch::Tensor& edge_vectors,
                                     const torch::Tensor& edge_index, const torch::Tensor& species,
                                     const torch::Tensor& sf_int, const torch::Tensor& sf_real, int64_t n_centers,
                                     int64_t n_columns);

// Jacobian-vector product: sum_e dG[i,c]/d(edge vector e) . tangent[e], [n_centers, n_columns].
torch::Tensor symmetry_functions_jvp(const torch::Tensor& tangent, const torch::Tensor& edge_vectors,
                                     const torch::Tensor& edge_index, const torch::Tensor& species,
                                     const torch::Tensor& sf_int, const torch::Tensor& sf_real, int64_t n_centers,
                                     int64_t n_columns);

// Differentiable entry point (what the registered operator calls): the functions
// of length_scale x edge_vectors (potentials in normalized length units, as n2p2's
// conv_length makes them). For member copies [M, E, 3] the scaling is applied to
// one copy and to the gradients in place, not to an [M, E, 3] tensor.
torch::Tensor symmetry_functions(const torch::Tensor& edge_vectors, const torch::Tensor& edge_index,
                                 const torch::Tensor& species, const torch::Tensor& sf_int,
                                 const torch::Tensor& sf_real, int64_t n_centers, int64_t n_columns,
                                 double length_scale = 1.0);

}  // namespace nnpkit
