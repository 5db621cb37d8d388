// kLanes values of T in one 32-byte vector (GCC/Clang vector extension: AVX
// registers with -march=native, pairs of SSE registers without), for the kernels
// that hold partial sums in registers across a loop.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace nnpkit {

// Vector registers of the target, which bound the register blocks of the kernels
// (sums kept across a loop): 32 with AVX-512, else 16.
#if defined(__AVX512F__)
constexpr int kVectorRegisters = 32;
#else
constexpr int kVectorRegisters = 16;
#endif

// f(std::integral_constant<int, n>{}) for a run-time count 1 <= n <= Max (nothing
// otherwise): picks the compile-time block of a kernel for a remainder.
template <int Max, typename F>
inline void with_count(int64_t n, F&& f) {
  if constexpr (Max >= 1) {
    if (n == Max) {
      f(std::integral_constant<int, Max>{});
      return;
    }
    with_count<Max - 1>(n, f);
  }
}

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
