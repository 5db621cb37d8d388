// Linear-scaling cell-list neighbour search for open, periodic and mixed
// boundaries in orthorhombic or triclinic cells, including cutoffs longer than
// half a box width (several images of one atom are then separate neighbours).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/neighbor_limits.h"

namespace nnpkit {

// Full list (both directions), grouped by centre atom in ascending order.
// Edge e connects centre[e] to neighbor[e]; its vector is
//   x[neighbor] - x[centre] + shift[e] . cell   (cell rows are lattice vectors).
struct NeighborList {
  std::vector<int64_t> centers;
  std::vector<int64_t> neighbors;
  std::vector<int32_t> shifts;   // [E * 3], integer lattice translations
  std::vector<double> vectors;   // [E * 3]
  int64_t size() const { return static_cast<int64_t>(centers.size()); }
};

// positions: [n * 3]; cell: 9 numbers, row i = lattice vector i (ignored along
// non-periodic directions); pbc: periodicity per lattice vector. Pairs closer than
// `cutoff` (strictly) are listed. Throws NonFinitePositionError for a NaN or
// infinite position, InputError for a singular cell along periodic directions, a cell so thin that the cutoff spans
// more periodic images than periodic_images.h allows, or more edges than
// `limits.max_edges(n)` (the search stops as soon as it passes the limit).
NeighborList build_neighbor_list(const double* positions, int64_t n, const std::array<double, 9>& cell,
                                 const std::array<bool, 3>& pbc, double cutoff,
                                 const NeighborLimits& limits = NeighborLimits());

// The same into `list`, reusing its storage: an MD loop that keeps one list pays
// for its memory once (a 5k-atom box's 15 MB, freshly mapped and zeroed, were
// about 4k page faults per step).
void build_neighbor_list(NeighborList& list, const double* positions, int64_t n, const std::array<double, 9>& cell,
                         const std::array<bool, 3>& pbc, double cutoff,
                         const NeighborLimits& limits = NeighborLimits());

}  // namespace nnpkit
