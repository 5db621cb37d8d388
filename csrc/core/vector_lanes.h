// kLanes values of T in one 32-byte vector (GCC/Clang vector extension: AVX
// registers with -march=native, pairs of SSE registers without), for the kernels
// that hold partial sums in registers across a loop.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__AVX__)
#include <immintrin.h>
#endif

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

// Makes v a register value from here on. GCC otherwise folds a loaded vector that
// several multiply-adds use into each of them as a memory operand, one load per use,
// and kernels that were FMA-bound become bound by the loads. No instruction is emitted.
template <typename V>
inline void keep_in_register(V& v) {
#if defined(__GNUC__) && defined(__AVX512F__)
  asm("" : "+v"(v));
#elif defined(__GNUC__) && defined(__AVX__)
  asm("" : "+x"(v));
#else
  (void)v;
#endif
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
    Lanes<double, Bytes> out;
    // One converting load per vector: GCC 12 lowers __builtin_convertvector of a
    // loaded float vector to two half loads, two conversions and an insert, which
    // made the float64 products of small molecules bound by the conversion.
#if defined(__AVX512F__)
    if constexpr (Bytes == 64) {
      const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(p));
      std::memcpy(&out, &v, sizeof out);
      return out;
    }
#endif
#if defined(__AVX__)
    if constexpr (Bytes == 32) {
      const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(p));
      std::memcpy(&out, &v, sizeof out);
      return out;
    }
#endif
    Lanes<float, Bytes / 2> v;
    std::memcpy(&v, p, sizeof v);
    out = __builtin_convertvector(v, Lanes<double, Bytes>);
    return out;
  }
}

}  // namespace nnpkit
