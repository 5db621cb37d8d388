#include "core/model_runner.h"

#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "core/committee_deviation.h"
#include "core/edge_passes.h"
#include "core/elements.h"
#include "core/errors.h"
#include "core/neighbor_list.h"
#include "core/units.h"

namespace nnpkit {

ModelRunner::ModelRunner(const std::string& path) : path_(path) {
  if (!std::filesystem::exists(path)) throw ModelFileError("model file not found: " + path);
  if (std::filesystem::is_directory(path)) throw ModelFileError("model path is a directory, not a file: " + path);
  std::unordered_map<std::string, std::string> extra{{kMetadataFileName, ""}};
  try {
    module_ = torch::jit::load(path, torch::kCPU, extra);
  } catch (const c10::Error& e) {
    std::string reason = e.what_without_backtrace();
    throw ModelFileError("cannot read model file " + path +
                         ": it is not a TorchScript archive or it is corrupt (" + reason.substr(0, 300) + ")");
  }
  if (extra[kMetadataFileName].empty()) {
    throw ModelFileError("model file " + path + " has no nnpkit.json metadata: it is a TorchScript file but not " +
                         "an nnpkit model (export it with nnpkit.export)");
  }
  try {
    metadata_ = parse_model_metadata(extra[kMetadataFileName]);
  } catch (const ModelFileError& e) {
    throw ModelFileError(path + ": " + e.what());
  }
  dtype_ = metadata_.dtype == "float32" ? torch::kFloat32 : torch::kFloat64;
  module_.eval();
  // Evaluation differentiates with respect to the edge vectors only: weights that
  // required gradients in training would only grow the autograd graph.
  for (auto parameter : module_.parameters()) parameter.requires_grad_(false);
  has_forward_members_ = module_.find_method("forward_members").has_value();
  has_extrapolation_method_ = module_.find_method("extrapolation_counts").has_value();
  has_fused_extrapolation_ = module_.find_method("forward_with_extrapolation").has_value();
  set_engine_units("Ang", "eV");
}

void ModelRunner::set_engine_units(const std::string& length_unit, const std::string& energy_unit) {
  model_to_engine_length_ = metadata_.angstrom_per_length_unit / length_unit_in_angstrom(length_unit);
  model_to_engine_energy_ = metadata_.ev_per_energy_unit / energy_unit_in_ev(energy_unit);
  engine_length_unit_ = length_unit;
}

double ModelRunner::min_distance() const {
  // Below 1e-4 Angstrom two atoms are the same point whatever the model says.
  const double floor_in_model_units = 1e-4 / metadata_.angstrom_per_length_unit;
  const double chosen = min_distance_override_ >= 0.0 ? min_distance_override_ : metadata_.min_distance;
  return std::max(chosen, floor_in_model_units) * model_to_engine_length_;
}

void ModelRunner::set_min_distance(double engine_length) {
  if (std::isnan(engine_length)) throw InputError("min_distance must be a number");
  min_distance_override_ = engine_length < 0.0 ? -1.0 : engine_length / model_to_engine_length_;
}

void ModelRunner::check_edge_count(int64_t n_edges, int64_t n_atoms) const {
  const int64_t max_edges = limits_.max_edges(n_atoms);
  if (n_edges > max_edges) {
    std::ostringstream msg;
    msg << n_edges << " edges for " << n_atoms << " atoms is more than the limit of " << limits_.max_neighbors_per_atom
        << " neighbours per atom (max_neighbors) within the model's cutoff of " << cutoff() << " "
        << engine_length_unit_ << ": check the model's cutoff and the units of the positions, or raise max_neighbors "
        << "if this is meant";
    throw InputError(msg.str());
  }
}

void ModelRunner::throw_too_close(const torch::Tensor& edge_index, const torch::Tensor& edge_vectors,
                                  int64_t e) const {
  const double limit = min_distance();
  const auto index = edge_index.to(torch::kInt64).contiguous();
  const int64_t i = index[0][e].item<int64_t>(), j = index[1][e].item<int64_t>();
  const auto v = edge_vectors[e].to(torch::kFloat64);
  const double distance = v.norm().item<double>();
  std::ostringstream msg;
  msg << "atoms " << i << " and " << j << " overlap: they are " << distance << " " << engine_length_unit_
      << " apart, closer than this model's min_distance of " << limit << " " << engine_length_unit_;
  if (min_distance_override_ >= 0.0) {
    msg << " (set by the user)";
  } else if (!metadata_.min_distance_source.empty()) {
    msg << " (" << metadata_.min_distance_source << ")";
  }
  msg << "; the model has never seen atoms that close. Lower min_distance deliberately to go on";
  throw AtomsTooCloseError(msg.str(), i, j, distance, limit);
}

void ModelRunner::throw_non_finite(const torch::Tensor& edge_index, const torch::Tensor& edge_vectors,
                                   int64_t e) const {
  // Edge e runs from atom i to atom j. An atom whose position is not finite makes
  // every edge it takes part in non-finite: name the first of i, j whose edges all
  // are (i when neither is, e.g. a non-finite periodic shift).
  const auto index = edge_index.to(torch::kInt64).contiguous();
  const auto finite = torch::isfinite(edge_vectors).all(1);
  const int64_t i = index[0][e].item<int64_t>(), j = index[1][e].item<int64_t>();
  auto only_non_finite = [&](int64_t atom) {
    const auto touches = (index[0] == atom) | (index[1] == atom);
    return !(touches & finite).any().item<bool>();
  };
  const int64_t atom = only_non_finite(i) || !only_non_finite(j) ? i : j;
  const int64_t other = atom == i ? j : i;
  std::ostringstream msg;
  msg << "position of atom " << atom << " is not finite (NaN or infinity): its edge to atom " << other << " is ("
      << edge_vectors[e][0].item<double>() << ", " << edge_vectors[e][1].item<double>() << ", "
      << edge_vectors[e][2].item<double>() << ") " << engine_length_unit_;
  throw NonFinitePositionError(msg.str(), atom);
}

torch::Tensor ModelRunner::species_indices(const std::vector<int64_t>& atomic_numbers) const {
  auto out = torch::empty({static_cast<int64_t>(atomic_numbers.size())}, torch::kInt64);
  auto* p = out.data_ptr<int64_t>();
  for (size_t i = 0; i < atomic_numbers.size(); ++i) {
    const int idx = metadata_.species_index(static_cast<int>(atomic_numbers[i]));
    if (idx < 0) {
      std::string symbol;
      try {
        symbol = element_symbol(static_cast<int>(atomic_numbers[i]));
      } catch (const InputError&) {
        symbol = "Z=" + std::to_string(atomic_numbers[i]);
      }
      std::string known;
      for (const auto& s : metadata_.species) known += (known.empty() ? "" : " ") + s;
      throw UnknownElementError(static_cast<int64_t>(i), atomic_numbers[i],
                                "is " + symbol + ", an element this model does not know (model species: " + known + ")");
    }
    p[i] = idx;
  }
  return out;
}

EvaluationResult ModelRunner::evaluate(const torch::Tensor& species, const torch::Tensor& edge_index,
                                       const torch::Tensor& edge_vectors, int64_t n_local,
                                       const EvaluationRequest& options) const {
  const int64_t n_atoms = species.size(0);
  const int64_t n_edges = edge_vectors.size(0);
  if (n_local < 0 || n_local > n_atoms) throw InputError("number of local atoms must lie in 0..N");
  if (edge_index.dim() != 2 || edge_index.size(0) != 2 || edge_index.size(1) != n_edges) {
    throw InputError("edge_index must have shape [2, E] matching edge_vectors [E, 3]");
  }
  const auto n_species = static_cast<int64_t>(metadata_.species.size());
  if (n_atoms > 0) {
    const auto smin = species.min().item<int64_t>(), smax = species.max().item<int64_t>();
    if (smin < 0 || smax >= n_species) throw InputError("species index outside the model's species list");
  }
  if (options.atom_virials && !options.forces) throw InputError("atom virials need forces (EvaluationRequest::forces)");
  check_edge_count(n_edges, n_atoms);
  // One pass over the edges: finite, not too short, in model units and dtype.
  const double to_model_length = 1.0 / model_to_engine_length_;
  ModelEdgeVectors prepared = to_model_edge_vectors(edge_vectors, to_model_length, dtype_, min_distance());
  if (prepared.first_non_finite >= 0) throw_non_finite(edge_index, edge_vectors, prepared.first_non_finite);
  if (prepared.shortest_below >= 0) throw_too_close(edge_index, edge_vectors, prepared.shortest_below);

  // Model units and dtype; the edge vectors are the one differentiable input.
  // Energy-only evaluations build no autograd graph at all. For committee
  // statistics, models with `forward_members` take one copy of the edge vectors
  // per member, so that one backward pass gives every member's gradient.
  const int64_t committee_size = std::max<int64_t>(metadata_.committee_size, 1);
  const bool batched_members =
      options.forces && options.committee_statistics && committee_size > 1 && has_forward_members_;
  auto model_vectors = prepared.vectors;
  if (batched_members) model_vectors = model_vectors.unsqueeze(0).expand({committee_size, n_edges, 3});
  auto vectors = model_vectors.detach();
  std::optional<torch::NoGradGuard> energy_only;
  if (options.forces) {
    vectors.requires_grad_(true);
  } else {
    energy_only.emplace();
  }
  torch::Tensor atom_energy_members;
  torch::Tensor extrapolation_counts;
  // One descriptor computation gives energies and extrapolation counts when the model can.
  const bool fused_extrapolation = options.extrapolation && (has_fused_extrapolation_ || batched_members);
  {
    std::vector<torch::jit::IValue> inputs{species.to(torch::kInt64), edge_index.to(torch::kInt64), vectors,
                                           n_local};
    torch::Tensor out;
    try {
      if (batched_members || fused_extrapolation) {
        torch::jit::IValue outputs;
        if (batched_members) {
          inputs.emplace_back(fused_extrapolation);
          outputs = module_.get_method("forward_members")(inputs);
        } else {
          outputs = module_.get_method("forward_with_extrapolation")(inputs);
        }
        if (!outputs.isTuple() || outputs.toTupleRef().elements().size() != 2) {
          throw ModelFileError("the model's forward_with_extrapolation and forward_members must return "
                               "(energies, counts)");
        }
        out = outputs.toTupleRef().elements()[0].toTensor();
        if (fused_extrapolation) extrapolation_counts = outputs.toTupleRef().elements()[1].toTensor();
      } else {
        out = module_.forward(inputs).toTensor();
      }
    } catch (const c10::Error& e) {
      throw std::runtime_error(std::string("model evaluation failed: ") + e.what_without_backtrace());
    }
    if (out.dim() == 1) out = out.unsqueeze(0);
    if (out.dim() != 2 || out.size(1) != n_atoms) {
      std::ostringstream msg;
      msg << "the model returned per-atom energies of shape " << out.sizes() << " for " << n_atoms
          << " atoms (expected [N] or [M, N])";
      throw ModelFileError(msg.str());
    }
    if (out.size(0) != metadata_.committee_size) {
      throw ModelFileError("the model returned energies of " + std::to_string(out.size(0)) +
                           " committee members, but its metadata declares committee_size " +
                           std::to_string(metadata_.committee_size));
    }
    atom_energy_members = out;
  }
  const int64_t n_members = atom_energy_members.size(0);
  auto local_members = atom_energy_members.narrow(1, 0, n_local);
  auto member_energy = local_members.sum(1);  // [M], model units, model dtype
  const bool want_forces = options.forces && (!options.forces_wanted || options.forces_wanted());

  EvaluationResult result;
  const double ef = model_to_engine_energy_;
  const double gradient_factor = ef * to_model_length;  // dE_engine/dr_engine per dE_model/dr_model
  const bool per_member = options.committee_statistics && n_members > 1;
  auto pos_opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto r = edge_vectors.to(torch::kFloat64);

  // Edge gradients in model units and dtype: [E, 3], or [M, E, 3] for members.
  auto gradient_of = [&](const torch::Tensor& energy, bool retain) {
    auto g = torch::autograd::grad({energy}, {vectors}, {}, retain, /*create_graph=*/false, /*allow_unused=*/true)[0];
    return g.defined() ? g : torch::zeros(vectors.sizes(), vectors.options());
  };
  // Forces [M, N, 3] and virials [M, 3, 3] in engine units, one pass over the edges.
  auto reduce = [&](const torch::Tensor& gradients, torch::Tensor& forces, torch::Tensor& virials) {
    forces_and_virials_from_edge_gradients(gradients, edge_index, r, gradient_factor, n_atoms, forces, virials);
  };

  torch::Tensor raw_gradient;  // the committee mean's edge gradient, model units (atom virials)
  if (!want_forces) {
    // energies only: no backward pass
  } else if (per_member) {
    torch::Tensor stacked;  // [M, E, 3]
    if (n_edges == 0) {
      stacked = torch::zeros({n_members, 0, 3}, vectors.options());
    } else if (batched_members) {
      stacked = gradient_of(member_energy.sum(), false);
    } else {
      std::vector<torch::Tensor> grads;
      for (int64_t m = 0; m < n_members; ++m) grads.push_back(gradient_of(member_energy[m], m + 1 < n_members));
      stacked = torch::stack(grads);
    }
    reduce(stacked, result.member_forces, result.member_virials);
    // Forces and virial are linear in the gradient: the mean's are the members' mean.
    result.forces = result.member_forces.mean(0);
    result.virial = result.member_virials.mean(0);
    if (options.atom_virials) raw_gradient = stacked.to(torch::kFloat64).mean(0);
  } else {
    raw_gradient = n_edges == 0 ? torch::zeros({0, 3}, vectors.options()) : gradient_of(member_energy.mean(), false);
    torch::Tensor forces, virials;
    reduce(raw_gradient, forces, virials);
    result.forces = forces[0];
    result.virial = virials[0];
  }

  auto energies = member_energy.detach().to(torch::kFloat64) * ef;
  result.energy = energies.mean().item<double>();
  if (options.atom_energies) {
    result.atom_energies = torch::zeros({n_atoms}, pos_opts);
    result.atom_energies.narrow(0, 0, n_local).copy_(local_members.detach().to(torch::kFloat64).mean(0) * ef);
  }
  if (options.atom_virials && want_forces) {
    const auto centre = edge_index[0].to(torch::kInt64);
    const auto neighbour = edge_index[1].to(torch::kInt64);
    const auto mean_gradient = raw_gradient.to(torch::kFloat64) * gradient_factor;
    auto per_edge = (-0.5 * r.unsqueeze(2) * mean_gradient.unsqueeze(1)).reshape({n_edges, 9});
    auto av = torch::zeros({n_atoms, 9}, pos_opts);
    av.index_add_(0, centre, per_edge);
    av.index_add_(0, neighbour, per_edge);
    result.atom_virials = av.reshape({n_atoms, 3, 3});
  }
  if (per_member) {
    result.member_energies = energies;
    result.energy_std = energies.std(/*unbiased=*/false).item<double>();
    if (want_forces) {
      result.forces_std = torch::empty({n_atoms}, pos_opts);
      atom_force_deviation(result.member_forces.data_ptr<double>(), n_members, n_atoms,
                           result.forces_std.data_ptr<double>());
    }
  }
  if (options.extrapolation && !fused_extrapolation && has_extrapolation_method_) {
    // Model files written before forward_with_extrapolation existed: a second descriptor pass.
    torch::NoGradGuard no_grad;
    std::vector<torch::jit::IValue> inputs{species.to(torch::kInt64), edge_index.to(torch::kInt64),
                                           vectors.detach(), n_local};
    extrapolation_counts = module_.get_method("extrapolation_counts")(inputs).toTensor();
  }
  if (extrapolation_counts.defined()) {
    if (extrapolation_counts.dim() != 1 || extrapolation_counts.size(0) != n_local) {
      throw ModelFileError("the model returned extrapolation counts of the wrong shape (expected [n_local])");
    }
    result.extrapolation_counts = extrapolation_counts.detach().to(torch::kInt64);
  }
  if (!std::isfinite(result.energy) || (want_forces && !torch::isfinite(result.forces).all().item<bool>())) {
    throw std::runtime_error("the model produced a non-finite energy or force; the structure is probably far " +
                             std::string("outside what the model was trained on (atoms too close?)"));
  }
  return result;
}

EvaluationResult ModelRunner::compute(const torch::Tensor& positions, const std::vector<int64_t>& atomic_numbers,
                                      const std::array<double, 9>& cell, const std::array<bool, 3>& pbc,
                                      const EvaluationRequest& options) const {
  const auto pos = positions.to(torch::kFloat64).contiguous();
  if (pos.dim() != 2 || pos.size(1) != 3) throw InputError("positions must have shape [N, 3]");
  const int64_t n = pos.size(0);
  if (static_cast<int64_t>(atomic_numbers.size()) != n) {
    throw InputError("got " + std::to_string(atomic_numbers.size()) + " atomic numbers for " + std::to_string(n) +
                     " positions");
  }
  const auto species = species_indices(atomic_numbers);
  // One list per thread, kept from call to call: its storage is reused (its largest
  // size stays allocated, as an MD code keeps its neighbour lists).
  thread_local NeighborList list;
  build_neighbor_list(list, pos.data_ptr<double>(), n, cell, pbc, cutoff(), limits_);
  const int64_t n_edges = list.size();
  auto edge_index = torch::empty({2, n_edges}, torch::kInt64);
  std::copy(list.centers.begin(), list.centers.end(), edge_index.data_ptr<int64_t>());
  std::copy(list.neighbors.begin(), list.neighbors.end(), edge_index.data_ptr<int64_t>() + n_edges);
  // No copy: `list` outlives the evaluation (the next call on this thread reuses it),
  // and nothing of it is kept in the result.
  const auto vectors = torch::from_blob(const_cast<double*>(list.vectors.data()), {n_edges, 3}, torch::kFloat64);
  return evaluate(species, edge_index, vectors, n, options);
}

}  // namespace nnpkit
