// The two passes of an evaluation over all edges outside the model: the edge
// vectors in (checked and put into model units and dtype) and the edge gradients
// out (reduced to forces and virials). Each is one loop over the [E, 3] arrays:
// on a liquid with ~100 neighbours per atom these arrays are tens of MB, and a
// chain of tensor operations would read and write them several times.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace nnpkit {

struct ModelEdgeVectors {
  torch::Tensor vectors;          // [E, 3] in model length units and dtype
  int64_t first_non_finite = -1;  // first edge with a NaN or infinite component, or -1
  int64_t shortest_below = -1;    // the shortest edge shorter than the limit, or -1
};

// engine_vectors [E, 3] (engine length units, any floating dtype); to_model_length
// scales them; min_distance is in engine units. When nothing changes (scale 1,
// float64 in and out, contiguous), the input itself is returned, not a copy.
ModelEdgeVectors to_model_edge_vectors(const torch::Tensor& engine_vectors, double to_model_length,
                                       torch::ScalarType model_dtype, double min_distance);

// Forces [M, N, 3] and virials [M, 3, 3] (float64) of M edge gradients dE/dr_e,
// `gradients` [M, E, 3] or [E, 3] (M = 1) in any layout whose last dimension is
// contiguous, times `factor` (model to engine units). Edge e points from atom
// centre[e] to neighbour[e]; r [E, 3] float64 are the engine's edge vectors.
// F[centre] += g, F[neighbour] -= g, W = -sum_e r_e (x) g_e.
void forces_and_virials_from_edge_gradients(const torch::Tensor& gradients, const torch::Tensor& edge_index,
                                            const torch::Tensor& r, double factor, int64_t n_atoms,
                                            torch::Tensor& forces, torch::Tensor& virials);

}  // namespace nnpkit
