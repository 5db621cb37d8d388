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

// Bytes / sizeof(T) values of T in one vector: 32 bytes by default (the width the
// descriptor kernels' short loops run best at), 64 for the network products on
// AVX-512 (kWideBytes), whose long rows keep twice the arithmetic per instruction.
template <typename T, int Bytes = 32>
struct LanesOf {
  static_assert(std::is_same_v<T, double> || std::is_same_v<T, float>, "lanes of float or double");
  typedef T type __attribute__((vector_size(Bytes)));
};
template <typename T, int Bytes = 32>
using Lanes = typename LanesOf<T, Bytes>::type;

#if defined(__AVX512F__)
constexpr int kWideBytes = 64;
#else
constexpr int kWideBytes = 32;
#endif

template <typename T, int Bytes = 32>
inline Lanes<T, Bytes> load_lanes(const T* p) {
  Lanes<T, Bytes> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T, typename V>
inline void store_lanes(T* p, const V& v) {
  static_assert(sizeof(V) % sizeof(T) == 0, "a vector of T");
  std::memcpy(p, &v, sizeof v);
}

// Bytes / sizeof(T) values of T from weights stored as W: W = T, or float weights
// of a float64 evaluation (weights that are float32 values, as ANI's NeuroChem
// files hold), widened exactly in registers from half the bytes.
template <typename T, int Bytes = 32, typename W>
inline Lanes<T, Bytes> load_widened(const W* p) {
  if constexpr (std::is_same_v<T, W>) {
    return load_lanes<T, Bytes>(p);
  } else {
    static_assert(std::is_same_v<T, double> && std::is_same_v<W, float>, "weights widen from float to double");
    Lanes<float, Bytes / 2> v;
    std::memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, Lanes<double, Bytes>);
  }
}

}  // namespace nnpkit
