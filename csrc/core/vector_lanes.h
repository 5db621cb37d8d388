// kLanes values of T in one 32-byte vector (GCC/Clang vector extension: AVX
// registers with -march=native, pairs of SSE registers without), for the kernels
// that hold partial sums in registers across a loop.
#pragma once

#include <cstring>

namespace nnpkit {

template <typename T>
struct LanesOf;
template <>
struct LanesOf<double> {
  typedef double type __attribute__((vector_size(32)));
};
template <>
struct LanesOf<float> {
  typedef float type __attribute__((vector_size(32)));
};
template <typename T>
using Lanes = typename LanesOf<T>::type;

template <typename T>
inline Lanes<T> load_lanes(const T* p) {
  Lanes<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
inline void store_lanes(T* p, const Lanes<T>& v) {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace nnpkit
