// The ANI atomic environment vector over the edge list of the model contract,
// exposed as the torch operator torch.ops.nnpkit.ani_aev with an analytic
// backward (and a forward-mode product, so that ANI models can train on forces).
//
// Output [n_centers, n_species * n_radial + n_pairs * n_angular_shifts * n_sections],
// laid out as TorchANI lays it out: radial blocks by neighbour species, then angular
// blocks by unordered neighbour-species pair in upper-triangle order. `species`
// holds indices 0..n_species-1 for all N atoms (neighbours included); a model may
// pass a compacted numbering (only the species present) to get a narrower AEV.
#pragma once

#include <torch/types.h>

#include <vector>

namespace nnpkit {

struct AniAevParameters {
  int64_t n_species = 0;
  double radial_cutoff = 0.0, radial_eta = 0.0;
  std::vector<double> radial_shifts;
  double angular_cutoff = 0.0, angular_eta = 0.0, angular_zeta = 1.0;
  std::vector<double> angular_shifts, angular_sections;

  int64_t radial_length() const;   // n_species * n_radial
  int64_t angular_length() const;  // n_pairs * n_angular_shifts * n_sections
  int64_t length() const { return radial_length() + angular_length(); }
  // Throws c10::Error naming the offending parameter.
  void validate() const;
};

torch::Tensor ani_aev_forward(const torch::Tensor& edge_vectors, const torch::Tensor& edge_index,
                              const torch::Tensor& species, const AniAevParameters& params, int64_t n_centers);

// sum_ic grad_aev[i,c] d aev[i,c] / d(edge vector), [E, 3].
torch::Tensor ani_aev_vjp(const torch::Tensor& grad_aev, const torch::Tensor& edge_vectors,
                          const torch::Tensor& edge_index, const torch::Tensor& species,
                          const AniAevParameters& params, int64_t n_centers);

// sum_e d aev[i,c] / d(edge vector e) . tangent[e], [n_centers, length].
torch::Tensor ani_aev_jvp(const torch::Tensor& tangent, const torch::Tensor& edge_vectors,
                          const torch::Tensor& edge_index, const torch::Tensor& species,
                          const AniAevParameters& params, int64_t n_centers);

// Differentiable entry point (what the registered operator calls).
torch::Tensor ani_aev(const torch::Tensor& edge_vectors, const torch::Tensor& edge_index, const torch::Tensor& species,
                      const AniAevParameters& params, int64_t n_centers);

}  // namespace nnpkit
