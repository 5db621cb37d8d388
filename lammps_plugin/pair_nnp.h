// pair_style nnp: any nnpkit model file in LAMMPS. Translates LAMMPS atoms,
// ghosts and units into the model contract and the results back; the physics is
// in the nnpkit core. See docs/lammps.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pair.h"

#include "extrapolation_warnings.h"

namespace nnpkit {
class Model;
struct EvaluationOutput;
}  // namespace nnpkit

namespace nnpkit_lammps {
class ModelDeviationFile;
struct ModelEdges;
}  // namespace nnpkit_lammps

namespace LAMMPS_NS {

class PairNNP : public Pair {
 public:
  explicit PairNNP(class LAMMPS*);
  ~PairNNP() override;

  void compute(int eflag, int vflag) override;
  void settings(int narg, char** arg) override;
  void coeff(int narg, char** arg) override;
  void init_style() override;
  void setup() override;
  void finish() override;
  double init_one(int i, int j) override;

  void write_restart(FILE* fp) override;
  void read_restart(FILE* fp) override;
  void write_restart_settings(FILE* fp) override;
  void read_restart_settings(FILE* fp) override;

  int pack_reverse_comm(int n, int first, double* buf) override;
  void unpack_reverse_comm(int n, int* list, double* buf) override;
  void* extract(const char* name, int& dim) override;
  double memory_usage() override;

 private:
  void allocate();
  void load_model();
  void apply_engine_units();
  void set_ghost_cutoff();
  void check_box_size();
  bool deviation_due() const;
  void tally(const nnpkit_lammps::ModelEdges& edges, const nnpkit::EvaluationOutput& out);
  void compute_deviation(const nnpkit_lammps::ModelEdges& edges, const nnpkit::EvaluationOutput& out);
  void handle_extrapolation(const nnpkit_lammps::ModelEdges& edges, const nnpkit::EvaluationOutput& out);
  void check_compute_pair();

  // settings (stored in restart files)
  std::string model_path_;
  int dev_every_ = 0;                         // 0: no committee deviation
  std::string dev_file_path_ = "model_devi.out";
  int threads_ = 0;                           // 0: automatic
  nnpkit_lammps::ExtrapolationSettings ew_settings_;  // showew, showewsum, maxew, resetew
  double min_distance_ = -1.0;                // user's override, LAMMPS length units (< 0: the model's)
  int64_t max_neighbors_ = 0;                 // 0: the core's default

  std::unique_ptr<nnpkit::Model> model_;
  std::vector<int> type_species_;             // per atom type: model species index, -1 = NULL
  int message_hops_ = 0;
  std::unique_ptr<nnpkit_lammps::ModelDeviationFile> dev_file_;
  std::vector<double> member_forces_;         // [nall][members][3] on deviation steps
  int members_ = 1;
  double max_force_deviation_ = 0.0;          // latest, for extract("max_force_dev")
  bool ew_active_ = false;                    // the model can count (always counted: per-run summary)
  nnpkit_lammps::ExtrapolationCounter ew_counter_;
  int64_t run_warnings_ = 0;                  // this run, for the summary that finish() prints
  int64_t run_evaluations_ = 0;
  int64_t run_evaluations_warned_ = 0;
  double ghost_cutoff_set_ = -1.0;            // comm cutoff this style set, to restore it
  double ghost_cutoff_before_ = 0.0;
};

}  // namespace LAMMPS_NS
