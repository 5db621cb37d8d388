// Bounds on the work of one neighbour search and one model evaluation, so that a
// wrong cutoff or box (a metadata typo, a unit mix-up, a huge vacuum box) is
// refused with the numbers instead of running for hours or exhausting memory.
// Users raise them deliberately (Python keyword, LAMMPS keyword).
#pragma once

#include <cstdint>

namespace nnpkit {

struct NeighborLimits {
  // Periodic images of the cell that the cutoff sphere spans, all directions
  // together (a 5 Angstrom cutoff in a 3.6 Angstrom cubic cell spans 5 x 5 x 5 = 125).
  int64_t max_images = 100000;
  // Edges per atom on average (a dense liquid with a 10 Angstrom cutoff has ~400).
  int64_t max_neighbors_per_atom = 1000;

  // max_neighbors_per_atom x n_atoms, never below one atom's worth.
  int64_t max_edges(int64_t n_atoms) const {
    return max_neighbors_per_atom * (n_atoms > 1 ? n_atoms : 1);
  }
};

}  // namespace nnpkit
