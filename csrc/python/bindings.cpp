// pybind11 module nnpkit._core: the core's neighbour search and its Model (the
// request/result vocabulary every engine adapter uses) with NumPy arrays in and
// out (no torch Python bindings needed).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "core/errors.h"
#include "core/model.h"
#include "core/neighbor_list.h"
#include "core/units.h"

namespace py = pybind11;
using nnpkit::EvaluationOutput;
using nnpkit::EvaluationRequest;
using nnpkit::Model;

namespace {

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using LongArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

template <typename T>
py::array_t<T> to_numpy(const std::vector<T>& values, std::vector<py::ssize_t> shape) {
  py::array_t<T> out(shape);
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

template <typename T, typename Array>
std::vector<T> to_vector(const Array& a) {
  return std::vector<T>(a.data(), a.data() + a.size());
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

py::dict to_dict(const EvaluationOutput& r) {
  const py::ssize_t n = r.n_atoms, m = r.committee_size;
  py::dict d;
  d["energy"] = r.energy;
  if (r.has_forces) {
    d["forces"] = to_numpy(r.forces, {n, 3});
    d["virial"] = to_numpy(std::vector<double>(r.virial.begin(), r.virial.end()), {3, 3});
  }
  d["energies"] = to_numpy(r.atom_energies, {static_cast<py::ssize_t>(r.atom_energies.size())});
  if (!r.atom_virials.empty()) d["atom_virials"] = to_numpy(r.atom_virials, {n, 3, 3});
  if (r.has_committee_statistics) {
    d["member_energies"] = to_numpy(r.member_energies, {m});
    d["energy_std"] = r.energy_std;
    if (r.has_forces) {
      d["member_forces"] = to_numpy(r.member_forces, {m, n, 3});
      d["forces_std"] = to_numpy(r.forces_std, {n});
      d["member_virials"] = to_numpy(r.member_virials, {m, 3, 3});
    }
  }
  if (r.has_extrapolation_counts) {
    d["extrapolation_counts"] = to_numpy(r.extrapolation_counts, {static_cast<py::ssize_t>(r.extrapolation_counts.size())});
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

EvaluationRequest request_from(bool forces, bool atom_virials, bool committee_statistics, bool extrapolation) {
  EvaluationRequest request;
  request.forces = forces;
  request.atom_energies = true;  // nnpkit.Model.compute always returns them (cheap: no extra pass)
  request.atom_virials = atom_virials;
  request.committee_statistics = committee_statistics;
  request.extrapolation = extrapolation;
  return request;
}

// The core's typed errors as Python exceptions of the same names that carry the
// same indices as attributes (the atoms' indices as the caller passed them).
void register_errors(py::module_& m) {
  auto input_error = py::register_exception<nnpkit::InputError>(m, "InputError", PyExc_ValueError);
  py::register_exception<nnpkit::ModelFileError>(m, "ModelFileError", PyExc_RuntimeError);
  static py::handle atoms_too_close = py::exception<nnpkit::AtomsTooCloseError>(m, "AtomsTooCloseError", input_error.ptr()).release();
  static py::handle unknown_element = py::exception<nnpkit::UnknownElementError>(m, "UnknownElementError", input_error.ptr()).release();
  static py::handle non_finite = py::exception<nnpkit::NonFinitePositionError>(m, "NonFinitePositionError", input_error.ptr()).release();
  // Registered after InputError's translator, so tried before it (newest first).
  py::register_exception_translator([](std::exception_ptr p) {
    auto raise = [](py::handle type, const char* what, const py::dict& attributes) {
      py::object error = type(what);
      for (const auto& item : attributes) py::setattr(error, item.first, item.second);
      PyErr_SetObject(type.ptr(), error.ptr());
    };
    try {
      if (p) std::rethrow_exception(p);
    } catch (const nnpkit::AtomsTooCloseError& e) {
      raise(atoms_too_close, e.what(),
            py::dict(py::arg("atoms") = py::make_tuple(e.atom_i, e.atom_j), py::arg("distance") = e.distance,
                     py::arg("min_distance") = e.limit));
    } catch (const nnpkit::UnknownElementError& e) {
      raise(unknown_element, e.what(), py::dict(py::arg("atom") = e.atom, py::arg("atomic_number") = e.atomic_number));
    } catch (const nnpkit::NonFinitePositionError& e) {
      raise(non_finite, e.what(), py::dict(py::arg("atom") = e.atom));
    }
  });
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "nnpkit inference core (C++): neighbour search and model evaluation";
  register_errors(m);
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

  py::class_<Model>(m, "Model")
      .def(py::init<const std::string&>(), py::arg("path"))
      .def_property_readonly("metadata_json", [](const Model& r) { return r.metadata().json; })
      .def_property_readonly("species", [](const Model& r) { return r.metadata().species; })
      .def_property_readonly("cutoff", &Model::cutoff)
      .def_property_readonly("interaction_range", &Model::interaction_range)
      .def_property_readonly("min_distance", &Model::min_distance)
      .def("set_min_distance", &Model::set_min_distance, py::arg("min_distance"))
      .def(
          "set_neighbor_limits",
          [](Model& r, int64_t max_images, int64_t max_neighbors) {
            r.set_neighbor_limits(limits_from(max_images, max_neighbors, r.neighbor_limits()));
          },
          py::arg("max_images") = 0, py::arg("max_neighbors") = 0,
          "Raise or lower the neighbour-search bounds (0 keeps the current value).")
      .def_property_readonly("max_images", [](const Model& r) { return r.neighbor_limits().max_images; })
      .def_property_readonly("max_neighbors",
                             [](const Model& r) { return r.neighbor_limits().max_neighbors_per_atom; })
      .def("set_engine_units", &Model::set_engine_units, py::arg("length_unit"), py::arg("energy_unit"))
      .def(
          "compute",
          [](const Model& r, const DoubleArray& positions, const std::vector<int64_t>& numbers,
             const DoubleArray& cell, const std::vector<bool>& pbc, bool atom_virials, bool committee_statistics,
             bool extrapolation, bool forces) {
            if (positions.ndim() != 2 || positions.shape(1) != 3) throw nnpkit::InputError("positions must have shape [N, 3]");
            const auto x = to_vector<double>(positions);
            const auto c = cell_from(cell);
            const auto p = pbc_from(pbc);
            const auto request = request_from(forces, atom_virials, committee_statistics, extrapolation);
            EvaluationOutput output;
            {
              py::gil_scoped_release release;
              output = r.compute(x, numbers, c, p, request);
            }
            return to_dict(output);
          },
          py::arg("positions"), py::arg("numbers"), py::arg("cell"), py::arg("pbc"), py::arg("atom_virials") = false,
          py::arg("committee_statistics") = false, py::arg("extrapolation") = false, py::arg("forces") = true)
      .def(
          "evaluate",
          [](const Model& r, const LongArray& species, const LongArray& edge_index, const DoubleArray& edge_vectors,
             int64_t n_local, bool atom_virials, bool committee_statistics, bool extrapolation, bool forces) {
            if (species.ndim() != 1) throw nnpkit::InputError("species must have shape [N]");
            if (edge_vectors.ndim() != 2 || edge_vectors.shape(1) != 3 || edge_index.ndim() != 2 ||
                edge_index.shape(0) != 2 || edge_index.shape(1) != edge_vectors.shape(0)) {
              throw nnpkit::InputError("edge_index must have shape [2, E] matching edge_vectors [E, 3]");
            }
            const auto n_edges = edge_index.shape(1);
            nnpkit::ModelInput input;
            input.species = to_vector<int64_t>(species);
            input.n_local = n_local;
            input.centres.assign(edge_index.data(), edge_index.data() + n_edges);
            input.neighbours.assign(edge_index.data() + n_edges, edge_index.data() + 2 * n_edges);
            input.vectors = to_vector<double>(edge_vectors);
            const auto request = request_from(forces, atom_virials, committee_statistics, extrapolation);
            EvaluationOutput output;
            {
              py::gil_scoped_release release;
              output = r.evaluate(input, request);
            }
            return to_dict(output);
          },
          py::arg("species"), py::arg("edge_index"), py::arg("edge_vectors"), py::arg("n_local"),
          py::arg("atom_virials") = false, py::arg("committee_statistics") = false, py::arg("extrapolation") = false,
          py::arg("forces") = true)
      .def_property_readonly("provides_extrapolation", &Model::provides_extrapolation);
}
