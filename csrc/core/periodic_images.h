// How many periodic images of a cell a distance spans, and the bounds on them
// that every engine applies: the neighbour search (Python, OpenMM) and the LAMMPS
// adapter (ghost atoms over several periods) refuse absurdly thin cells with the
// same rule and numbers. Plain C++ (no torch headers).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/neighbor_limits.h"

namespace nnpkit {

// Periodic images one direction may need before a cell counts as absurdly thin.
constexpr int64_t kMaxImagesPerDirection = 200;

// Distance between adjacent lattice planes of each lattice vector (cell rows): the
// width of the cell across the faces that vector does not lie in. The cell must
// not be singular.
std::array<double, 3> lattice_plane_spacings(const std::array<double, 9>& cell);

// Throws InputError when `reach` (named `what` in the message, e.g. "the cutoff")
// spans more than kMaxImagesPerDirection periodic images along a periodic direction.
void check_images_per_direction(const std::array<double, 3>& plane_spacings, const std::array<bool, 3>& pbc,
                                double reach, const std::string& what);

// Throws InputError when a cutoff sphere of radius `cutoff` spans more periodic
// images of the cell, all directions together, than limits.max_images.
void check_image_count(const std::array<double, 3>& plane_spacings, const std::array<bool, 3>& pbc, double cutoff,
                       const NeighborLimits& limits);

}  // namespace nnpkit
