// Turns a LAMMPS full neighbour list that includes ghost atoms' neighbours into
// the edge list of the model contract. Plain C++ (no LAMMPS or torch headers), so
// the selection rule is readable and testable on its own.
//
// Which edges a model needs: a model whose information travels L cutoffs
// (interaction_range = L x cutoff) needs every edge touching an atom within L-1
// edge hops of a local atom; those atoms' neighbourhoods are complete because the
// ghost shell is interaction_range deep. Edges further out are incomplete and
// cannot influence local energies, so they are dropped (for a local descriptor
// model, L = 1: only edges touching local atoms).
#pragma once

#include <cstdint>
#include <vector>

#include "core/evaluation_request.h"

namespace nnpkit_lammps {

// A view of the engine's atoms and neighbour list (LAMMPS arrays, not owned).
struct NeighborView {
  int nlocal = 0;                        // atoms 0..nlocal-1 are owned, the rest ghosts
  int nall = 0;
  const double* const* x = nullptr;      // [nall][3] positions (ghosts are periodic images)
  const int* model_species = nullptr;    // [nall] species index in the model, -1 = not this model's atom
  int n_centres = 0;                     // inum + gnum
  const int* ilist = nullptr;
  const int* numneigh = nullptr;         // indexed by atom
  int* const* firstneigh = nullptr;      // indexed by atom
  int neighbor_mask = ~0;                // strips LAMMPS' special-bond bits from neighbour indices
};

// The model contract's inputs (nnpkit::ModelInput): model atoms are the owned
// atoms of the model's species, then the ghost atoms that some kept edge touches;
// engine_index maps them back to LAMMPS' atoms.
struct ModelEdges : nnpkit::ModelInput {
  std::vector<int> engine_index;       // [N] engine (LAMMPS) index of each model atom
};

// Builds the edges shorter than `cutoff` (strictly), keeping those within the
// reach of `message_hops` = interaction_range / cutoff - 1 hops (see above).
// (Pairs closer than the model's min_distance are refused by the core when the
// edges are evaluated.)
ModelEdges build_model_edges(const NeighborView& view, double cutoff, int message_hops);

// Number of edge hops beyond the first that information travels in a model.
int message_hops(double interaction_range, double cutoff);

}  // namespace nnpkit_lammps
