// pybind11 module nnpkit._core: the core's neighbour search and model runner
// with NumPy arrays in and out (no torch Python bindings needed).
#include <ATen/Parallel.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "core/errors.h"
#include "core/model_runner.h"
#include "core/neighbor_list.h"
#include "core/units.h"

namespace py = pybind11;
using nnpkit::EvaluateOptions;
using nnpkit::EvaluationResult;
using nnpkit::ModelRunner;

namespace {

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using LongArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

py::array_t<double> to_numpy(const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat64).contiguous();
  std::vector<py::ssize_t> shape(c.sizes().begin(), c.sizes().end());
  py::array_t<double> out(shape);
  std::copy(c.data_ptr<double>(), c.data_ptr<double>() + c.numel(), out.mutable_data());
  return out;
}

torch::Tensor from_numpy(const DoubleArray& a) {
  std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
  return torch::from_blob(const_cast<double*>(a.data()), shape, torch::kFloat64).clone();
}

torch::Tensor from_numpy(const LongArray& a) {
  std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
  return torch::from_blob(const_cast<int64_t*>(a.data()), shape, torch::kInt64).clone();
}

std::array<double, 9> cell_from(const DoubleArray& cell) {
  if (cell.size() != 9) throw nnpkit::InputError("cell must be a 3x3 matrix");
  std::array<double, 9> out{};
  std::copy(cell.data(), cell.data() + 9, out.begin());
  return out;
}

std::array<bool, 3> pbc_from(const std::vector<bool>& pbc) {
  if (pbc.size() != 3) throw nnpkit::InputError("pbc must have three entries");
  return {pbc[0], pbc[1], pbc[2]};
}

py::dict to_dict(const EvaluationResult& r) {
  py::dict d;
  d["energy"] = r.energy;
  if (r.forces.defined()) {
    d["forces"] = to_numpy(r.forces);
    d["virial"] = to_numpy(r.virial);
  }
  if (r.atom_energies.defined()) d["energies"] = to_numpy(r.atom_energies);
  if (r.atom_virials.defined()) d["atom_virials"] = to_numpy(r.atom_virials);
  if (r.member_energies.defined()) {
    d["member_energies"] = to_numpy(r.member_energies);
    d["energy_std"] = r.energy_std;
    if (r.member_forces.defined()) {
      d["member_forces"] = to_numpy(r.member_forces);
      d["forces_std"] = to_numpy(r.forces_std);
      d["member_virials"] = to_numpy(r.member_virials);
    }
  }
  if (r.extrapolation_counts.defined()) {
    const auto c = r.extrapolation_counts.to(torch::kInt64).contiguous();
    py::array_t<int64_t> counts(c.numel());
    std::copy(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel(), counts.mutable_data());
    d["extrapolation_counts"] = counts;
  }
  return d;
}

// Limits with the given values (0: keep `base`'s); negative values are refused.
nnpkit::NeighborLimits limits_from(int64_t max_images, int64_t max_neighbors, nnpkit::NeighborLimits base) {
  if (max_images < 0 || max_neighbors < 0) throw nnpkit::InputError("max_images and max_neighbors must be positive");
  if (max_images > 0) base.max_images = max_images;
  if (max_neighbors > 0) base.max_neighbors_per_atom = max_neighbors;
  return base;
}

EvaluateOptions options_from(bool forces, bool atom_virials, bool committee_statistics, bool extrapolation) {
  EvaluateOptions o;
  o.forces = forces;
  o.atom_virials = atom_virials;
  o.committee_statistics = committee_statistics;
  o.extrapolation = extrapolation;
  return o;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "nnpkit inference core (C++): neighbour search and model runner";
  auto input_error = py::register_exception<nnpkit::InputError>(m, "InputError", PyExc_ValueError);
  // Registered after InputError so that it is tried first (pybind11 tries translators newest first).
  py::register_exception<nnpkit::AtomsTooCloseError>(m, "AtomsTooCloseError", input_error.ptr());
  py::register_exception<nnpkit::ModelFileError>(m, "ModelFileError", PyExc_RuntimeError);

  m.def("set_num_threads", [](int n) { at::set_num_threads(n); }, py::arg("n"),
        "Number of threads of the core's loops and of torch's intra-op pool.");
  m.def("get_num_threads", []() { return at::get_num_threads(); });
  m.def("length_unit_in_angstrom", &nnpkit::length_unit_in_angstrom, py::arg("name"));
  m.def("energy_unit_in_ev", &nnpkit::energy_unit_in_ev, py::arg("name"));

  m.def(
      "neighbor_list",
      [](const DoubleArray& positions, const DoubleArray& cell, const std::vector<bool>& pbc, double cutoff,
         int64_t max_images, int64_t max_neighbors) {
        if (positions.ndim() != 2 || positions.shape(1) != 3) throw nnpkit::InputError("positions must be [N, 3]");
        const auto limits = limits_from(max_images, max_neighbors, nnpkit::NeighborLimits());
        nnpkit::NeighborList list;
        {
          py::gil_scoped_release release;
          list = nnpkit::build_neighbor_list(positions.data(), positions.shape(0), cell_from(cell), pbc_from(pbc),
                                             cutoff, limits);
        }
        const auto n_edges = static_cast<py::ssize_t>(list.size());
        py::array_t<int64_t> edge_index({py::ssize_t(2), n_edges});
        py::array_t<int32_t> shifts({n_edges, py::ssize_t(3)});
        py::array_t<double> vectors({n_edges, py::ssize_t(3)});
        std::copy(list.centers.begin(), list.centers.end(), edge_index.mutable_data());
        std::copy(list.neighbors.begin(), list.neighbors.end(), edge_index.mutable_data() + n_edges);
        std::copy(list.shifts.begin(), list.shifts.end(), shifts.mutable_data());
        std::copy(list.vectors.begin(), list.vectors.end(), vectors.mutable_data());
        return py::make_tuple(edge_index, shifts, vectors);
      },
      py::arg("positions"), py::arg("cell"), py::arg("pbc"), py::arg("cutoff"), py::arg("max_images") = 0,
      py::arg("max_neighbors") = 0,
      "Full neighbour list (edge_index [2, E], shifts [E, 3], vectors [E, 3]) grouped by centre atom.");

  py::class_<ModelRunner>(m, "ModelRunner")
      .def(py::init<const std::string&>(), py::arg("path"))
      .def_property_readonly("metadata_json", [](const ModelRunner& r) { return r.metadata().json; })
      .def_property_readonly("species", [](const ModelRunner& r) { return r.metadata().species; })
      .def_property_readonly("cutoff", &ModelRunner::cutoff)
      .def_property_readonly("interaction_range", &ModelRunner::interaction_range)
      .def_property_readonly("min_distance", &ModelRunner::min_distance)
      .def("set_min_distance", &ModelRunner::set_min_distance, py::arg("min_distance"))
      .def(
          "set_neighbor_limits",
          [](ModelRunner& r, int64_t max_images, int64_t max_neighbors) {
            r.set_neighbor_limits(limits_from(max_images, max_neighbors, r.neighbor_limits()));
          },
          py::arg("max_images") = 0, py::arg("max_neighbors") = 0,
          "Raise or lower the neighbour-search bounds (0 keeps the current value).")
      .def_property_readonly("max_images", [](const ModelRunner& r) { return r.neighbor_limits().max_images; })
      .def_property_readonly("max_neighbors",
                             [](const ModelRunner& r) { return r.neighbor_limits().max_neighbors_per_atom; })
      .def("set_engine_units", &ModelRunner::set_engine_units, py::arg("length_unit"), py::arg("energy_unit"))
      .def(
          "compute",
          [](const ModelRunner& r, const DoubleArray& positions, const std::vector<int64_t>& numbers,
             const DoubleArray& cell, const std::vector<bool>& pbc, bool atom_virials, bool committee_statistics,
             bool extrapolation, bool forces) {
            const auto pos = from_numpy(positions);
            const auto c = cell_from(cell);
            const auto p = pbc_from(pbc);
            EvaluationResult result;
            {
              py::gil_scoped_release release;
              const auto options = options_from(forces, atom_virials, committee_statistics, extrapolation);
              result = r.compute(pos, numbers, c, p, options);
            }
            return to_dict(result);
          },
          py::arg("positions"), py::arg("numbers"), py::arg("cell"), py::arg("pbc"), py::arg("atom_virials") = false,
          py::arg("committee_statistics") = true, py::arg("extrapolation") = false,
          py::arg("forces") = true)
      .def(
          "evaluate",
          [](const ModelRunner& r, const LongArray& species, const LongArray& edge_index,
             const DoubleArray& edge_vectors, int64_t n_local, bool atom_virials, bool committee_statistics,
             bool extrapolation, bool forces) {
            const auto s = from_numpy(species);
            const auto ei = from_numpy(edge_index);
            const auto ev = from_numpy(edge_vectors);
            EvaluationResult result;
            {
              py::gil_scoped_release release;
              const auto options = options_from(forces, atom_virials, committee_statistics, extrapolation);
              result = r.evaluate(s, ei, ev, n_local, options);
            }
            return to_dict(result);
          },
          py::arg("species"), py::arg("edge_index"), py::arg("edge_vectors"), py::arg("n_local"),
          py::arg("atom_virials") = false, py::arg("committee_statistics") = true, py::arg("extrapolation") = false,
          py::arg("forces") = true)
      .def_property_readonly("provides_extrapolation", &ModelRunner::provides_extrapolation);
}
