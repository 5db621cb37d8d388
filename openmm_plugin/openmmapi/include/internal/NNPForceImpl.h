// The per-Context side of NNPForce. It is an OpenMM::CustomCPPForceImpl: every
// platform (Reference, CPU, OpenCL, CUDA, HIP) hands it the positions on the host
// and moves the forces it returns to wherever that platform keeps them, so one
// kernel-free code path feeds nnpkit's core on all of them.
#pragma once

#include <openmm/Vec3.h>
#include <openmm/internal/CustomCPPForceImpl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "NNPForce.h"

#include "core/evaluation_request.h"

namespace nnpkit {
class Model;
}  // namespace nnpkit

namespace NNPKitPlugin {

class NNPForceImpl : public OpenMM::CustomCPPForceImpl {
 public:
  explicit NNPForceImpl(const NNPForce& owner);
  ~NNPForceImpl() override;

  // Loads the model and checks the force against the System; throws OpenMMException.
  void initialize(OpenMM::ContextImpl& context) override;
  const NNPForce& getOwner() const override { return owner_; }
  double calcForcesAndEnergy(OpenMM::ContextImpl& context, bool includeForces, bool includeEnergy,
                             int groups) override;
  double computeForce(OpenMM::ContextImpl& context, const std::vector<OpenMM::Vec3>& positions,
                      std::vector<OpenMM::Vec3>& forces) override;

  NNPCommitteeDeviation computeCommitteeDeviation(OpenMM::ContextImpl& context);

 private:
  // The model on the force's particles; the core's errors become OpenMMExceptions
  // that name System particle indices.
  nnpkit::EvaluationOutput evaluate(OpenMM::ContextImpl& context, const std::vector<OpenMM::Vec3>& positions,
                                    const nnpkit::EvaluationRequest& request) const;

  const NNPForce& owner_;
  std::unique_ptr<nnpkit::Model> model_;
  std::vector<int> particles_;          // System indices of the particles the model sees
  std::vector<int64_t> atomicNumbers_;  // same order
  bool periodic_ = false;
  // computeForce() is not told whether forces are wanted; calcForcesAndEnergy() is,
  // but on some platforms only after computeForce() has started on a worker thread.
  // Both count the evaluations of this force's group, so that computeForce() can
  // tell whether the energy-only mark is its own evaluation's (see computeForce).
  std::atomic<int64_t> evaluationsSeen_{0};         // by calcForcesAndEnergy()
  std::atomic<int64_t> energyOnlyEvaluation_{-1};   // the latest with includeForces false
  int64_t evaluationsComputed_ = 0;                 // by computeForce(), never run twice at once
};

}  // namespace NNPKitPlugin
