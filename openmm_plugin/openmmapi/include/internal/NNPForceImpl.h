// The per-Context side of NNPForce: owns the platform kernel.
#pragma once

#include <openmm/Kernel.h>
#include <openmm/internal/ForceImpl.h>

#include <map>
#include <string>
#include <vector>

#include "NNPForce.h"

namespace NNPKitPlugin {

class NNPForceImpl : public OpenMM::ForceImpl {
 public:
  explicit NNPForceImpl(const NNPForce& owner) : owner_(owner) {}

  void initialize(OpenMM::ContextImpl& context) override;
  const NNPForce& getOwner() const override { return owner_; }
  void updateContextState(OpenMM::ContextImpl&, bool&) override {}
  double calcForcesAndEnergy(OpenMM::ContextImpl& context, bool includeForces, bool includeEnergy,
                             int groups) override;
  std::map<std::string, double> getDefaultParameters() override { return {}; }
  std::vector<std::string> getKernelNames() override;

  NNPCommitteeDeviation computeCommitteeDeviation(OpenMM::ContextImpl& context);

 private:
  const NNPForce& owner_;
  OpenMM::Kernel kernel_;
};

}  // namespace NNPKitPlugin
