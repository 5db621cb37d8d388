#include "NNPForceProxy.h"

#include <openmm/OpenMMException.h>
#include <openmm/serialization/SerializationNode.h>

#include <memory>

#include "NNPForce.h"

namespace NNPKitPlugin {

namespace {
constexpr int kVersion = 1;
}

void NNPForceProxy::serialize(const void* object, OpenMM::SerializationNode& node) const {
  const auto& force = *static_cast<const NNPForce*>(object);
  node.setIntProperty("version", kVersion);
  node.setStringProperty("modelFile", force.getModelFile());
  node.setBoolProperty("usesPeriodic", force.usesPeriodicBoundaryConditions());
  node.setIntProperty("forceGroup", force.getForceGroup());
  node.setStringProperty("name", force.getName());
  node.setBoolProperty("allParticles", force.actsOnAllParticles());
  node.setDoubleProperty("minDistance", force.getMinDistance());
  auto& particles = node.createChildNode("Particles");
  for (int i = 0; i < force.getNumParticles(); ++i) {
    particles.createChildNode("Particle")
        .setIntProperty("index", force.getParticles()[i])
        .setIntProperty("z", force.getAtomicNumbers()[i]);
  }
}

void* NNPForceProxy::deserialize(const OpenMM::SerializationNode& node) const {
  const int version = node.getIntProperty("version");
  if (version != kVersion) {
    throw OpenMM::OpenMMException("NNPForce: unsupported serialization version " + std::to_string(version) +
                                  " (this plugin reads version " + std::to_string(kVersion) + ")");
  }
  std::vector<int> indices, numbers;
  for (const auto& particle : node.getChildNode("Particles").getChildren()) {
    indices.push_back(particle.getIntProperty("index"));
    numbers.push_back(particle.getIntProperty("z"));
  }
  // Files without "allParticles" (written before it existed) name every particle.
  if (node.getBoolProperty("allParticles", false)) indices.clear();
  auto force = std::make_unique<NNPForce>(node.getStringProperty("modelFile"), numbers, indices);
  force->setMinDistance(node.getDoubleProperty("minDistance", -1.0));
  force->setUsesPeriodicBoundaryConditions(node.getBoolProperty("usesPeriodic"));
  force->setForceGroup(node.getIntProperty("forceGroup", 0));
  force->setName(node.getStringProperty("name", force->getName()));
  return force.release();
}

}  // namespace NNPKitPlugin
