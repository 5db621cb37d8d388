#include "internal/NNPForceImpl.h"

#include <openmm/internal/ContextImpl.h>

#include "NNPKernels.h"

namespace NNPKitPlugin {

void NNPForceImpl::initialize(OpenMM::ContextImpl& context) {
  owner_.checkSystem(context.getSystem());
  kernel_ = context.getPlatform().createKernel(CalcNNPForceKernel::Name(), context);
  kernel_.getAs<CalcNNPForceKernel>().initialize(context.getSystem(), owner_);
}

double NNPForceImpl::calcForcesAndEnergy(OpenMM::ContextImpl& context, bool includeForces, bool includeEnergy,
                                         int groups) {
  if ((groups & (1 << owner_.getForceGroup())) == 0) return 0.0;
  return kernel_.getAs<CalcNNPForceKernel>().execute(context, includeForces, includeEnergy);
}

std::vector<std::string> NNPForceImpl::getKernelNames() { return {CalcNNPForceKernel::Name()}; }

NNPCommitteeDeviation NNPForceImpl::computeCommitteeDeviation(OpenMM::ContextImpl& context) {
  return kernel_.getAs<CalcNNPForceKernel>().computeCommitteeDeviation(context);
}

}  // namespace NNPKitPlugin
