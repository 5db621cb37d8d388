// Plain C++ interface of the CUDA symmetry-function kernels (no torch headers,
// so the .cu file compiles in seconds). Pointers are device pointers.
#pragma once

#include <cstdint>

namespace nnpkit::cuda {

// One flattened symmetry-function table, as in csrc/core/symmetry_functions.h:
// sf_int [n_sf * int_stride], sf_real [n_sf * real_stride] (strides 6/7 and 6/9). offsets [n_atoms + 1] are the centre-grouped
// edge ranges. mode: 0 forward (rows += G), 1 vector-Jacobian (edge_out += seed_rows . dG/dr),
// 2 Jacobian-vector (rows += dG/dr . seed_edges).
template <typename T>
void symmetry_functions_launch(int mode, const T* edge_vectors, const int64_t* neighbors, const int64_t* species,
                               const int64_t* offsets, int64_t n_centers, const int64_t* sf_int, const double* sf_real,
                               int64_t n_sf, int64_t int_stride, int64_t real_stride, int64_t n_columns, const T* seed,
                               T* rows, T* edge_out, void* stream);

}  // namespace nnpkit::cuda
