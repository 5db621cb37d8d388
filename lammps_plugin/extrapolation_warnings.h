// Extrapolation warnings (EWs) of pair_style nnp, with the keywords and
// semantics of n2p2's LAMMPS interface (showew, showewsum, maxew, resetew). One
// EW is one descriptor of one owned atom outside the model's training range; the
// model runner counts them per atom. Counts are summed over MPI ranks every
// evaluation, so summaries and the maxew threshold are global and exact (n2p2
// checks maxew per rank). Plain C++ and MPI: printing is the pair style's job.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <vector>

namespace nnpkit_lammps {

struct ExtrapolationSettings {
  bool show_each = false;        // showew: one line per atom with warnings
  int64_t summary_every = 0;     // showewsum: a summary every N steps (0: none)
  int64_t max_warnings = -1;     // maxew: stop when the counter exceeds it (-1: no limit)
  bool reset_each_step = false;  // resetew: the maxew counter counts one evaluation, not the whole trajectory
  // Whether anything asks for the counts (resetew alone only modifies maxew).
  bool active() const { return show_each || summary_every > 0 || max_warnings >= 0; }
};

// One owned atom with warnings, as gathered for printing.
struct AtomWarnings {
  int64_t tag = 0;
  int64_t species = 0;  // model species index
  int64_t count = 0;
};

class ExtrapolationCounter {
 public:
  // Collective over `world`: adds this rank's warnings of one evaluation and
  // returns the number over all ranks.
  int64_t add(MPI_Comm world, int64_t local_warnings, const ExtrapolationSettings& settings);
  // The warnings since the last summary, and starts the next one.
  int64_t take_summary();
  // What maxew is compared with: all warnings so far, or with resetew those of the latest evaluation.
  int64_t counted() const { return counted_; }

 private:
  int64_t counted_ = 0;
  int64_t since_summary_ = 0;
};

// Collective over `world`: every rank's atoms with warnings, on rank 0 sorted by
// tag (empty on the other ranks).
std::vector<AtomWarnings> gather_on_root(MPI_Comm world, const std::vector<AtomWarnings>& local);

}  // namespace nnpkit_lammps
