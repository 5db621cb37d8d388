// Registers the serialization proxy when the library is loaded, so that
// XmlSerializer (also inside CustomCVForce, which clones its variables through
// it) handles NNPForce without any Python module imported.
#include <openmm/serialization/SerializationProxy.h>

#include "NNPForce.h"
#include "NNPForceProxy.h"

extern "C" __attribute__((constructor)) void registerNNPKitSerializationProxies() {
  OpenMM::SerializationProxy::registerProxy(typeid(NNPKitPlugin::NNPForce), new NNPKitPlugin::NNPForceProxy());
}
