// Registers the NNPForce kernel on every platform that keeps its data the
// Reference way (Reference and CPU); loadPluginLibrary calls this.
#include <openmm/KernelFactory.h>
#include <openmm/OpenMMException.h>
#include <openmm/internal/windowsExport.h>
#include <openmm/reference/ReferencePlatform.h>

#include "ReferenceNNPKernels.h"

namespace NNPKitPlugin {

class ReferenceNNPKernelFactory : public OpenMM::KernelFactory {
 public:
  OpenMM::KernelImpl* createKernelImpl(std::string name, const OpenMM::Platform& platform,
                                       OpenMM::ContextImpl&) const override {
    if (name == CalcNNPForceKernel::Name()) return new ReferenceCalcNNPForceKernel(name, platform);
    throw OpenMM::OpenMMException("NNPForce plugin: no kernel named '" + name + "'");
  }
};

}  // namespace NNPKitPlugin

extern "C" OPENMM_EXPORT void registerPlatforms() {}

extern "C" OPENMM_EXPORT void registerKernelFactories() {
  for (int i = 0; i < OpenMM::Platform::getNumPlatforms(); ++i) {
    OpenMM::Platform& platform = OpenMM::Platform::getPlatform(i);
    if (dynamic_cast<OpenMM::ReferencePlatform*>(&platform) != nullptr) {
      // The platform takes ownership of its factories.
      platform.registerKernelFactory(NNPKitPlugin::CalcNNPForceKernel::Name(),
                                     new NNPKitPlugin::ReferenceNNPKernelFactory());
    }
  }
}
