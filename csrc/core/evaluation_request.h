// What one evaluation of a model asks for and what it gives back, in plain C++
// (no torch headers), so that every engine adapter (LAMMPS, OpenMM, Python) meets
// the core with the same vocabulary. One rule for the defaults: nothing that costs
// more than the mean energy and forces is computed unless asked for.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

namespace nnpkit {

struct EvaluationRequest {
  // Forces, virial and everything else that needs dE/dr. false: energies only,
  // with no autograd graph and no backward pass (MC moves, energy-only queries).
  bool forces = true;
  // For engines that learn only during an evaluation whether they want forces
  // (OpenMM's GPU platforms start the model before they say): with forces true,
  // asked once after the forward pass; false skips the backward pass after all,
  // as if forces had been false.
  std::function<bool()> forces_wanted;
  bool atom_energies = false;
  bool atom_virials = false;  // needs forces
  // Per-member energies, forces and virials of a committee, and their deviations.
  // Models with `forward_members` (ANI) get all members' gradients from one
  // backward pass; others take one backward pass per member.
  bool committee_statistics = false;
  // Per-atom count of descriptors outside the training range, for models that
  // provide it (a `forward_with_extrapolation` or `extrapolation_counts` method).
  bool extrapolation = false;
};

// The model contract's inputs as plain arrays: atoms 0..n_local-1 are local (only
// their energies count), the rest ghost or periodic-image atoms.
struct ModelInput {
  std::vector<int64_t> species;     // [N] indices into the model's species
  int64_t n_local = 0;
  std::vector<int64_t> centres;     // [E] grouped by centre, ascending
  std::vector<int64_t> neighbours;  // [E]
  std::vector<double> vectors;      // [E*3] x_neighbour - x_centre, engine length units
  int64_t n_atoms() const { return static_cast<int64_t>(species.size()); }
  int64_t n_edges() const { return static_cast<int64_t>(centres.size()); }
};

// Everything in the engine's units, per model atom (ModelInput order), row-major.
struct EvaluationOutput {
  int64_t n_atoms = 0;
  int committee_size = 1;
  double energy = 0.0;                 // local atoms, committee mean
  // With forces (request.forces and, if given, forces_wanted()):
  bool has_forces = false;
  std::vector<double> forces;          // [N*3], ghosts included (engines send them to their owners)
  std::array<double, 9> virial{};      // W_ab = -sum_e r_a dE/dr_b
  std::vector<double> atom_virials;    // [N*9] with request.atom_virials; each edge split evenly
  std::vector<double> atom_energies;   // [N] with request.atom_energies (zero for ghosts)
  // With request.committee_statistics and committee_size > 1:
  bool has_committee_statistics = false;
  std::vector<double> member_energies;  // [M]
  double energy_std = 0.0;              // population standard deviation
  std::vector<double> member_forces;    // [M*N*3] with forces
  std::vector<double> forces_std;       // [N] with forces: DeePMD-kit's force deviation (committee_deviation.h)
  std::vector<double> member_virials;   // [M*9] with forces
  // With request.extrapolation and a model that provides it:
  bool has_extrapolation_counts = false;
  std::vector<int64_t> extrapolation_counts;  // [n_local]
};

}  // namespace nnpkit
