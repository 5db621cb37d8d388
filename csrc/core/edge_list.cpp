#include "core/edge_list.h"

namespace nnpkit {

std::vector<int64_t> centre_offsets(const torch::Tensor& edge_index, int64_t n_atoms, const std::string& op_name) {
  const auto idx = edge_index.accessor<int64_t, 2>();
  const int64_t n_edges = edge_index.size(1);
  std::vector<int64_t> offsets(n_atoms + 1, 0);
  int64_t previous = 0;
  for (int64_t e = 0; e < n_edges; ++e) {
    const int64_t i = idx[0][e], j = idx[1][e];
    TORCH_CHECK(i >= 0 && i < n_atoms && j >= 0 && j < n_atoms, op_name, ": edge ", e, " (", i, ", ", j,
                ") refers to an atom outside 0..", n_atoms - 1);
    TORCH_CHECK(i >= previous, op_name, ": edges must be grouped by centre atom in ascending order (edge ", e, ")");
    previous = i;
    offsets[i + 1] += 1;
  }
  for (int64_t i = 0; i < n_atoms; ++i) offsets[i + 1] += offsets[i];
  return offsets;
}

}  // namespace nnpkit
