#include "NNPForce.h"

#include <openmm/OpenMMException.h>

#include <numeric>

#include "internal/NNPForceImpl.h"

namespace NNPKitPlugin {

NNPForce::NNPForce(const std::string& modelFile, const std::vector<int>& atomicNumbers,
                   const std::vector<int>& particles)
    : modelFile_(modelFile), atomicNumbers_(atomicNumbers), particles_(particles), allParticles_(particles.empty()) {
  if (particles_.empty()) {
    particles_.resize(atomicNumbers_.size());
    std::iota(particles_.begin(), particles_.end(), 0);
  }
  if (particles_.size() != atomicNumbers_.size()) {
    throw OpenMM::OpenMMException("NNPForce: got " + std::to_string(atomicNumbers_.size()) + " elements for " +
                                  std::to_string(particles_.size()) + " particles; give one element per particle");
  }
}

OpenMM::ForceImpl* NNPForce::createImpl() const { return new NNPForceImpl(*this); }

NNPCommitteeDeviation NNPForce::computeCommitteeDeviation(OpenMM::Context& context) const {
  return dynamic_cast<NNPForceImpl&>(getImplInContext(context)).computeCommitteeDeviation(getContextImpl(context));
}

}  // namespace NNPKitPlugin
