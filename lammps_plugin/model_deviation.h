// Committee deviation in DeePMD-kit's model_devi layout, so that active-learning
// tools (dpgen and alike) read the file unchanged:
//   step  max_devi_v  min_devi_v  avg_devi_v  max_devi_f  min_devi_f  avg_devi_f
// The formulas are the core's (core/committee_deviation.h); this file reduces
// them over MPI ranks, from forces already summed over all ranks' contributions,
// and writes the file.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace nnpkit_lammps {

struct ModelDeviation {
  double max_virial = 0.0, min_virial = 0.0, avg_virial = 0.0;
  double max_force = 0.0, min_force = 0.0, avg_force = 0.0;
};

// Collective over `world`: statistics of the owned atoms' force deviations and of
// the member virials (each rank passes its own [n_members * 9] contribution).
ModelDeviation reduce_model_deviation(MPI_Comm world, const double* atom_deviation, int n_owned,
                                      const std::vector<double>& member_virials, int n_members);

// The file, written by one rank. Lines for a step already written are skipped,
// so repeated `run N pre no post no` does not duplicate the step it starts from.
class ModelDeviationFile {
 public:
  explicit ModelDeviationFile(std::string path) : path_(std::move(path)) {}
  ~ModelDeviationFile();
  ModelDeviationFile(const ModelDeviationFile&) = delete;
  ModelDeviationFile& operator=(const ModelDeviationFile&) = delete;

  const std::string& path() const { return path_; }
  // Returns false if the file cannot be opened.
  bool write(int64_t step, const ModelDeviation& deviation);

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  int64_t last_step_ = -1;
};

}  // namespace nnpkit_lammps
