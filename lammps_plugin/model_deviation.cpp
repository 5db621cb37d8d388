#include "model_deviation.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace nnpkit_lammps {

void atom_force_deviation(const double* member_forces, int n_atoms, int n_members, double* deviation) {
  for (int i = 0; i < n_atoms; ++i) {
    const double* f = member_forces + static_cast<int64_t>(i) * n_members * 3;
    double mean[3] = {0.0, 0.0, 0.0};
    for (int m = 0; m < n_members; ++m) {
      for (int c = 0; c < 3; ++c) mean[c] += f[3 * m + c] / n_members;
    }
    double sum_sq = 0.0;
    for (int m = 0; m < n_members; ++m) {
      for (int c = 0; c < 3; ++c) sum_sq += (f[3 * m + c] - mean[c]) * (f[3 * m + c] - mean[c]);
    }
    deviation[i] = std::sqrt(sum_sq / n_members);
  }
}

ModelDeviation reduce_model_deviation(MPI_Comm world, const double* atom_deviation, int n_owned,
                                      const std::vector<double>& member_virials, int n_members) {
  double local_max = 0.0, local_min = std::numeric_limits<double>::max(), local_sum[2] = {0.0, double(n_owned)};
  for (int i = 0; i < n_owned; ++i) {
    local_max = std::max(local_max, atom_deviation[i]);
    local_min = std::min(local_min, atom_deviation[i]);
    local_sum[0] += atom_deviation[i];
  }
  ModelDeviation out;
  double sum[2];
  MPI_Allreduce(&local_max, &out.max_force, 1, MPI_DOUBLE, MPI_MAX, world);
  MPI_Allreduce(&local_min, &out.min_force, 1, MPI_DOUBLE, MPI_MIN, world);
  MPI_Allreduce(local_sum, sum, 2, MPI_DOUBLE, MPI_SUM, world);
  const double n_atoms = sum[1];
  if (n_atoms == 0.0) return ModelDeviation();
  out.avg_force = sum[0] / n_atoms;

  std::vector<double> virials(member_virials.size());
  MPI_Allreduce(member_virials.data(), virials.data(), static_cast<int>(virials.size()), MPI_DOUBLE, MPI_SUM, world);
  out.max_virial = 0.0;
  out.min_virial = std::numeric_limits<double>::max();
  out.avg_virial = 0.0;
  for (int k = 0; k < 9; ++k) {
    double mean = 0.0, sum_sq = 0.0;
    for (int m = 0; m < n_members; ++m) mean += virials[9 * m + k] / n_members;
    for (int m = 0; m < n_members; ++m) sum_sq += (virials[9 * m + k] - mean) * (virials[9 * m + k] - mean);
    const double std_k = std::sqrt(sum_sq / n_members) / n_atoms;
    out.max_virial = std::max(out.max_virial, std_k);
    out.min_virial = std::min(out.min_virial, std_k);
    out.avg_virial += std_k / 9.0;
  }
  return out;
}

ModelDeviationFile::~ModelDeviationFile() {
  if (file_) std::fclose(file_);
}

bool ModelDeviationFile::write(int64_t step, const ModelDeviation& d) {
  if (!file_) {
    file_ = std::fopen(path_.c_str(), "w");
    if (!file_) return false;
    std::fprintf(file_, "#%11s %18s %18s %18s %18s %18s %18s\n", "step", "max_devi_v", "min_devi_v", "avg_devi_v",
                 "max_devi_f", "min_devi_f", "avg_devi_f");
  }
  if (step == last_step_) return true;
  last_step_ = step;
  std::fprintf(file_, "%12lld %18.10e %18.10e %18.10e %18.10e %18.10e %18.10e\n", static_cast<long long>(step),
               d.max_virial, d.min_virial, d.avg_virial, d.max_force, d.min_force, d.avg_force);
  std::fflush(file_);
  return true;
}

}  // namespace nnpkit_lammps
