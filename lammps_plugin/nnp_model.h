// The plugin's view of an nnpkit model: nnpkit::ModelRunner behind an interface
// of plain arrays, so that the LAMMPS translation units never include torch
// headers (LAMMPS and torch each bundle their own fmt library).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ghost_edges.h"

namespace nnpkit {
class ModelRunner;
}

namespace nnpkit_lammps {

struct EvaluationRequest {
  bool atom_energies = false;
  bool atom_virials = false;
  bool committee = false;   // per-member forces and virials (one backward pass per member)
  bool extrapolation = false;  // per-atom extrapolation counts, if the model provides them
};

// Per model atom (ModelEdges order), engine units.
struct ModelOutput {
  double energy = 0.0;                  // sum over owned atoms
  double virial[9] = {};                // W_ab = -sum_e r_a dE/dr_b, row-major
  std::vector<double> forces;           // [N*3], ghosts included
  std::vector<double> atom_energies;    // [N] if requested
  std::vector<double> atom_virials;     // [N*9] if requested, row-major 3x3 per atom
  int committee_size = 1;
  std::vector<double> member_forces;    // [M*N*3] if committee requested and M > 1
  std::vector<double> member_virials;   // [M*9]
  std::vector<int64_t> extrapolation_counts;  // [n_local] if requested and provided
};

class NnpModel {
 public:
  // Throws std::runtime_error with the core's message (missing, corrupt, incompatible file).
  explicit NnpModel(const std::string& path);
  ~NnpModel();
  NnpModel(const NnpModel&) = delete;
  NnpModel& operator=(const NnpModel&) = delete;

  const std::string& path() const;
  // ASE unit names; throws std::runtime_error for unknown names.
  void set_engine_units(const std::string& length_unit, const std::string& energy_unit);
  // Species index of an element symbol; -1 if the model does not handle it. Throws
  // std::runtime_error if the symbol is not a chemical element at all.
  int species_index(const std::string& element) const;
  std::vector<std::string> species() const;
  std::string length_unit() const;
  std::string energy_unit() const;
  double cutoff() const;              // engine length units
  double interaction_range() const;   // engine length units
  double min_distance() const;        // engine length units
  // The user's override of the model's min_distance (engine length units; < 0: the model's).
  void set_min_distance(double engine_length);
  // Neighbours per atom the model may see before evaluation is refused (0: the core's default).
  void set_max_neighbors(int64_t max_neighbors);
  int64_t max_neighbors() const;
  int committee_size() const;
  // Whether the model can count descriptors outside its training range.
  bool provides_extrapolation() const;

  // Throws OverlapError (engine indices) for a pair closer than min_distance(),
  // std::runtime_error with the core's message for anything else.
  ModelOutput evaluate(const ModelEdges& edges, const EvaluationRequest& request) const;

  // torch's intra-op threads (also the core's descriptor loops); process wide.
  static void set_num_threads(int n);
  static int num_threads();

 private:
  std::unique_ptr<nnpkit::ModelRunner> runner_;
};

}  // namespace nnpkit_lammps
