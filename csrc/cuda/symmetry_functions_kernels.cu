// CUDA driver of the symmetry functions: one thread per centre atom, calling the
// same per-pair and per-triplet functions as the CPU driver
// (csrc/core/symmetry_function_terms.h). Only launch and memory code lives here.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "core/symmetry_function_terms.h"
#include "cuda/symmetry_functions_kernels.h"

namespace nnpkit::cuda {
namespace {

template <typename T>
__device__ SymmetryFunctionParams<T> params_of(const int64_t* si, const double* r, int64_t int_stride,
                                               int64_t real_stride) {
  SymmetryFunctionParams<T> p{T(r[0]), T(r[1]), T(r[2]), T(r[3]), T(r[4]), T(r[5]), static_cast<int>(si[4])};
  if (real_stride > 6) {
    p.weight = T(r[6]);
    p.angle_left = T(r[7]);
    p.angle_right = T(r[8]);
  }
  if (int_stride > 6) p.asymmetric = si[6] != 0;
  return prepare_params<T>(p);
}

template <typename T>
__device__ T norm3(const T* v) {
  return sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
}

template <typename T>
__global__ void symmetry_functions_kernel(int mode, const T* vec, const int64_t* neighbors, const int64_t* species,
                                          const int64_t* offsets, int64_t n_centers, const int64_t* sf_int,
                                          const double* sf_real, int64_t n_sf, int64_t int_stride,
                                          int64_t real_stride, int64_t n_columns, const T* seed, T* rows,
                                          T* edge_out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n_centers) return;
  const int64_t centre_species = species[i];
  const int64_t e0 = offsets[i], e1 = offsets[i + 1];
  T grad_a[3], grad_b[3];
  for (int64_t s = 0; s < n_sf; ++s) {
    const int64_t* si = sf_int + int_stride * s;
    if (si[0] != centre_species) continue;
    const int type = static_cast<int>(si[1]);
    const int64_t column = si[5];
    const SymmetryFunctionParams<T> p = params_of<T>(si, sf_real + real_stride * s, int_stride, real_stride);
    const T g = (mode == 1) ? seed[i * n_columns + column] : T(0);
    if (mode == 1 && g == T(0)) continue;
    T acc = T(0);
    if (is_radial_type(type)) {
      for (int64_t e = e0; e < e1; ++e) {
        if (species[neighbors[e]] != si[2]) continue;
        const T* a = vec + 3 * e;
        const T r = norm3(a);
        if (r >= p.rc) continue;
        if (mode == 0) {
          acc += any_radial_term<T>(type, a, r, p, nullptr);
        } else {
          any_radial_term<T>(type, a, r, p, grad_a);
          for (int c = 0; c < 3; ++c) {
            if (mode == 1) edge_out[3 * e + c] += g * grad_a[c];
            else acc += grad_a[c] * seed[3 * e + c];
          }
        }
      }
    } else {
      for (int64_t ea = e0; ea < e1; ++ea) {
        const T* a = vec + 3 * ea;
        const T ra = norm3(a);
        if (ra >= p.rc) continue;
        const int64_t sa = species[neighbors[ea]];
        for (int64_t eb = ea + 1; eb < e1; ++eb) {
          const int64_t sb = species[neighbors[eb]];
          if (!((sa == si[2] && sb == si[3]) || (sa == si[3] && sb == si[2]))) continue;
          const T* b = vec + 3 * eb;
          const T rb = norm3(b);
          if (rb >= p.rc) continue;
          if (mode == 0) {
            acc += any_angular_term<T>(type, a, ra, b, rb, p, nullptr, nullptr);
          } else {
            any_angular_term<T>(type, a, ra, b, rb, p, grad_a, grad_b);
            for (int c = 0; c < 3; ++c) {
              if (mode == 1) {
                edge_out[3 * ea + c] += g * grad_a[c];
                edge_out[3 * eb + c] += g * grad_b[c];
              } else {
                acc += grad_a[c] * seed[3 * ea + c] + grad_b[c] * seed[3 * eb + c];
              }
            }
          }
        }
      }
    }
    if (mode != 1) rows[i * n_columns + column] += acc;
  }
}

}  // namespace

template <typename T>
void symmetry_functions_launch(int mode, const T* edge_vectors, const int64_t* neighbors, const int64_t* species,
                               const int64_t* offsets, int64_t n_centers, const int64_t* sf_int, const double* sf_real,
                               int64_t n_sf, int64_t int_stride, int64_t real_stride, int64_t n_columns, const T* seed,
                               T* rows, T* edge_out, void* stream) {
  if (n_centers == 0) return;
  constexpr int kThreads = 128;
  const auto blocks = static_cast<unsigned>((n_centers + kThreads - 1) / kThreads);
  symmetry_functions_kernel<T><<<blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      mode, edge_vectors, neighbors, species, offsets, n_centers, sf_int, sf_real, n_sf, int_stride, real_stride,
      n_columns, seed, rows, edge_out);
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string("symmetry-function kernel launch failed: ") + cudaGetErrorString(status));
  }
}

template void symmetry_functions_launch<float>(int, const float*, const int64_t*, const int64_t*, const int64_t*,
                                               int64_t, const int64_t*, const double*, int64_t, int64_t, int64_t,
                                               int64_t, const float*, float*, float*, void*);
template void symmetry_functions_launch<double>(int, const double*, const int64_t*, const int64_t*, const int64_t*,
                                                int64_t, const int64_t*, const double*, int64_t, int64_t, int64_t,
                                                int64_t, const double*, double*, double*, void*);

}  // namespace nnpkit::cuda
