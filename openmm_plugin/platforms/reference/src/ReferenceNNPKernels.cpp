#include "ReferenceNNPKernels.h"

#include <openmm/OpenMMException.h>
#include <openmm/reference/ReferencePlatform.h>

#include <array>
#include <set>
#include <string>

#include "core/elements.h"
#include "core/errors.h"

namespace NNPKitPlugin {
namespace {

OpenMM::OpenMMException error(const std::string& what) { return OpenMM::OpenMMException("NNPForce: " + what); }

OpenMM::ReferencePlatform::PlatformData& platformData(OpenMM::ContextImpl& context) {
  return *static_cast<OpenMM::ReferencePlatform::PlatformData*>(context.getPlatformData());
}

std::string elementName(int z) {
  try {
    return nnpkit::element_symbol(z);
  } catch (const std::exception&) {
    return "Z=" + std::to_string(z);
  }
}

}  // namespace

void ReferenceCalcNNPForceKernel::initialize(const OpenMM::System& system, const NNPForce& force) {
  particles_ = force.getParticles();
  periodic_ = force.usesPeriodicBoundaryConditions();
  atomicNumbers_.assign(force.getAtomicNumbers().begin(), force.getAtomicNumbers().end());

  // Everything checkable is checked here, so a bad setup fails at Context creation.
  std::set<int> seen;
  for (const int p : particles_) {
    if (p < 0 || p >= system.getNumParticles()) {
      throw error("particle index " + std::to_string(p) + " is out of range: the System has " +
                  std::to_string(system.getNumParticles()) + " particles");
    }
    if (!seen.insert(p).second) throw error("particle " + std::to_string(p) + " is listed twice");
  }
  try {
    runner_ = std::make_unique<nnpkit::ModelRunner>(force.getModelFile());
    runner_->set_engine_units("nm", "kJ/mol");
    runner_->set_min_distance(force.getMinDistance());
  } catch (const std::exception& e) {
    throw error(e.what());
  }
  const auto& metadata = runner_->metadata();
  for (size_t i = 0; i < particles_.size(); ++i) {
    if (metadata.species_index(static_cast<int>(atomicNumbers_[i])) < 0) {
      std::string known;
      for (const auto& s : metadata.species) known += (known.empty() ? "" : " ") + s;
      throw error("particle " + std::to_string(particles_[i]) + " is " + elementName(atomicNumbers_[i]) +
                  ", an element the model " + force.getModelFile() + " does not know (model species: " + known +
                  ")");
    }
  }
}

nnpkit::EvaluationResult ReferenceCalcNNPForceKernel::evaluate(OpenMM::ContextImpl& context,
                                                               const nnpkit::EvaluateOptions& options) const {
  auto& data = platformData(context);
  const auto& positions = *data.positions;
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
    const OpenMM::Vec3* box = data.periodicBoxVectors;  // rows are lattice vectors, as the core wants
    for (int a = 0; a < 3; ++a)
      for (int k = 0; k < 3; ++k) cell[3 * a + k] = box[a][k];
  }
  try {
    return runner_->compute(subset, atomicNumbers_, cell, pbc, options);
  } catch (const nnpkit::AtomsTooCloseError& e) {
    throw error("particles " + std::to_string(particles_[e.atom_i]) + " and " + std::to_string(particles_[e.atom_j]) +
                " overlap: they are " + std::to_string(e.distance) + " nm apart, closer than the model's " +
                "min_distance of " + std::to_string(e.limit) + " nm (the model has never seen atoms that close; " +
                "NNPForce.setMinDistance lowers it deliberately)");
  } catch (const std::exception& e) {
    throw error(e.what());
  }
}

double ReferenceCalcNNPForceKernel::execute(OpenMM::ContextImpl& context, bool includeForces, bool includeEnergy) {
  nnpkit::EvaluateOptions options;
  options.atom_energies = false;
  options.committee_statistics = false;
  const auto result = evaluate(context, options);
  if (includeForces) {
    auto& forces = *platformData(context).forces;
    const auto f = result.forces.accessor<double, 2>();
    for (size_t i = 0; i < particles_.size(); ++i) {
      OpenMM::Vec3& target = forces[particles_[i]];
      for (int k = 0; k < 3; ++k) target[k] += f[i][k];
    }
  }
  return result.energy;
}

NNPCommitteeDeviation ReferenceCalcNNPForceKernel::computeCommitteeDeviation(OpenMM::ContextImpl& context) {
  nnpkit::EvaluateOptions options;
  options.atom_energies = false;
  options.committee_statistics = true;
  const auto result = evaluate(context, options);
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
