// Checks on the model contract's edge list shared by the descriptor operators.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

namespace nnpkit {

// Start offsets of each centre's edges in an edge_index [2, E] (int64, contiguous)
// whose edges are grouped by centre atom in ascending order, as the model contract
// requires: centre i owns edges offsets[i] .. offsets[i+1]-1. Throws c10::Error,
// prefixed with `op_name`, for an atom index outside 0..n_atoms-1 or unsorted edges.
std::vector<int64_t> centre_offsets(const torch::Tensor& edge_index, int64_t n_atoms, const std::string& op_name);

}  // namespace nnpkit
