#include "NNPForce.h"

#include <openmm/OpenMMException.h>

#include <atomic>
#include <iostream>
#include <numeric>

#include "internal/NNPForceImpl.h"

namespace NNPKitPlugin {

NNPForce::NNPForce(const std::string& modelFile, const std::vector<int>& atomicNumbers,
                   const std::vector<int>& particles)
    : modelFile_(modelFile), atomicNumbers_(atomicNumbers), particles_(particles) {
  if (particles_.empty()) {
    allParticles_ = true;
    particles_.resize(atomicNumbers_.size());
    std::iota(particles_.begin(), particles_.end(), 0);
  }
  if (particles_.size() != atomicNumbers_.size()) {
    throw OpenMM::OpenMMException("NNPForce: got " + std::to_string(atomicNumbers_.size()) + " elements for " +
                                  std::to_string(particles_.size()) + " particles; give one element per particle");
  }
}

void NNPForce::checkSystem(const OpenMM::System& system) const {
  const int n_system = system.getNumParticles();
  if (allParticles_ && getNumParticles() != n_system) {
    throw OpenMM::OpenMMException(
        "NNPForce: created with " + std::to_string(getNumParticles()) + " elements and no particle list, which " +
        "means all particles of the System, but the System has " + std::to_string(n_system) + " particles: give " +
        "one element per particle, or the System indices of the particles it acts on (ML/MM)");
  }
  if (periodic_ || !allParticles_) return;
  for (int f = 0; f < system.getNumForces(); ++f) {
    const OpenMM::Force& other = system.getForce(f);
    if (&other == this || !other.usesPeriodicBoundaryConditions()) continue;
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true)) {
      std::cerr << "NNPForce warning: the force is not periodic but acts on the whole System, whose other forces "
                   "are periodic: the model sees an open cluster, not the periodic box. Call "
                   "setUsesPeriodicBoundaryConditions(True) (nnpkit.openmm.create_nnp_force does when the Topology "
                   "has a box). This warning is printed once."
                << std::endl;
    }
    return;
  }
}

OpenMM::ForceImpl* NNPForce::createImpl() const { return new NNPForceImpl(*this); }

NNPCommitteeDeviation NNPForce::computeCommitteeDeviation(OpenMM::Context& context) const {
  return dynamic_cast<NNPForceImpl&>(getImplInContext(context)).computeCommitteeDeviation(getContextImpl(context));
}

}  // namespace NNPKitPlugin
