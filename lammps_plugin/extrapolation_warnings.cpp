#include "extrapolation_warnings.h"

#include <algorithm>

namespace nnpkit_lammps {

int64_t ExtrapolationCounter::add(MPI_Comm world, int64_t local_warnings, const ExtrapolationSettings& settings) {
  int64_t global = 0;
  MPI_Allreduce(&local_warnings, &global, 1, MPI_INT64_T, MPI_SUM, world);
  counted_ = settings.reset_each_step ? global : counted_ + global;
  since_summary_ += global;
  return global;
}

int64_t ExtrapolationCounter::take_summary() {
  const int64_t n = since_summary_;
  since_summary_ = 0;
  return n;
}

std::vector<AtomWarnings> gather_on_root(MPI_Comm world, const std::vector<AtomWarnings>& local) {
  constexpr int kFields = 3;
  int rank = 0, ranks = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &ranks);
  std::vector<int64_t> send;
  send.reserve(kFields * local.size());
  for (const auto& w : local) send.insert(send.end(), {w.tag, w.species, w.count});
  const int n_send = static_cast<int>(send.size());
  std::vector<int> sizes(rank == 0 ? ranks : 0), offsets(rank == 0 ? ranks : 0);
  MPI_Gather(&n_send, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, world);
  int total = 0;
  for (int r = 0; r < static_cast<int>(sizes.size()); ++r) {
    offsets[r] = total;
    total += sizes[r];
  }
  std::vector<int64_t> received(total);
  MPI_Gatherv(send.data(), n_send, MPI_INT64_T, received.data(), sizes.data(), offsets.data(), MPI_INT64_T, 0,
              world);
  std::vector<AtomWarnings> out(total / kFields);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = {received[kFields * i], received[kFields * i + 1], received[kFields * i + 2]};
  }
  std::sort(out.begin(), out.end(), [](const AtomWarnings& a, const AtomWarnings& b) { return a.tag < b.tag; });
  return out;
}

}  // namespace nnpkit_lammps
