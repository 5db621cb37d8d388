#include "core/committee_deviation.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace nnpkit {

void atom_force_deviation(const double* member_forces, int64_t n_members, int64_t n_atoms, double* deviation) {
  const int64_t member_stride = 3 * n_atoms;
  for (int64_t i = 0; i < n_atoms; ++i) {
    double mean[3] = {0.0, 0.0, 0.0};
    for (int64_t m = 0; m < n_members; ++m) {
      const double* f = member_forces + m * member_stride + 3 * i;
      for (int c = 0; c < 3; ++c) mean[c] += f[c] / n_members;
    }
    double sum_sq = 0.0;
    for (int64_t m = 0; m < n_members; ++m) {
      const double* f = member_forces + m * member_stride + 3 * i;
      for (int c = 0; c < 3; ++c) sum_sq += (f[c] - mean[c]) * (f[c] - mean[c]);
    }
    deviation[i] = std::sqrt(sum_sq / n_members);
  }
}

DeviationRange virial_deviation(const double* member_virials, int64_t n_members, double n_atoms) {
  DeviationRange out;
  out.min = std::numeric_limits<double>::max();
  for (int k = 0; k < 9; ++k) {
    double mean = 0.0, sum_sq = 0.0;
    for (int64_t m = 0; m < n_members; ++m) mean += member_virials[9 * m + k] / n_members;
    for (int64_t m = 0; m < n_members; ++m) {
      sum_sq += (member_virials[9 * m + k] - mean) * (member_virials[9 * m + k] - mean);
    }
    const double std_k = std::sqrt(sum_sq / n_members) / n_atoms;
    out.max = std::max(out.max, std_k);
    out.min = std::min(out.min, std_k);
    out.avg += std_k / 9.0;
  }
  return out;
}

}  // namespace nnpkit
