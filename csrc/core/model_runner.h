// Loads an nnpkit model file and evaluates it on the edge list of the model
// contract: energy, forces, virial, per-atom energies and virials from one
// backward pass, and committee statistics. Units are converted here. Engine
// adapters use it through Model (model.h), which keeps torch out of their headers.
#pragma once

#include <torch/script.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "core/evaluation_request.h"
#include "core/model_metadata.h"
#include "core/neighbor_limits.h"

namespace nnpkit {

// An evaluation as tensors (EvaluationRequest says what is filled in), everything
// in the engine's units (set_engine_units), double precision. Model (model.h) hands
// it to the engines as EvaluationOutput.
struct EvaluationResult {
  double energy = 0.0;                 // committee mean
  torch::Tensor atom_energies;         // [N] (zero for ghost atoms), committee mean
  torch::Tensor forces;                // [N, 3], ghosts included (engines reverse-communicate them)
  torch::Tensor virial;                // [3, 3], W = -sum_e r_e (x) dE/dr_e
  torch::Tensor atom_virials;          // [N, 3, 3], each edge split evenly between its two atoms
  // Committee (size M > 1 and committee_statistics):
  torch::Tensor member_energies;       // [M]
  double energy_std = 0.0;             // population standard deviation
  torch::Tensor member_forces;         // [M, N, 3]
  torch::Tensor forces_std;            // [N]: sqrt(mean_m |F_m - <F>|^2), DeePMD's force deviation
  torch::Tensor member_virials;        // [M, 3, 3]
  // With EvaluationRequest::extrapolation and a model that provides it:
  torch::Tensor extrapolation_counts;  // [n_local] int64, descriptors outside the training range per atom
};

class ModelRunner {
 public:
  // Throws ModelFileError for a missing, corrupt or incompatible file.
  explicit ModelRunner(const std::string& path);

  const ModelMetadata& metadata() const { return metadata_; }
  const std::string& path() const { return path_; }

  // Units of the numbers the engine passes in and gets back (ASE names); default Ang, eV.
  void set_engine_units(const std::string& length_unit, const std::string& energy_unit);
  // Neighbour cutoff and interaction range in engine length units.
  double cutoff() const { return metadata_.cutoff * model_to_engine_length_; }
  double interaction_range() const { return metadata_.interaction_range * model_to_engine_length_; }
  // Smallest distance allowed between two atoms, engine length units: the model's
  // min_distance (the closest pair of its training data), or the user's override,
  // never below 1e-4 Angstrom. evaluate() and compute() refuse closer pairs with
  // AtomsTooCloseError.
  double min_distance() const;
  // The user's deliberate override of the model's min_distance, engine length
  // units (0 accepts any pair farther apart than 1e-4 Angstrom); negative: back to the model's.
  void set_min_distance(double engine_length);
  // Bounds on the neighbour search (compute) and on the edges of evaluate.
  void set_neighbor_limits(const NeighborLimits& limits) { limits_ = limits; }
  const NeighborLimits& neighbor_limits() const { return limits_; }

  // species: [N] indices into metadata().species; edge_index: [2, E] grouped by
  // centre; edge_vectors: [E, 3] in engine length units. Atoms 0..n_local-1 are
  // local; only their energies count. Throws AtomsTooCloseError for an edge
  // shorter than min_distance(), NonFinitePositionError for an edge with a NaN or
  // infinite component (naming its atom), InputError for more edges than the limits allow,
  // ModelFileError when the model's output disagrees with its metadata.
  EvaluationResult evaluate(const torch::Tensor& species, const torch::Tensor& edge_index,
                            const torch::Tensor& edge_vectors, int64_t n_local,
                            const EvaluationRequest& options = EvaluationRequest()) const;

  // Builds the neighbour list itself. positions [N, 3] engine units, atomic
  // numbers [N]; cell rows are lattice vectors. Throws UnknownElementError,
  // NonFinitePositionError, AtomsTooCloseError, or InputError for a singular cell.
  EvaluationResult compute(const torch::Tensor& positions, const std::vector<int64_t>& atomic_numbers,
                           const std::array<double, 9>& cell, const std::array<bool, 3>& pbc,
                           const EvaluationRequest& options = EvaluationRequest()) const;

  // Whether the model can flag extrapolation: it has `forward_with_extrapolation`
  // (forward's arguments, returns (forward's energies, [n_local] counts)) or
  // `extrapolation_counts` (forward's arguments, returns [n_local] counts).
  bool provides_extrapolation() const { return has_fused_extrapolation_ || has_extrapolation_method_; }

  // Species indices for atomic numbers; throws UnknownElementError for the first
  // atom of an element the model lacks.
  torch::Tensor species_indices(const std::vector<int64_t>& atomic_numbers) const;

 private:
  // Refuses more edges than the neighbour limits allow (InputError).
  void check_edge_count(int64_t n_edges, int64_t n_atoms) const;
  // AtomsTooCloseError naming the atoms of edge e, shorter than min_distance().
  [[noreturn]] void throw_too_close(const torch::Tensor& edge_index, const torch::Tensor& edge_vectors,
                                    int64_t e) const;
  // NonFinitePositionError for edge e, which has a NaN or infinite component,
  // naming the atom of the edge whose edges all are non-finite.
  [[noreturn]] void throw_non_finite(const torch::Tensor& edge_index, const torch::Tensor& edge_vectors,
                                     int64_t e) const;

  std::string path_;
  ModelMetadata metadata_;
  mutable torch::jit::Module module_;
  torch::Dtype dtype_ = torch::kFloat64;
  double model_to_engine_length_ = 1.0;  // one model length unit in engine units
  double model_to_engine_energy_ = 1.0;
  std::string engine_length_unit_ = "Ang";  // for messages
  double min_distance_override_ = -1.0;     // model length units; < 0: the model's own
  NeighborLimits limits_;
  bool has_extrapolation_method_ = false;  // separate `extrapolation_counts` (a second descriptor pass)
  bool has_fused_extrapolation_ = false;   // `forward_with_extrapolation`
  bool has_forward_members_ = false;       // `forward_members`: one backward pass for all members
};

}  // namespace nnpkit
