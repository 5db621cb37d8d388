// XmlSerializer support for NNPForce. The model is referenced by its path, not embedded.
#pragma once

#include <openmm/serialization/SerializationProxy.h>

namespace NNPKitPlugin {

class NNPForceProxy : public OpenMM::SerializationProxy {
 public:
  NNPForceProxy() : OpenMM::SerializationProxy("NNPForce") {}
  void serialize(const void* object, OpenMM::SerializationNode& node) const override;
  void* deserialize(const OpenMM::SerializationNode& node) const override;
};

}  // namespace NNPKitPlugin
