#include "nnp_model.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>

#include "core/elements.h"
#include "core/errors.h"
#include "core/model_runner.h"

namespace nnpkit_lammps {
namespace {

std::vector<double> to_vector(const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat64).contiguous();
  const double* p = c.data_ptr<double>();
  return std::vector<double>(p, p + c.numel());
}

}  // namespace

NnpModel::NnpModel(const std::string& path) {
  try {
    runner_ = std::make_unique<nnpkit::ModelRunner>(path);
  } catch (const c10::Error& e) {
    throw std::runtime_error(e.what_without_backtrace());
  }
}

NnpModel::~NnpModel() = default;

const std::string& NnpModel::path() const { return runner_->path(); }

void NnpModel::set_engine_units(const std::string& length_unit, const std::string& energy_unit) {
  runner_->set_engine_units(length_unit, energy_unit);
}

int NnpModel::species_index(const std::string& element) const {
  return runner_->metadata().species_index(nnpkit::atomic_number(element));
}

std::vector<std::string> NnpModel::species() const { return runner_->metadata().species; }
std::string NnpModel::length_unit() const { return runner_->metadata().length_unit; }
std::string NnpModel::energy_unit() const { return runner_->metadata().energy_unit; }
double NnpModel::cutoff() const { return runner_->cutoff(); }
double NnpModel::interaction_range() const { return runner_->interaction_range(); }
double NnpModel::min_distance() const { return runner_->min_distance(); }
void NnpModel::set_min_distance(double engine_length) { runner_->set_min_distance(engine_length); }
void NnpModel::set_max_neighbors(int64_t max_neighbors) {
  auto limits = runner_->neighbor_limits();
  limits.max_neighbors_per_atom = max_neighbors > 0 ? max_neighbors : nnpkit::NeighborLimits().max_neighbors_per_atom;
  runner_->set_neighbor_limits(limits);
}
int64_t NnpModel::max_neighbors() const { return runner_->neighbor_limits().max_neighbors_per_atom; }
int NnpModel::committee_size() const { return runner_->metadata().committee_size; }
bool NnpModel::provides_extrapolation() const { return runner_->provides_extrapolation(); }

void NnpModel::set_num_threads(int n) { at::set_num_threads(n); }
int NnpModel::num_threads() { return at::get_num_threads(); }

ModelOutput NnpModel::evaluate(const ModelEdges& edges, const EvaluationRequest& request) const {
  const auto n_atoms = static_cast<int64_t>(edges.species.size());
  const int64_t n_edges = edges.n_edges();
  ModelOutput out;
  out.committee_size = committee_size();
  if (n_atoms == 0) {  // a rank that owns none of the model's atoms
    if (request.committee && out.committee_size > 1) out.member_virials.assign(9 * out.committee_size, 0.0);
    return out;
  }
  auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  // from_blob does not copy; the runner reads these during evaluate only.
  auto species = torch::from_blob(const_cast<int64_t*>(edges.species.data()), {n_atoms}, i64);
  auto edge_index = torch::empty({2, n_edges}, i64);
  std::copy(edges.centres.begin(), edges.centres.end(), edge_index.data_ptr<int64_t>());
  std::copy(edges.neighbours.begin(), edges.neighbours.end(), edge_index.data_ptr<int64_t>() + n_edges);
  auto vectors = torch::from_blob(const_cast<double*>(edges.vectors.data()), {n_edges, 3},
                                  torch::TensorOptions().dtype(torch::kFloat64));

  nnpkit::EvaluateOptions options;
  options.atom_energies = request.atom_energies;
  options.atom_virials = request.atom_virials;
  options.committee_statistics = request.committee;
  options.extrapolation = request.extrapolation;
  nnpkit::EvaluationResult result;
  try {
    result = runner_->evaluate(species, edge_index, vectors, edges.n_local, options);
  } catch (const nnpkit::AtomsTooCloseError& e) {
    throw OverlapError(e.what(), edges.engine_index[e.atom_i], edges.engine_index[e.atom_j], e.distance, e.limit);
  } catch (const c10::Error& e) {
    throw std::runtime_error(e.what_without_backtrace());
  }

  out.energy = result.energy;
  const auto virial = to_vector(result.virial);
  std::copy(virial.begin(), virial.end(), out.virial);
  out.forces = to_vector(result.forces);
  if (request.atom_energies) out.atom_energies = to_vector(result.atom_energies);
  if (request.atom_virials) out.atom_virials = to_vector(result.atom_virials);
  if (result.member_forces.defined()) {
    out.member_forces = to_vector(result.member_forces);
    out.member_virials = to_vector(result.member_virials);
  }
  if (result.extrapolation_counts.defined()) {
    const auto counts = result.extrapolation_counts.to(torch::kInt64).contiguous();
    const int64_t* p = counts.data_ptr<int64_t>();
    out.extrapolation_counts.assign(p, p + counts.numel());
  }
  return out;
}

}  // namespace nnpkit_lammps
