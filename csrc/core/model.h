// An nnpkit model file as every engine adapter sees it: ModelRunner behind an
// interface of plain arrays (EvaluationRequest in, EvaluationOutput out), so that
// adapters never include torch headers (LAMMPS and torch each bundle their own
// fmt library) and LAMMPS, OpenMM and Python share one request/result vocabulary.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/evaluation_request.h"
#include "core/model_metadata.h"
#include "core/neighbor_limits.h"

namespace nnpkit {

class ModelRunner;

class Model {
 public:
  // Throws ModelFileError for a missing, corrupt or incompatible file.
  explicit Model(const std::string& path);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& path() const;
  const ModelMetadata& metadata() const;
  int committee_size() const { return metadata().committee_size; }
  // Whether the model can count descriptors outside its training range.
  bool provides_extrapolation() const;

  // Units of the numbers the engine passes in and gets back (ASE names; default
  // Ang, eV); throws InputError for unknown names.
  void set_engine_units(const std::string& length_unit, const std::string& energy_unit);
  double cutoff() const;             // engine length units
  double interaction_range() const;  // engine length units
  // Closest pair the model accepts (engine length units), see ModelRunner::min_distance.
  double min_distance() const;
  // The user's override of the model's min_distance (engine length units; < 0: the model's).
  void set_min_distance(double engine_length);
  const NeighborLimits& neighbor_limits() const;
  void set_neighbor_limits(const NeighborLimits& limits);

  // Species indices of atomic numbers; throws UnknownElementError (index into
  // `atomic_numbers`) for the first element the model lacks.
  std::vector<int64_t> species_indices(const std::vector<int64_t>& atomic_numbers) const;

  // The model contract's edges. Throws AtomsTooCloseError (indices into
  // input.species) for a pair closer than min_distance(), InputError for bad
  // input, ModelFileError when the model disagrees with its metadata, and
  // std::runtime_error with the model's message when its evaluation fails.
  EvaluationOutput evaluate(const ModelInput& input, const EvaluationRequest& request) const;

  // Builds the neighbour list itself: positions [N*3] engine units, cell rows are
  // lattice vectors. Throws as evaluate and as ModelRunner::compute (indices into
  // `atomic_numbers`).
  EvaluationOutput compute(const std::vector<double>& positions, const std::vector<int64_t>& atomic_numbers,
                           const std::array<double, 9>& cell, const std::array<bool, 3>& pbc,
                           const EvaluationRequest& request) const;

  // torch's intra-op threads (also the core's descriptor loops); process wide.
  static void set_num_threads(int n);
  static int num_threads();

 private:
  std::unique_ptr<ModelRunner> runner_;
};

}  // namespace nnpkit
