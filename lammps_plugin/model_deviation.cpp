#include "model_deviation.h"

#include <algorithm>
#include <limits>

#include "core/committee_deviation.h"

namespace nnpkit_lammps {

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
  const nnpkit::DeviationRange v = nnpkit::virial_deviation(virials.data(), n_members, n_atoms);
  out.max_virial = v.max;
  out.min_virial = v.min;
  out.avg_virial = v.avg;
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
