#include "ghost_edges.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace nnpkit_lammps {

int message_hops(double interaction_range, double cutoff) {
  if (!(cutoff > 0.0)) throw std::invalid_argument("the model's cutoff must be positive");
  // 1e-6 forgives rounding in interaction_range = layers x cutoff.
  const int layers = std::max(1, static_cast<int>(std::ceil(interaction_range / cutoff - 1e-6)));
  return layers - 1;
}

namespace {

// Appends engine atom `atom` as the next model atom.
void add_model_atom(ModelEdges& out, std::vector<int64_t>& model_index, const NeighborView& view, int atom) {
  model_index[atom] = static_cast<int64_t>(out.engine_index.size());
  out.engine_index.push_back(atom);
  out.species.push_back(view.model_species[atom]);
}

// A pair at or beyond the cutoff is no edge. A pair whose squared length is NaN or
// infinite (an atom's position is) stays an edge, so that the core names the atom
// (NonFinitePositionError) instead of the atom silently losing its neighbours.
inline bool beyond_cutoff(double r_sq, double cutoff_sq) { return r_sq >= cutoff_sq && std::isfinite(r_sq); }

// A local model (message_hops = 0) needs the edges of the owned centres only:
// one pass over their neighbours writes the edges in place (the neighbours as
// engine indices first, renumbered once the touched ghosts are known). The
// result equals the general path's, element for element.
ModelEdges local_model_edges(const NeighborView& view, double cutoff_sq) {
  ModelEdges out;
  std::vector<int64_t> model_index(view.nall, -1);
  for (int i = 0; i < view.nlocal; ++i) {
    if (view.model_species[i] >= 0) add_model_atom(out, model_index, view, i);
  }
  out.n_local = static_cast<int64_t>(out.engine_index.size());

  // Owned model centres in ascending engine (= model) order, each with its list.
  std::vector<int> centre_list;
  centre_list.reserve(view.n_centres);
  int64_t capacity = 0;
  for (int ii = 0; ii < view.n_centres; ++ii) {
    const int i = view.ilist[ii];
    if (i >= view.nlocal || view.model_species[i] < 0) continue;
    centre_list.push_back(i);
    capacity += view.numneigh[i];
  }
  if (!std::is_sorted(centre_list.begin(), centre_list.end())) std::sort(centre_list.begin(), centre_list.end());
  out.centres.reserve(capacity);
  out.neighbours.reserve(capacity);
  out.vectors.reserve(3 * capacity);
  std::vector<char> touched(view.nall, 0);
  for (const int i : centre_list) {
    const double* xi = view.x[i];
    const int* neighbours = view.firstneigh[i];
    const int64_t centre = model_index[i];
    for (int jj = 0; jj < view.numneigh[i]; ++jj) {
      const int j = neighbours[jj] & view.neighbor_mask;
      if (view.model_species[j] < 0) continue;
      const double dx = view.x[j][0] - xi[0], dy = view.x[j][1] - xi[1], dz = view.x[j][2] - xi[2];
      if (beyond_cutoff(dx * dx + dy * dy + dz * dz, cutoff_sq)) continue;
      out.centres.push_back(centre);
      out.neighbours.push_back(j);
      out.vectors.push_back(dx);
      out.vectors.push_back(dy);
      out.vectors.push_back(dz);
      touched[j] = 1;
    }
  }
  for (int i = view.nlocal; i < view.nall; ++i) {
    if (touched[i]) add_model_atom(out, model_index, view, i);
  }
  for (auto& j : out.neighbours) j = model_index[j];
  return out;
}

}  // namespace

ModelEdges build_model_edges(const NeighborView& view, double cutoff, int message_hops) {
  const double cutoff_sq = cutoff * cutoff;
  if (message_hops == 0) return local_model_edges(view, cutoff_sq);

  // 1. All edges shorter than the cutoff between the model's atoms, per centre.
  struct CentreRange {
    int atom;
    int64_t begin, end;
  };
  std::vector<CentreRange> ranges;
  ranges.reserve(view.n_centres);
  std::vector<int> pair_neighbour;
  std::vector<double> pair_vector;
  for (int ii = 0; ii < view.n_centres; ++ii) {
    const int i = view.ilist[ii];
    if (view.model_species[i] < 0) continue;
    const double* xi = view.x[i];
    const int* neighbours = view.firstneigh[i];
    const auto begin = static_cast<int64_t>(pair_neighbour.size());
    for (int jj = 0; jj < view.numneigh[i]; ++jj) {
      const int j = neighbours[jj] & view.neighbor_mask;
      if (view.model_species[j] < 0) continue;
      const double d[3] = {view.x[j][0] - xi[0], view.x[j][1] - xi[1], view.x[j][2] - xi[2]};
      const double r_sq = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
      if (beyond_cutoff(r_sq, cutoff_sq)) continue;
      pair_neighbour.push_back(j);
      pair_vector.insert(pair_vector.end(), d, d + 3);
    }
    ranges.push_back({i, begin, static_cast<int64_t>(pair_neighbour.size())});
  }
  std::sort(ranges.begin(), ranges.end(), [](const CentreRange& a, const CentreRange& b) { return a.atom < b.atom; });
  std::vector<int64_t> range_of(view.nall, -1);
  for (size_t r = 0; r < ranges.size(); ++r) range_of[ranges[r].atom] = static_cast<int64_t>(r);

  // 2. Hop distance from the owned atoms, up to message_hops.
  constexpr int kFar = std::numeric_limits<int>::max();
  std::vector<int> hops(view.nall, kFar);
  std::vector<int> frontier;
  for (int i = 0; i < view.nlocal; ++i) {
    if (view.model_species[i] >= 0) {
      hops[i] = 0;
      frontier.push_back(i);
    }
  }
  for (int h = 1; h <= message_hops && !frontier.empty(); ++h) {
    std::vector<int> next;
    for (const int i : frontier) {
      if (range_of[i] < 0) continue;
      const CentreRange& r = ranges[range_of[i]];
      for (int64_t p = r.begin; p < r.end; ++p) {
        const int j = pair_neighbour[p];
        if (hops[j] == kFar) {
          hops[j] = h;
          next.push_back(j);
        }
      }
    }
    frontier.swap(next);
  }
  auto inside = [&](int atom) { return hops[atom] <= message_hops; };
  // An edge is kept when its centre is inside, or, for message passing, when its
  // neighbour is (messages flow both ways). A local model needs only the edges
  // of owned centres: ghost-centred edges would be dead weight.
  auto kept = [&](int centre, int neighbour) { return inside(centre) || (message_hops > 0 && inside(neighbour)); };

  // 3. Model atoms: owned atoms, then ghosts touched by a kept edge; engine order
  // is kept, so centres stay ascending.
  ModelEdges out;
  std::vector<int64_t> model_index(view.nall, -1);
  auto add_atom = [&](int atom) { add_model_atom(out, model_index, view, atom); };
  for (int i = 0; i < view.nlocal; ++i) {
    if (view.model_species[i] >= 0) add_atom(i);
  }
  out.n_local = static_cast<int64_t>(out.engine_index.size());
  std::vector<char> touched(view.nall, 0);
  for (const CentreRange& r : ranges) {
    for (int64_t p = r.begin; p < r.end; ++p) {
      const int j = pair_neighbour[p];
      if (kept(r.atom, j)) touched[r.atom] = touched[j] = 1;
    }
  }
  for (int i = view.nlocal; i < view.nall; ++i) {
    if (touched[i] && view.model_species[i] >= 0) add_atom(i);
  }

  // 4. Kept edges, grouped by centre in ascending model index.
  for (const CentreRange& r : ranges) {
    for (int64_t p = r.begin; p < r.end; ++p) {
      const int j = pair_neighbour[p];
      if (!kept(r.atom, j)) continue;
      out.centres.push_back(model_index[r.atom]);
      out.neighbours.push_back(model_index[j]);
      out.vectors.insert(out.vectors.end(), &pair_vector[3 * p], &pair_vector[3 * p] + 3);
    }
  }
  return out;
}

}  // namespace nnpkit_lammps
