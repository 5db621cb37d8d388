// NNPForce kernel for the Reference platform and every platform derived from it
// (CPU): it reads positions and the box from ReferencePlatform::PlatformData,
// evaluates the model through nnpkit::ModelRunner and adds the forces.
#pragma once

#include <memory>
#include <vector>

#include "NNPKernels.h"
#include "core/model_runner.h"

namespace NNPKitPlugin {

class ReferenceCalcNNPForceKernel : public CalcNNPForceKernel {
 public:
  ReferenceCalcNNPForceKernel(const std::string& name, const OpenMM::Platform& platform)
      : CalcNNPForceKernel(name, platform) {}
  void initialize(const OpenMM::System& system, const NNPForce& force) override;
  double execute(OpenMM::ContextImpl& context, bool includeForces, bool includeEnergy) override;
  NNPCommitteeDeviation computeCommitteeDeviation(OpenMM::ContextImpl& context) override;

 private:
  nnpkit::EvaluationResult evaluate(OpenMM::ContextImpl& context, const nnpkit::EvaluateOptions& options) const;

  std::unique_ptr<nnpkit::ModelRunner> runner_;
  std::vector<int> particles_;          // System indices of the particles the model sees
  std::vector<int64_t> atomicNumbers_;  // same order
  bool periodic_ = false;
};

}  // namespace NNPKitPlugin
