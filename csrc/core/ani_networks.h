// The element networks of an ANI committee, exposed as the torch operator
// torch.ops.nnpkit.ani_networks: every member's CELU network of every element in
// one call, with an analytic backward to the AEV (no gradients to the weights:
// this is the inference path; training goes through autograd in Python).
//
// Per element, the first layer reads only the AEV columns the caller kept (the
// species present), from one [D, M*h1] matrix of all members; the later layers are
// batched products over the members. The backward is one pass for all members:
// with a shared AEV [n, D] the members' gradients are summed; with member copies
// [M, n, D] (committee statistics) each copy gets its own member's gradient.
#pragma once

#include <torch/types.h>

#include <vector>

namespace nnpkit {

// One element's layers: first_weight [D, M*h1] (the first layer of all members,
// transposed and restricted to the AEV columns in use), first_bias [M, h1], then
// for each later layer weight [M, out, in] and bias [M, out]; the last has out = 1.
// Optionally, narrow_first_weight and narrow_weights: float32 copies of the weights
// of a float64 model whose weights are float32 values (ANI's NeuroChem files), in
// the same layouts. A small molecule's products are bound by reading the weights
// (they come from memory on every call), and the few-row kernels read these at
// half the bytes, widening them exactly in registers: the same numbers.
//
// aev_columns (optional, int64 [D_e]): the AEV columns this element's first layer
// reads, when fewer than the AEV's (a molecule with one N atom: no N-N pair block
// for any centre, no N-x blocks for the N centre); first_weight is then [D_e, M*h1]
// and the element's AEV gradient is zero in the other columns.
struct AniElementNetworks {
  torch::Tensor first_weight, first_bias;
  torch::Tensor aev_columns;
  std::vector<torch::Tensor> weights, biases;
  torch::Tensor narrow_first_weight;
  std::vector<torch::Tensor> narrow_weights;
};

// Energies [M, n_atoms]: row i < n (n = aev rows) gets its element's networks
// plus its self energy, rows n..n_atoms-1 are zero. aev: [n, D], or [M, n, D]
// member copies of equal values; row_species: [n] indices into `elements`
// (elements without rows may have undefined tensors); celu_alpha: CELU's alpha.
torch::Tensor ani_networks(const torch::Tensor& aev, const torch::Tensor& row_species, int64_t n_atoms,
                           const std::vector<AniElementNetworks>& elements, const torch::Tensor& self_energies,
                           double celu_alpha);

}  // namespace nnpkit
