#include "internal/NNPForceImpl.h"

#include <openmm/OpenMMException.h>
#include <openmm/System.h>
#include <openmm/internal/ContextImpl.h>

#include <algorithm>
#include <array>
#include <iostream>
#include <set>
#include <string>

#include "core/errors.h"
#include "core/model.h"

namespace NNPKitPlugin {
namespace {

OpenMM::OpenMMException error(const std::string& what) { return OpenMM::OpenMMException("NNPForce: " + what); }

// Whether a Force other than `self` in the System uses periodic boundary conditions.
bool othersArePeriodic(const OpenMM::System& system, const OpenMM::Force& self) {
  for (int i = 0; i < system.getNumForces(); ++i) {
    const OpenMM::Force& f = system.getForce(i);
    if (&f != &self && f.usesPeriodicBoundaryConditions()) return true;
  }
  return false;
}

}  // namespace

NNPForceImpl::NNPForceImpl(const NNPForce& owner) : OpenMM::CustomCPPForceImpl(owner), owner_(owner) {}

NNPForceImpl::~NNPForceImpl() = default;

void NNPForceImpl::initialize(OpenMM::ContextImpl& context) {
  const OpenMM::System& system = context.getSystem();
  particles_ = owner_.getParticles();
  periodic_ = owner_.usesPeriodicBoundaryConditions();
  atomicNumbers_.assign(owner_.getAtomicNumbers().begin(), owner_.getAtomicNumbers().end());

  // Everything checkable is checked here, so a bad setup fails at Context creation.
  const int n = system.getNumParticles();
  if (owner_.actsOnAllParticles() && static_cast<int>(particles_.size()) != n) {
    throw error("got " + std::to_string(particles_.size()) + " elements and no particle list, but the System has " +
                std::to_string(n) + " particles; give one element per particle, or the indices of the particles " +
                "the model acts on (ML/MM)");
  }
  std::set<int> seen;
  for (const int p : particles_) {
    if (p < 0 || p >= n) {
      throw error("particle index " + std::to_string(p) + " is out of range: the System has " + std::to_string(n) +
                  " particles");
    }
    if (!seen.insert(p).second) throw error("particle " + std::to_string(p) + " is listed twice");
  }
  try {
    model_ = std::make_unique<nnpkit::Model>(owner_.getModelFile());
    model_->set_engine_units("nm", "kJ/mol");
    model_->set_min_distance(owner_.getMinDistance());
    model_->species_indices(atomicNumbers_);  // the elements, checked once here
  } catch (const nnpkit::UnknownElementError& e) {
    throw error("particle " + std::to_string(particles_[e.atom]) + " " + e.detail + " (model " +
                owner_.getModelFile() + ")");
  } catch (const std::exception& e) {
    throw error(e.what());
  }
  if (!periodic_ && othersArePeriodic(system, owner_)) {
    std::cerr << "NNPForce warning: the System is periodic but this NNPForce is not, so the model sees its "
              << particles_.size() << " particles as an open cluster; call setUsesPeriodicBoundaryConditions(True) "
              << "if they should feel the box (create_nnp_force does so for a Topology with a box)" << std::endl;
  }
  CustomCPPForceImpl::initialize(context);  // the platform's kernel that calls computeForce
}

double NNPForceImpl::calcForcesAndEnergy(OpenMM::ContextImpl& context, bool includeForces, bool includeEnergy,
                                         int groups) {
  // Reference and CPU call computeForce() from inside the base class's call below.
  // OpenCL, CUDA and HIP (OpenMM's common kernels) start it on a worker thread just
  // before this is called, so that the model overlaps the device's work, and collect
  // it after every Force's call. Either way the n-th evaluation of this force's group
  // seen here is the n-th computeForce().
  if ((groups & (1 << forceGroup)) != 0) {
    const int64_t evaluation = ++evaluationsSeen_;
    if (!includeForces) energyOnlyEvaluation_ = evaluation;
  }
  return CustomCPPForceImpl::calcForcesAndEnergy(context, includeForces, includeEnergy, groups);
}

nnpkit::EvaluationOutput NNPForceImpl::evaluate(OpenMM::ContextImpl& context,
                                                const std::vector<OpenMM::Vec3>& positions,
                                                const nnpkit::EvaluationRequest& request) const {
  std::vector<double> subset(3 * particles_.size());
  for (size_t i = 0; i < particles_.size(); ++i) {
    const OpenMM::Vec3& r = positions[particles_[i]];
    for (int k = 0; k < 3; ++k) subset[3 * i + k] = r[k];
  }
  std::array<double, 9> cell{};
  std::array<bool, 3> pbc{periodic_, periodic_, periodic_};
  if (periodic_) {
    OpenMM::Vec3 box[3];  // rows are lattice vectors, as the core wants
    context.getPeriodicBoxVectors(box[0], box[1], box[2]);
    for (int a = 0; a < 3; ++a)
      for (int k = 0; k < 3; ++k) cell[3 * a + k] = box[a][k];
  }
  // The core's indices are positions in the subset; the user knows System indices.
  try {
    return model_->compute(subset, atomicNumbers_, cell, pbc, request);
  } catch (const nnpkit::AtomsTooCloseError& e) {
    throw error("particles " + std::to_string(particles_[e.atom_i]) + " and " + std::to_string(particles_[e.atom_j]) +
                " overlap: they are " + std::to_string(e.distance) + " nm apart, closer than the model's " +
                "min_distance of " + std::to_string(e.limit) + " nm (the model has never seen atoms that close; " +
                "NNPForce.setMinDistance lowers it deliberately)");
  } catch (const nnpkit::NonFinitePositionError& e) {
    throw error("the position of particle " + std::to_string(particles_[e.atom]) +
                " is not finite (NaN or infinity): the simulation has probably blown up");
  } catch (const std::exception& e) {
    throw error(e.what());
  }
}

double NNPForceImpl::computeForce(OpenMM::ContextImpl& context, const std::vector<OpenMM::Vec3>& positions,
                                  std::vector<OpenMM::Vec3>& forces) {
  // Energy-only evaluations skip the backward pass. calcForcesAndEnergy() marks the
  // n-th evaluation as energy-only before this starts (Reference, CPU) or, on a
  // worker thread, a moment after it starts; the core asks again after the forward
  // pass, by when the mark is there unless the main thread was held up. Unmarked
  // means forces: at worst a backward pass nobody needed, never missing forces.
  const int64_t evaluation = ++evaluationsComputed_;
  const auto energyOnly = [this, evaluation] { return energyOnlyEvaluation_.load() == evaluation; };
  nnpkit::EvaluationRequest request;
  request.forces = !energyOnly();
  if (request.forces) request.forces_wanted = [energyOnly] { return !energyOnly(); };
  const auto result = evaluate(context, positions, request);
  // The platform adds all of `forces` (one entry per System particle) to its own.
  std::fill(forces.begin(), forces.end(), OpenMM::Vec3());
  if (result.has_forces) {
    const double* f = result.forces.data();
    for (size_t i = 0; i < particles_.size(); ++i) {
      forces[particles_[i]] = OpenMM::Vec3(f[3 * i], f[3 * i + 1], f[3 * i + 2]);
    }
  }
  return result.energy;
}

NNPCommitteeDeviation NNPForceImpl::computeCommitteeDeviation(OpenMM::ContextImpl& context) {
  std::vector<OpenMM::Vec3> positions;
  context.getPositions(positions);
  nnpkit::EvaluationRequest request;
  request.committee_statistics = true;  // what the deviation is made of
  const auto result = evaluate(context, positions, request);
  NNPCommitteeDeviation out;
  out.energyStd = result.energy_std;
  if (result.has_committee_statistics) {
    out.memberEnergies = result.member_energies;
    out.forcesStd = result.forces_std;
  } else {  // a single model
    out.memberEnergies.assign(1, result.energy);
    out.forcesStd.assign(particles_.size(), 0.0);
  }
  return out;
}

}  // namespace NNPKitPlugin
