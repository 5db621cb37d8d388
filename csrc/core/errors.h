// Exception types of the core. Engines turn them into their own error channel
// (Python exceptions, LAMMPS error->all, OpenMMException) with the message intact.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace nnpkit {

// The user's input is wrong: unknown element, overlapping atoms, bad cell, ...
// The subclasses below carry the atoms' indices, so that each engine adapter can
// name them by its own indices (LAMMPS tags, OpenMM System particle indices).
class InputError : public std::invalid_argument {
 public:
  explicit InputError(const std::string& what) : std::invalid_argument(what) {}
};

// Two atoms closer than the model accepts (its min_distance). The indices are
// those of the atoms as the caller passed them to the core; engine adapters
// catch this and name the atoms by their own indices (LAMMPS tags, OpenMM
// particle indices).
class AtomsTooCloseError : public InputError {
 public:
  AtomsTooCloseError(const std::string& what, int64_t atom_i, int64_t atom_j, double distance, double limit)
      : InputError(what), atom_i(atom_i), atom_j(atom_j), distance(distance), limit(limit) {}
  int64_t atom_i, atom_j;
  double distance;  // engine length units
  double limit;     // the min_distance in force, engine length units
};

// An atom of an element the model does not know. `atom` indexes the atoms as
// the caller passed them to the core; adapters name it by their own index and
// append `detail` ("is S, an element this model does not know (model species: ...)").
class UnknownElementError : public InputError {
 public:
  UnknownElementError(int64_t atom, int64_t atomic_number, const std::string& detail)
      : InputError("atom " + std::to_string(atom) + " " + detail),
        atom(atom),
        atomic_number(atomic_number),
        detail(detail) {}
  int64_t atom;
  int64_t atomic_number;
  std::string detail;
};

// An atom whose position is NaN or infinite (core index, as above).
class NonFinitePositionError : public InputError {
 public:
  NonFinitePositionError(const std::string& what, int64_t atom) : InputError(what), atom(atom) {}
  int64_t atom;
};

// The model file is missing, corrupt or incompatible with this version.
class ModelFileError : public std::runtime_error {
 public:
  explicit ModelFileError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace nnpkit
