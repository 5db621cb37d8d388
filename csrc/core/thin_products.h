// Matrix products with few rows: one element's atoms of a small molecule (1-8
// rows) against a network layer. A general GEMM on so few rows runs far below the
// machine's pace (60% of a 9-atom molecule's time went to addmm/mm calls); these
// loops read each weight matrix once for all rows, from raw pointers (no tensor
// views or allocations per product). The weights' type W is T, or float for a
// float64 evaluation of float32-valued weights: a small molecule's time is the
// reading of its weights, and widening them in registers is exact.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "core/vector_lanes.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define NNPKIT_THIN_AVX2 1
#endif

namespace nnpkit {

// c + a b, fused where the target has FMA: written out, so that the rounding does
// not depend on whether the compiler contracts (it did for double weights and
// not for widened float ones, 1 ulp apart).
template <typename T>
inline T multiply_add(T a, T b, T c) {
#ifdef __FMA__
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// f(a, b, c) on the intrinsic vector type X that holds the same bytes as V.
template <typename X, typename V, typename F>
inline V as_intrinsic(V a, V b, V c, F f) {
  static_assert(sizeof(X) == sizeof(V), "an intrinsic vector of the same width");
  X x, y, z;
  std::memcpy(&x, &a, sizeof x);
  std::memcpy(&y, &b, sizeof y);
  std::memcpy(&z, &c, sizeof z);
  const X r = f(x, y, z);
  std::memcpy(&c, &r, sizeof c);
  return c;
}

// c + a b on vectors of lanes, fused where the target has FMA, written out for
// the same reason: GCC fused some register blocks' products and not others (a
// one-row, one-vector block with double weights, but not with widened float
// ones), and the few-row kernels must round alike for both weight types.
template <typename V>
inline V multiply_add_lanes(V a, V b, V c) {
  constexpr bool kDouble = std::is_same_v<decltype(a[0] + 0), double>;
#if defined(__FMA__)
  if constexpr (sizeof(V) == 32 && kDouble) {
    return as_intrinsic<__m256d>(a, b, c, [](auto x, auto y, auto z) { return _mm256_fmadd_pd(x, y, z); });
  } else if constexpr (sizeof(V) == 32) {
    return as_intrinsic<__m256>(a, b, c, [](auto x, auto y, auto z) { return _mm256_fmadd_ps(x, y, z); });
  }
#endif
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && kDouble) {
    return as_intrinsic<__m512d>(a, b, c, [](auto x, auto y, auto z) { return _mm512_fmadd_pd(x, y, z); });
  } else if constexpr (sizeof(V) == 64) {
    return as_intrinsic<__m512>(a, b, c, [](auto x, auto y, auto z) { return _mm512_fmadd_ps(x, y, z); });
  }
#endif
  return a * b + c;
}

#ifdef NNPKIT_THIN_AVX2
// The totals of eight vectors together, by a transpose-and-add tree: reduced one
// by one (what the compiler makes of a simd reduction), the horizontal sums of
// 512-bit float vectors cost as much as the products themselves.
inline void totals(const Lanes<double>* s, double* out) {
  for (int half = 0; half < 2; ++half) {
    const __m256d* v = reinterpret_cast<const __m256d*>(s + 4 * half);
    const __m256d h01 = _mm256_hadd_pd(v[0], v[1]);  // [0a+0b, 1a+1b, 0c+0d, 1c+1d]
    const __m256d h23 = _mm256_hadd_pd(v[2], v[3]);
    _mm256_storeu_pd(out + 4 * half,
                     _mm256_add_pd(_mm256_permute2f128_pd(h01, h23, 0x20), _mm256_permute2f128_pd(h01, h23, 0x31)));
  }
}

inline void totals(const Lanes<float>* s, float* out) {
  const __m256* v = reinterpret_cast<const __m256*>(s);
  // Per 128-bit half: partial sums of [0, 1, 2, 3] and [4, 5, 6, 7]; add the halves.
  const __m256 h0123 = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
  const __m256 h4567 = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
  _mm256_storeu_ps(out, _mm256_add_ps(_mm256_permute2f128_ps(h0123, h4567, 0x20),
                                      _mm256_permute2f128_ps(h0123, h4567, 0x31)));
}

// The totals of four 32-byte vectors: the first four outputs of the trees above,
// with the same additions in the same order.
inline void totals4(const Lanes<double>* s, double* out) {
  const __m256d* v = reinterpret_cast<const __m256d*>(s);
  const __m256d h01 = _mm256_hadd_pd(v[0], v[1]);
  const __m256d h23 = _mm256_hadd_pd(v[2], v[3]);
  _mm256_storeu_pd(out, _mm256_add_pd(_mm256_permute2f128_pd(h01, h23, 0x20), _mm256_permute2f128_pd(h01, h23, 0x31)));
}

inline void totals4(const Lanes<float>* s, float* out) {
  const __m256* v = reinterpret_cast<const __m256*>(s);
  const __m256 h0123 = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
  _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(h0123), _mm256_extractf128_ps(h0123, 1)));
}

// Wider vectors: their two 32-byte halves added, then the tree above.
template <typename T, typename V>
inline void totals(const V* s, T* out) {
  static_assert(sizeof(V) == 64, "totals of 64-byte vectors");
  Lanes<T> halves[8];
  for (int q = 0; q < 8; ++q) {
    Lanes<T> high;
    std::memcpy(&halves[q], &s[q], sizeof halves[q]);
    std::memcpy(&high, reinterpret_cast<const char*>(&s[q]) + sizeof high, sizeof high);
    halves[q] += high;
  }
  totals(halves, out);
}

// Rows of A handled together by the blocked kernels, so that each loaded weight
// vector serves all of them: dot products of three rows x eight outputs (24 sums)
// and thin_times' six rows x four vectors of C (24) fit in 32 registers; with 16,
// dot products of three rows x four outputs (12 sums and three row vectors; the
// multiply-adds read float weights from L1 as their memory operand, and a widened
// float weight takes the one register left) and six rows x two vectors of C (12
// sums, two weight vectors and a broadcast row value). Three rows, not two: a
// five-atom element's forward had run as blocks of 2, 2 and 1 rows, at 2.2 and
// 2.5 instructions per vector multiply-add, against 2.0 for blocks of 3 and 2
// (callgrind, a small molecule's float32 forward). Six rows either way in
// thin_times: each weight vector loaded from L2 serves six rows' multiply-adds.
// With two rows x four vectors (AVX2 before) the weights' stream from L2 bounded
// the products at 20 GMAC/s in float32 on a Zen 3 core, against 47 for six rows x
// two. A single row's dot products keep eight outputs (eight independent sums hide
// the adder's latency). The network products
// run on kWideBytes vectors: with 8 rows or fewer they are bound by the
// multiply-adds issued, 512-bit ones do twice the work of 256-bit ones.
constexpr int kBlockRows = 3;
constexpr int kBlockOutputs = kVectorRegisters >= 32 ? 8 : 4;
constexpr int kTimesRows = 6;
constexpr int kTimesVectors = kVectorRegisters >= 32 ? 4 : 2;

// out[r * Q + q] = sum_k a[r * lda + k] b[q][k] for r < R, q < Q (8, or 4 on
// 32-byte vectors). With `ahead` non-null, the Q K weights from there are
// prefetched as fast as the rows b are read (the next rows of a weight matrix: a
// small molecule's weights come from memory, and rows of one or two kilobytes are
// too short for the hardware prefetcher to run ahead of).
template <typename T, int R, int Q, typename W = T, int Bytes = 32>
void dot_rows(const T* __restrict a, int64_t lda, const W* const* b, int64_t K, T* out, const W* ahead = nullptr) {
  static_assert(Q == 8 || (Q == 4 && Bytes == 32), "dot products of 8 outputs, or 4 on 32-byte vectors");
  constexpr int64_t kLanes = Bytes / sizeof(T);
  constexpr int64_t kLine = 64 / sizeof(W);
  using V = Lanes<T, Bytes>;
  V s[R][Q] = {};
  int64_t k = 0;
  for (; k + kLanes <= K; k += kLanes) {
    if (ahead != nullptr) {
      for (int64_t i = 0; i < Q * kLanes; i += kLine) __builtin_prefetch(ahead + Q * k + i, 0, 3);
    }
    V x[R];
    for (int r = 0; r < R; ++r) x[r] = load_lanes<T, Bytes>(a + r * lda + k);
    for (int q = 0; q < Q; ++q) {
      const V w = load_widened<T, Bytes>(b[q] + k);
      for (int r = 0; r < R; ++r) s[r][q] = multiply_add_lanes(x[r], w, s[r][q]);
    }
  }
  for (int r = 0; r < R; ++r) {
    if constexpr (Q == 8) {
      totals(s[r], out + Q * r);
    } else {
      totals4(s[r], out + Q * r);
    }
  }
  for (; k < K; ++k) {
    for (int r = 0; r < R; ++r) {
      for (int q = 0; q < Q; ++q) out[Q * r + q] = multiply_add(a[r * lda + k], T(b[q][k]), out[Q * r + q]);
    }
  }
}

// R rows x eight outputs: as one block of dot products, or (kBlockOutputs 4, more
// than one row) as two blocks of four outputs, the second prefetching the second
// half of `ahead`. The same sums in the same order either way.
template <typename T, int R, typename W = T, int Bytes = 32>
void dot_rows8(const T* __restrict a, int64_t lda, const W* const* b, int64_t K, T* out, const W* ahead = nullptr) {
  if constexpr (R == 1 || kBlockOutputs == 8 || Bytes != 32) {
    dot_rows<T, R, 8, W, Bytes>(a, lda, b, K, out, ahead);
  } else {
    T half[4 * R];
    for (int h = 0; h < 2; ++h) {
      dot_rows<T, R, 4, W, Bytes>(a, lda, b + 4 * h, K, half, ahead != nullptr ? ahead + 4 * h * K : nullptr);
      for (int r = 0; r < R; ++r) {
        for (int q = 0; q < 4; ++q) out[8 * r + 4 * h + q] = half[4 * r + q];
      }
    }
  }
}

// Eight dot products of a [K] with b[q] [K], q < 8, into out[0..8).
template <typename T, typename W = T, int Bytes = 32>
void dot8(const T* __restrict a, const W* const* b, int64_t K, T* out) {
  dot_rows8<T, 1, W, Bytes>(a, K, b, K, out);
}

// C[r, v kLanes + lane] for r < R, v < V (accumulate ? C : bias or 0) plus
// sum_k A[r, k] B[k, v kLanes + lane]: R rows x V vectors of C in registers over
// all of K. B, bias and C point at the block's first column.
template <typename T, int R, int V, typename W>
void times_block(const T* __restrict A, int64_t lda, int64_t K, const W* __restrict B, int64_t ldb, const T* bias,
                 T* C, int64_t ldc, bool accumulate) {
  constexpr int64_t kLanes = kWideBytes / sizeof(T);
  using Vec = Lanes<T, kWideBytes>;
  Vec c[R][V];
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) {
      const int64_t j = v * kLanes;
      c[r][v] = accumulate ? load_lanes<T, kWideBytes>(C + r * ldc + j)
                           : (bias != nullptr ? load_lanes<T, kWideBytes>(bias + j) : Vec{});
    }
  }
  for (int64_t k = 0; k < K; ++k) {
    Vec w[V];
    for (int v = 0; v < V; ++v) w[v] = load_widened<T, kWideBytes>(B + k * ldb + v * kLanes);
    for (int r = 0; r < R; ++r) {
      const T x = A[r * lda + k];
      const Vec xv = x - Vec{};  // x in every lane (x - 0 is x, -0 included: no instruction)
      for (int v = 0; v < V; ++v) c[r][v] = multiply_add_lanes(xv, w[v], c[r][v]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) store_lanes(C + r * ldc + v * kLanes, c[r][v]);
  }
}
#else
// Eight dot products of a [K] with b[q] [K], q < 8, into out[0..8): eight
// independent sums hide the adder's latency.
template <typename T, typename W = T, int Bytes = 32>
void dot8(const T* __restrict a, const W* const* b, int64_t K, T* out) {
  T s0 = T(0), s1 = T(0), s2 = T(0), s3 = T(0), s4 = T(0), s5 = T(0), s6 = T(0), s7 = T(0);
#pragma omp simd reduction(+ : s0, s1, s2, s3, s4, s5, s6, s7)
  for (int64_t k = 0; k < K; ++k) {
    const T x = a[k];
    s0 += x * T(b[0][k]);
    s1 += x * T(b[1][k]);
    s2 += x * T(b[2][k]);
    s3 += x * T(b[3][k]);
    s4 += x * T(b[4][k]);
    s5 += x * T(b[5][k]);
    s6 += x * T(b[6][k]);
    s7 += x * T(b[7][k]);
  }
  const T sums[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
  for (int q = 0; q < 8; ++q) out[q] = sums[q];
}
#endif

// v unchanged, as a value the compiler must hold in a register: a product passed
// through it is rounded on its own, not fused into the add that follows. GCC
// fused dot's products for widened float weights (since they load with one
// conversion) and not for double ones, which made the two 1 ulp apart.
// Only targets with FMA can fuse (and they have AVX, whose registers hold V).
template <typename V>
inline void unfused(V& v) {
#if defined(__FMA__) && defined(__AVX512F__)
  asm("" : "+v"(v));
#elif defined(__FMA__)
  asm("" : "+x"(v));
#else
  (void)v;
#endif
}

// sum_k a[k] b[k], in one order and rounding whatever W is (a simd reduction's
// order would follow the vector width the compiler picks for W).
template <typename T, typename W = T, int Bytes = 32>
T dot(const T* __restrict a, const W* __restrict b, int64_t K) {
  constexpr int64_t kLanes = Bytes / sizeof(T);
  Lanes<T, Bytes> s = {};
  int64_t k = 0;
  for (; k + kLanes <= K; k += kLanes) {
    Lanes<T, Bytes> product = load_lanes<T, Bytes>(a + k) * load_widened<T, Bytes>(b + k);
    unfused(product);
    s += product;
  }
  T sum = T(0);
  for (int64_t l = 0; l < kLanes; ++l) sum += s[l];
  for (; k < K; ++k) sum = multiply_add(a[k], T(b[k]), sum);
  return sum;
}

constexpr int64_t kThinRows = 8;

// thin_times on any column count: one row of B at a time, C added to in memory.
template <typename T, typename W>
void thin_times_columns(const T* A, int64_t lda, int64_t n, int64_t K, const W* B, int64_t ldb, int64_t N,
                        const T* bias, T* C, int64_t ldc, bool accumulate) {
  for (int64_t r = 0; r < n && !accumulate; ++r) {
    T* __restrict c = C + r * ldc;
    for (int64_t j = 0; j < N; ++j) c[j] = bias != nullptr ? bias[j] : T(0);
  }
  for (int64_t k = 0; k < K; ++k) {
    const W* __restrict b = B + k * ldb;
    for (int64_t r = 0; r < n; ++r) {
      const T a = A[r * lda + k];
      if (a == T(0)) continue;
      T* __restrict c = C + r * ldc;
#pragma omp simd
      for (int64_t j = 0; j < N; ++j) c[j] = multiply_add(a, T(b[j]), c[j]);
    }
  }
}

// A thin_times epilogue that leaves C as it is.
struct KeepOutputs {
  void operator()(int64_t /*row*/, int64_t /*rows*/, int64_t /*column*/, int64_t /*columns*/) const {}
};

// The packed layout of a B [K, N] that thin_times_packed reads: its columns in
// groups of kTimesVectors vectors, then one group of the whole vectors left, then
// the columns left; group [j0, j0 + w) is stored [K][w] from offset j0 K, so that a
// register block reads its weights as one contiguous stream. Read by rows of a
// wider matrix (ANI's first layer: rows 8 KB apart, which share a few cache sets),
// the six-row blocks ran at 28 GMAC/s against 47 packed (float32, Zen 3), and by
// rows of the matrix itself between 28 and 47 as the shared L2 allowed.
// f(j0, w) for each group, in order (without the blocked kernels: one group).
template <typename T, typename F>
void for_each_packed_group(int64_t N, const F& f) {
#ifdef NNPKIT_THIN_AVX2
  constexpr int64_t kLanes = kWideBytes / sizeof(T);
  constexpr int64_t kChunk = kTimesVectors * kLanes;
  const int64_t chunked = N / kChunk * kChunk;
  const int64_t blocked = N / kLanes * kLanes;
  for (int64_t j = 0; j < chunked; j += kChunk) f(j, kChunk);
  if (blocked > chunked) f(chunked, blocked - chunked);
  if (N > blocked) f(blocked, N - blocked);
#else
  if (N > 0) f(0, N);
#endif
}

#ifdef NNPKIT_THIN_AVX2
// The register blocks of thin_times and thin_times_packed on B's columns [0,
// blocked) (whole vectors): rows x kTimesVectors vectors of C (the last whole
// vectors as one narrower block) held in registers over all of K, so that each
// loaded vector of B serves all rows of the block and C is stored once; rows in
// blocks of kTimesRows (the last rows as one block). group(j0, w) gives the column
// group's B and its row stride; finish(r, rows, 0, blocked) runs on each block of
// rows right after it is stored (a few kilobytes, still in L1).
template <typename T, typename W, typename Group, typename Finish>
void times_blocked_columns(const T* A, int64_t lda, int64_t n, int64_t K, int64_t blocked, const Group& group,
                           const T* bias, T* C, int64_t ldc, bool accumulate, const Finish& finish) {
  constexpr int64_t kLanes = kWideBytes / sizeof(T);
  const auto rows = [&](auto rows_tag, int64_t r) {
    constexpr int R = decltype(rows_tag)::value;
    for_each_packed_group<T>(blocked, [&](int64_t j0, int64_t w) {
      const auto [b, ldb] = group(j0, w);
      with_count<kTimesVectors>(w / kLanes, [&](auto vectors_tag) {
        times_block<T, R, decltype(vectors_tag)::value, W>(A + r * lda, lda, K, b, ldb,
                                                           bias != nullptr ? bias + j0 : nullptr, C + r * ldc + j0,
                                                           ldc, accumulate);
      });
    });
    finish(r, R, 0, blocked);
  };
  int64_t r = 0;
  for (; r + kTimesRows <= n; r += kTimesRows) rows(std::integral_constant<int, kTimesRows>{}, r);
  with_count<kTimesRows - 1>(n - r, [&](auto rows_tag) { rows(rows_tag, r); });
}
#endif

#ifdef NNPKIT_THIN_AVX2
// Vectors of C per register block for one or two rows of A (an element with one or
// two atoms in a small molecule), more than kTimesVectors: with two vectors per
// row, a single row's block issued a broadcast and loop control per two
// multiply-adds (four instructions per vector multiply-add; a molecule's backward
// products run mostly on such rows). The sums are those of times_blocked_columns.
template <int R>
constexpr int kFewRowVectors = R == 1 ? 8 : (kVectorRegisters >= 32 ? 8 : 4);

// times_blocked_columns' products for n <= 2 rows, on B's columns [0, blocked).
template <typename T, typename W>
void few_row_blocks(const T* A, int64_t lda, int64_t n, int64_t K, const W* B, int64_t ldb, int64_t blocked,
                    const T* bias, T* C, int64_t ldc, bool accumulate) {
  constexpr int64_t kLanes = kWideBytes / sizeof(T);
  with_count<2>(n, [&](auto rows_tag) {
    constexpr int R = decltype(rows_tag)::value;
    constexpr int V = kFewRowVectors<R>;
    for (int64_t j0 = 0; j0 < blocked; j0 += V * kLanes) {
      with_count<V>(std::min<int64_t>(V * kLanes, blocked - j0) / kLanes, [&](auto vectors_tag) {
        times_block<T, R, decltype(vectors_tag)::value, W>(A, lda, K, B + j0, ldb, bias != nullptr ? bias + j0 : nullptr,
                                                           C + j0, ldc, accumulate);
      });
    }
  });
}
#endif

// C[r, :] = (accumulate ? C[r, :] : bias or 0) + sum_k A[r, k] B[k, :] for r < n;
// B [K, N] with rows of stride ldb. Each row of B is read once for all rows of A.
// finish(r, rows, j, columns) runs on each block of rows of C right after it is
// stored (still in L1: an activation applied by a pass of its own read and wrote every
// layer's outputs through L2 and L3 again); every element of C is finished once.
template <typename T, typename W = T, typename Finish = KeepOutputs>
void thin_times(const T* A, int64_t lda, int64_t n, int64_t K, const W* B, int64_t ldb, int64_t N, const T* bias,
                T* C, int64_t ldc, bool accumulate, const Finish& finish = Finish{}) {
#ifdef NNPKIT_THIN_AVX2
  const int64_t blocked = N / (kWideBytes / sizeof(T)) * (kWideBytes / sizeof(T));
  if (blocked > 0) {
    if (n <= 2) {
      few_row_blocks<T, W>(A, lda, n, K, B, ldb, blocked, bias, C, ldc, accumulate);
      finish(0, n, 0, blocked);
    } else {
      times_blocked_columns<T, W>(A, lda, n, K, blocked,
                                  [&](int64_t j0, int64_t) { return std::make_pair(B + j0, ldb); }, bias, C, ldc,
                                  accumulate, finish);
    }
    if (blocked == N) return;
    // The remaining columns by the loop below.
    thin_times_columns<T, W>(A, lda, n, K, B + blocked, ldb, N - blocked, bias != nullptr ? bias + blocked : nullptr,
                          C + blocked, ldc, accumulate);
    finish(0, n, blocked, N - blocked);
    return;
  }
#endif
  thin_times_columns<T, W>(A, lda, n, K, B, ldb, N, bias, C, ldc, accumulate);
  finish(0, n, 0, N);
}

// out [K * N] = B in the packed layout of products in Product, B[k, j] = get(k, j)
// (T: the copy's type, float for double products of float32-valued weights).
template <typename T, typename Product = T, typename Get>
void pack_columns(int64_t K, int64_t N, const Get& get, T* out) {
  for_each_packed_group<Product>(N, [&](int64_t j0, int64_t w) {
    T* group = out + j0 * K;
    for (int64_t k = 0; k < K; ++k) {
      for (int64_t q = 0; q < w; ++q) group[k * w + q] = get(k, j0 + q);
    }
  });
}

// thin_times on a B in the packed layout (pack_columns), for many rows: the same
// register blocks and sums, in the same order (the same bits as thin_times).
// The packed copy may be float for double products (W float: a float32-valued
// double weight's copy, widened exactly on load): the same products, half the
// weights' stream through the caches.
template <typename T, typename W = T, typename Finish = KeepOutputs>
void thin_times_packed(const T* A, int64_t lda, int64_t n, int64_t K, const W* packed, int64_t N, const T* bias,
                       T* C, int64_t ldc, bool accumulate, const Finish& finish = Finish{}) {
#ifdef NNPKIT_THIN_AVX2
  const int64_t blocked = N / (kWideBytes / sizeof(T)) * (kWideBytes / sizeof(T));
  if (blocked > 0) {
    times_blocked_columns<T, W>(A, lda, n, K, blocked,
                                [&](int64_t j0, int64_t w) { return std::make_pair(packed + j0 * K, w); }, bias, C,
                                ldc, accumulate, finish);
    if (blocked == N) return;
  }
#else
  constexpr int64_t blocked = 0;
#endif
  // The columns left (the whole of B without the blocked kernels): one group [K][N - blocked].
  thin_times_columns<T, W>(A, lda, n, K, packed + blocked * K, N - blocked, N - blocked,
                           bias != nullptr ? bias + blocked : nullptr, C + blocked, ldc, accumulate);
  finish(0, n, blocked, N - blocked);
}

// C[r, o] = (accumulate ? C[r, o] : bias[o] or 0) + sum_k A[r, k] B[o, k] for r < n;
// B [N, K] with rows of stride ldb. Dot products, eight outputs at a time (dot8:
// one sum at a time waited on the adder's latency).
// `following` (optional): the weights read next (the next layer's), whose start
// is prefetched while the last rows of B are read.
template <typename T, typename W = T>
void thin_times_transposed(const T* A, int64_t lda, int64_t n, int64_t K, const W* B, int64_t ldb, int64_t N,
                           const T* bias, T* C, int64_t ldc, bool accumulate, const W* following = nullptr) {
  const auto finish = [&](T* c, int64_t o, T sum) { *c = (accumulate ? *c : (bias != nullptr ? bias[o] : T(0))) + sum; };
  int64_t o = 0;
  for (; o + 8 <= N; o += 8) {
    const W* rows[8];
    for (int q = 0; q < 8; ++q) rows[q] = B + (o + q) * ldb;
    int64_t r = 0;
#ifdef NNPKIT_THIN_AVX2
    // kBlockRows rows at a time: each loaded weight vector serves all of them.
    // The first rows' pass prefetches the next eight weight rows (contiguous ones).
    const W* next = o + 16 <= N && ldb == K ? B + (o + 8) * ldb : (o + 16 > N ? following : nullptr);
    const auto block = [&](auto rows_tag) {
      constexpr int R = decltype(rows_tag)::value;
      T sums[8 * R];
      dot_rows8<T, R, W, kWideBytes>(A + r * lda, lda, rows, K, sums, r == 0 ? next : nullptr);
      for (int b = 0; b < R; ++b) {
        T* c = C + (r + b) * ldc + o;
        for (int q = 0; q < 8; ++q) finish(c + q, o + q, sums[8 * b + q]);
      }
      r += R;
    };
    while (r + kBlockRows <= n) block(std::integral_constant<int, kBlockRows>{});
    with_count<kBlockRows - 1>(n - r, block);  // the last rows as one block
#endif
    for (; r < n; ++r) {
      T sums[8];
      dot8<T, W, kWideBytes>(A + r * lda, rows, K, sums);
      T* c = C + r * ldc + o;
      for (int q = 0; q < 8; ++q) finish(c + q, o + q, sums[q]);
    }
  }
  for (; o < N; ++o) {
    const W* __restrict b = B + o * ldb;
    for (int64_t r = 0; r < n; ++r) finish(C + r * ldc + o, o, dot<T, W, kWideBytes>(A + r * lda, b, K));
  }
}

}  // namespace nnpkit
