// Committee deviation as DeePMD-kit defines it (its model_devi output), so that
// active-learning tools read nnpkit's numbers unchanged. The one place of these
// formulas: the model runner and the engine adapters (which first sum the
// members' forces over their ranks) call them.
#pragma once

#include <cstdint>

namespace nnpkit {

// Force deviation of each atom, sqrt(mean_m |F_m - <F>|^2) over the members.
// member_forces: [n_members][n_atoms][3]; writes n_atoms values to `deviation`.
void atom_force_deviation(const double* member_forces, int64_t n_members, int64_t n_atoms, double* deviation);

struct DeviationRange {
  double max = 0.0, min = 0.0, avg = 0.0;
};

// Virial deviation: the population standard deviation over members of each of
// the 9 virial components, divided by the number of atoms (DeePMD-kit's
// normalisation); max, min and mean over the components. member_virials: [n_members][9].
DeviationRange virial_deviation(const double* member_virials, int64_t n_members, double n_atoms);

}  // namespace nnpkit
