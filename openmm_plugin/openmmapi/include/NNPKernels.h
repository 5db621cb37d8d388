// The kernel interface of NNPForce; each platform provides an implementation.
#pragma once

#include <openmm/KernelImpl.h>
#include <openmm/Platform.h>
#include <openmm/System.h>
#include <openmm/internal/ContextImpl.h>

#include <string>

#include "NNPForce.h"

namespace NNPKitPlugin {

class CalcNNPForceKernel : public OpenMM::KernelImpl {
 public:
  static std::string Name() { return "CalcNNPForce"; }
  CalcNNPForceKernel(const std::string& name, const OpenMM::Platform& platform) : OpenMM::KernelImpl(name, platform) {}
  // Loads the model and checks the force against the System; throws OpenMMException.
  virtual void initialize(const OpenMM::System& system, const NNPForce& force) = 0;
  // Adds the forces (if includeForces) and returns the energy, kJ/mol.
  virtual double execute(OpenMM::ContextImpl& context, bool includeForces, bool includeEnergy) = 0;
  virtual NNPCommitteeDeviation computeCommitteeDeviation(OpenMM::ContextImpl& context) = 0;
};

}  // namespace NNPKitPlugin
