// NNPForce: an nnpkit model as an OpenMM Force, for all particles of a System
// or for a subset of them (ML/MM). The force only describes what to evaluate;
// NNPForceImpl hands the particles to nnpkit's core, which does the physics, on
// every OpenMM platform.
#pragma once

#include <openmm/Context.h>
#include <openmm/Force.h>

#include <string>
#include <vector>

namespace NNPKitPlugin {

// Committee spread at one configuration, in OpenMM units.
struct NNPCommitteeDeviation {
  double energyStd = 0.0;              // kJ/mol, population standard deviation of member energies
  std::vector<double> memberEnergies;  // kJ/mol, one per committee member
  std::vector<double> forcesStd;       // kJ/mol/nm, per particle of the force: sqrt(mean_m |F_m - <F>|^2)
};

class NNPForce : public OpenMM::Force {
 public:
  // modelFile: an nnpkit model file. atomicNumbers: element of each particle the
  // force acts on. particles: their indices in the System (empty: every particle
  // of the System, in order, so atomicNumbers must then have one per particle).
  // The model is loaded, and elements and indices checked, when a Context is created.
  NNPForce(const std::string& modelFile, const std::vector<int>& atomicNumbers,
           const std::vector<int>& particles = std::vector<int>());

  const std::string& getModelFile() const { return modelFile_; }
  const std::vector<int>& getAtomicNumbers() const { return atomicNumbers_; }
  const std::vector<int>& getParticles() const { return particles_; }
  int getNumParticles() const { return static_cast<int>(particles_.size()); }
  // Whether the force was made without a particle list (for every particle of its System).
  bool actsOnAllParticles() const { return allParticles_; }

  // Smallest distance between two particles the model accepts, nm; negative (the
  // default): the model's own min_distance (the closest pair of its training data).
  // Closer pairs stop the evaluation with an error; lower it only deliberately.
  void setMinDistance(double distance) { minDistance_ = distance; }
  double getMinDistance() const { return minDistance_; }

  // Whether the model sees the System's periodic box (triclinic allowed) or an open system.
  void setUsesPeriodicBoundaryConditions(bool periodic) { periodic_ = periodic; }
  bool usesPeriodicBoundaryConditions() const override { return periodic_; }

  // Evaluates the committee at the Context's current positions (one extra model
  // evaluation, so call it only when the numbers are wanted). The force must be
  // part of the Context's System. Single models give zeros.
  NNPCommitteeDeviation computeCommitteeDeviation(OpenMM::Context& context) const;

 protected:
  OpenMM::ForceImpl* createImpl() const override;

 private:
  std::string modelFile_;
  std::vector<int> atomicNumbers_;
  std::vector<int> particles_;
  bool allParticles_ = false;
  bool periodic_ = false;
  double minDistance_ = -1.0;
};

}  // namespace NNPKitPlugin
