// How many threads a pass may split its work over here: torch's intra-op thread
// count, or one inside a parallel region (where at::parallel_for runs inline).
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

namespace nnpkit {

inline int64_t usable_threads() {
  return at::in_parallel_region() ? 1 : std::max<int64_t>(1, at::get_num_threads());
}

}  // namespace nnpkit
