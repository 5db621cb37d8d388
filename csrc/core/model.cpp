#include "core/model.h"

#include <ATen/Parallel.h>

#include <algorithm>

#include "core/errors.h"
#include "core/model_runner.h"

namespace nnpkit {
namespace {

std::vector<double> to_vector(const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat64).contiguous();
  const double* p = c.data_ptr<double>();
  return std::vector<double>(p, p + c.numel());
}

// The core throws its own exception types; torch's (c10::Error) become
// std::runtime_error here, so that adapters catch one standard hierarchy.
template <typename F>
auto translating_torch_errors(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    throw std::runtime_error(e.what_without_backtrace());
  }
}

EvaluationOutput to_output(const EvaluationResult& result, int64_t n_atoms, int committee_size) {
  EvaluationOutput out;
  out.n_atoms = n_atoms;
  out.committee_size = committee_size;
  out.energy = result.energy;
  out.has_forces = result.forces.defined();
  if (out.has_forces) {
    out.forces = to_vector(result.forces);
    const auto virial = to_vector(result.virial);
    std::copy(virial.begin(), virial.end(), out.virial.begin());
  }
  if (result.atom_virials.defined()) out.atom_virials = to_vector(result.atom_virials);
  if (result.atom_energies.defined()) out.atom_energies = to_vector(result.atom_energies);
  out.has_committee_statistics = result.member_energies.defined();
  if (out.has_committee_statistics) {
    out.member_energies = to_vector(result.member_energies);
    out.energy_std = result.energy_std;
    if (result.member_forces.defined()) {
      out.member_forces = to_vector(result.member_forces);
      out.forces_std = to_vector(result.forces_std);
      out.member_virials = to_vector(result.member_virials);
    }
  }
  out.has_extrapolation_counts = result.extrapolation_counts.defined();
  if (out.has_extrapolation_counts) {
    const auto counts = result.extrapolation_counts.to(torch::kInt64).contiguous();
    const int64_t* p = counts.data_ptr<int64_t>();
    out.extrapolation_counts.assign(p, p + counts.numel());
  }
  return out;
}

// An evaluation of no atoms at all (a LAMMPS rank that owns none of the model's
// atoms): nothing to run the model on, every sum is zero.
EvaluationOutput empty_output(const EvaluationRequest& request, int committee_size, bool provides_extrapolation) {
  EvaluationOutput out;
  out.committee_size = committee_size;
  out.has_forces = request.forces;
  out.has_committee_statistics = request.committee_statistics && committee_size > 1;
  if (out.has_committee_statistics) {
    out.member_energies.assign(committee_size, 0.0);
    if (request.forces) out.member_virials.assign(9 * static_cast<size_t>(committee_size), 0.0);
  }
  out.has_extrapolation_counts = request.extrapolation && provides_extrapolation;
  return out;
}

}  // namespace

Model::Model(const std::string& path)
    : runner_(translating_torch_errors([&] { return std::make_unique<ModelRunner>(path); })) {}

Model::~Model() = default;

const std::string& Model::path() const { return runner_->path(); }
const ModelMetadata& Model::metadata() const { return runner_->metadata(); }
bool Model::provides_extrapolation() const { return runner_->provides_extrapolation(); }
void Model::set_engine_units(const std::string& length_unit, const std::string& energy_unit) {
  runner_->set_engine_units(length_unit, energy_unit);
}
double Model::cutoff() const { return runner_->cutoff(); }
double Model::interaction_range() const { return runner_->interaction_range(); }
double Model::min_distance() const { return runner_->min_distance(); }
void Model::set_min_distance(double engine_length) { runner_->set_min_distance(engine_length); }
const NeighborLimits& Model::neighbor_limits() const { return runner_->neighbor_limits(); }
void Model::set_neighbor_limits(const NeighborLimits& limits) { runner_->set_neighbor_limits(limits); }

std::vector<int64_t> Model::species_indices(const std::vector<int64_t>& atomic_numbers) const {
  const auto indices = runner_->species_indices(atomic_numbers);
  const int64_t* p = indices.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + indices.numel());
}

void Model::set_num_threads(int n) { at::set_num_threads(n); }
int Model::num_threads() { return at::get_num_threads(); }

EvaluationOutput Model::evaluate(const ModelInput& input, const EvaluationRequest& request) const {
  const int64_t n_atoms = input.n_atoms(), n_edges = input.n_edges();
  if (n_atoms == 0) return empty_output(request, committee_size(), provides_extrapolation());
  if (static_cast<int64_t>(input.neighbours.size()) != n_edges ||
      static_cast<int64_t>(input.vectors.size()) != 3 * n_edges) {
    throw InputError("ModelInput: centres, neighbours and vectors must describe the same edges");
  }
  return translating_torch_errors([&] {
    auto i64 = torch::TensorOptions().dtype(torch::kInt64);
    // from_blob does not copy; the runner reads these during evaluate only.
    auto species = torch::from_blob(const_cast<int64_t*>(input.species.data()), {n_atoms}, i64);
    auto edge_index = torch::empty({2, n_edges}, i64);
    std::copy(input.centres.begin(), input.centres.end(), edge_index.data_ptr<int64_t>());
    std::copy(input.neighbours.begin(), input.neighbours.end(), edge_index.data_ptr<int64_t>() + n_edges);
    auto vectors = torch::from_blob(const_cast<double*>(input.vectors.data()), {n_edges, 3},
                                    torch::TensorOptions().dtype(torch::kFloat64));
    const auto result = runner_->evaluate(species, edge_index, vectors, input.n_local, request);
    return to_output(result, n_atoms, committee_size());
  });
}

EvaluationOutput Model::compute(const std::vector<double>& positions, const std::vector<int64_t>& atomic_numbers,
                                const std::array<double, 9>& cell, const std::array<bool, 3>& pbc,
                                const EvaluationRequest& request) const {
  if (positions.size() % 3 != 0) throw InputError("positions must hold 3 numbers per atom");
  const auto n_atoms = static_cast<int64_t>(positions.size() / 3);
  return translating_torch_errors([&] {
    auto x = torch::from_blob(const_cast<double*>(positions.data()), {n_atoms, 3},
                              torch::TensorOptions().dtype(torch::kFloat64));
    const auto result = runner_->compute(x, atomic_numbers, cell, pbc, request);
    return to_output(result, n_atoms, committee_size());
  });
}

}  // namespace nnpkit
