// Exception types of the core. Engines turn them into their own error channel
// (Python exceptions, LAMMPS error->all, OpenMMException) with the message intact.
#pragma once

#include <stdexcept>
#include <string>

namespace nnpkit {

// The user's input is wrong: unknown element, overlapping atoms, bad cell, ...
class InputError : public std::invalid_argument {
 public:
  explicit InputError(const std::string& what) : std::invalid_argument(what) {}
};

// The model file is missing, corrupt or incompatible with this version.
class ModelFileError : public std::runtime_error {
 public:
  explicit ModelFileError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace nnpkit
