// Fast CPU driver of the symmetry-function operator (forward values and the
// vector-Jacobian product). Functions are grouped so that what several of them
// share is computed once: per neighbour, each distinct radial factor; per
// neighbour pair, the angle, the j-k distance, each distinct angular factor and
// each distinct j-k radial factor. The inner loops run over the neighbours k of
// one pair partner j in contiguous arrays, so they vectorise.
// The straightforward per-function driver in symmetry_functions_op.cpp stays as
// the reference (and serves the Jacobian-vector product of force training).
#pragma once

#include <torch/types.h>

namespace nnpkit {

// Inputs as validated by the operator: contiguous CPU tensors, edge_index int64
// grouped by centre, sf tables int64/float64.
void grouped_symmetry_functions_forward(const torch::Tensor& edge_vectors, const torch::Tensor& edge_index,
                                        const torch::Tensor& species, const torch::Tensor& sf_int,
                                        const torch::Tensor& sf_real, int64_t n_centers, torch::Tensor& out);

// out_edges [E, 3] (need not be zeroed) receives sum_ic grad_G[i,c] dG[i,c]/d(edge vector).
// With one seed per committee member, grad_G [M, n_centers, n_columns] and out_edges
// [E, M, 3] (the members of an edge side by side): each centre's Jacobian is built
// once and contracted with every seed.
void grouped_symmetry_functions_vjp(const torch::Tensor& grad_G, const torch::Tensor& edge_vectors,
                                    const torch::Tensor& edge_index, const torch::Tensor& species,
                                    const torch::Tensor& sf_int, const torch::Tensor& sf_real, int64_t n_centers,
                                    torch::Tensor& out_edges);

}  // namespace nnpkit
