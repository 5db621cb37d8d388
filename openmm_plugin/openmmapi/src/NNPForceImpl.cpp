#include "internal/NNPForceImpl.h"

#include <openmm/OpenMMException.h>
#include <openmm/System.h>
#include <openmm/internal/ContextImpl.h>

#include <algorithm>
#include <array>
#include <iostream>
#include <set>
#include <string>

#include "core/elements.h"
#include "core/errors.h"
#include "core/model_runner.h"

namespace NNPKitPlugin {
namespace {

OpenMM::OpenMMException error(const std::string& what) { return OpenMM::OpenMMException("NNPForce: " + what); }

std::string elementName(int z) {
  try {
    return nnpkit::element_symbol(z);
  } catch (const std::exception&) {
    return "Z=" + std::to_string(z);
  }
}

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
    runner_ = std::make_unique<nnpkit::ModelRunner>(owner_.getModelFile());
    runner_->set_engine_units("nm", "kJ/mol");
    runner_->set_min_distance(owner_.getMinDistance());
  } catch (const std::exception& e) {
    throw error(e.what());
  }
  const auto& metadata = runner_->metadata();
  for (size_t i = 0; i < particles_.size(); ++i) {
    if (metadata.species_index(static_cast<int>(atomicNumbers_[i])) < 0) {
      std::string known;
      for (const auto& s : metadata.species) known += (known.empty() ? "" : " ") + s;
      throw error("particle " + std::to_string(particles_[i]) + " is " + elementName(atomicNumbers_[i]) +
                  ", an element the model " + owner_.getModelFile() + " does not know (model species: " + known +
                  ")");
    }
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

nnpkit::EvaluationResult NNPForceImpl::evaluate(OpenMM::ContextImpl& context,
                                                const std::vector<OpenMM::Vec3>& positions,
                                                const nnpkit::EvaluateOptions& options) const {
  const auto n = static_cast<int64_t>(particles_.size());
  auto subset = torch::empty({n, 3}, torch::kFloat64);
  double* x = subset.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    const OpenMM::Vec3& r = positions[particles_[i]];
    for (int k = 0; k < 3; ++k) x[3 * i + k] = r[k];
  }
  std::array<double, 9> cell{};
  std::array<bool, 3> pbc{periodic_, periodic_, periodic_};
  if (periodic_) {
    OpenMM::Vec3 box[3];  // rows are lattice vectors, as the core wants
    context.getPeriodicBoxVectors(box[0], box[1], box[2]);
    for (int a = 0; a < 3; ++a)
      for (int k = 0; k < 3; ++k) cell[3 * a + k] = box[a][k];
  }
  try {
    return runner_->compute(subset, atomicNumbers_, cell, pbc, options);
  } catch (const nnpkit::AtomsTooCloseError& e) {
    // The core's indices are positions in the subset; the user knows System indices.
    throw error("particles " + std::to_string(particles_[e.atom_i]) + " and " + std::to_string(particles_[e.atom_j]) +
                " overlap: they are " + std::to_string(e.distance) + " nm apart, closer than the model's " +
                "min_distance of " + std::to_string(e.limit) + " nm (the model has never seen atoms that close; " +
                "NNPForce.setMinDistance lowers it deliberately)");
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
  nnpkit::EvaluateOptions options;
  options.forces = !energyOnly();
  if (options.forces) options.forces_wanted = [energyOnly] { return !energyOnly(); };
  options.atom_energies = false;
  options.committee_statistics = false;
  const auto result = evaluate(context, positions, options);
  // The platform adds all of `forces` (one entry per System particle) to its own.
  std::fill(forces.begin(), forces.end(), OpenMM::Vec3());
  if (result.forces.defined()) {
    const auto f = result.forces.accessor<double, 2>();
    for (size_t i = 0; i < particles_.size(); ++i) forces[particles_[i]] = OpenMM::Vec3(f[i][0], f[i][1], f[i][2]);
  }
  return result.energy;
}

NNPCommitteeDeviation NNPForceImpl::computeCommitteeDeviation(OpenMM::ContextImpl& context) {
  std::vector<OpenMM::Vec3> positions;
  context.getPositions(positions);
  nnpkit::EvaluateOptions options;
  options.atom_energies = false;
  options.committee_statistics = true;
  const auto result = evaluate(context, positions, options);
  NNPCommitteeDeviation out;
  out.energyStd = result.energy_std;
  if (result.member_energies.defined()) {
    const auto e = result.member_energies.contiguous();
    out.memberEnergies.assign(e.data_ptr<double>(), e.data_ptr<double>() + e.numel());
  } else {
    out.memberEnergies.assign(1, result.energy);
  }
  if (result.forces_std.defined()) {
    const auto s = result.forces_std.contiguous();
    out.forcesStd.assign(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
  } else {
    out.forcesStd.assign(particles_.size(), 0.0);
  }
  return out;
}

}  // namespace NNPKitPlugin
