// Matrix products with few rows: one element's atoms of a small molecule (1-8
// rows) against a network layer. A general GEMM on so few rows runs far below the
// machine's pace (60% of a 9-atom molecule's time went to addmm/mm calls); these
// loops read each weight matrix once for all rows, from raw pointers (no tensor
// views or allocations per product).
#pragma once

#include <cstdint>

namespace nnpkit {

constexpr int64_t kThinRows = 8;

// C[r, :] = (accumulate ? C[r, :] : bias or 0) + sum_k A[r, k] B[k, :] for r < n;
// B [K, N] with rows of stride ldb. Each row of B is read once for all rows of A.
template <typename T>
void thin_times(const T* A, int64_t lda, int64_t n, int64_t K, const T* B, int64_t ldb, int64_t N, const T* bias,
                T* C, int64_t ldc, bool accumulate) {
  for (int64_t r = 0; r < n && !accumulate; ++r) {
    T* __restrict c = C + r * ldc;
    for (int64_t j = 0; j < N; ++j) c[j] = bias != nullptr ? bias[j] : T(0);
  }
  for (int64_t k = 0; k < K; ++k) {
    const T* __restrict b = B + k * ldb;
    for (int64_t r = 0; r < n; ++r) {
      const T a = A[r * lda + k];
      if (a == T(0)) continue;
      T* __restrict c = C + r * ldc;
#pragma omp simd
      for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
    }
  }
}

// C[r, o] = (accumulate ? C[r, o] : bias[o] or 0) + sum_k A[r, k] B[o, k] for r < n;
// B [N, K] with rows of stride ldb. Dot products, eight outputs at a time: eight
// independent sums hide the adder's latency (one sum at a time waited on it).
template <typename T>
void thin_times_transposed(const T* A, int64_t lda, int64_t n, int64_t K, const T* B, int64_t ldb, int64_t N,
                           const T* bias, T* C, int64_t ldc, bool accumulate) {
  const auto finish = [&](T* c, int64_t o, T sum) { *c = (accumulate ? *c : (bias != nullptr ? bias[o] : T(0))) + sum; };
  int64_t o = 0;
  for (; o + 8 <= N; o += 8) {
    const T* __restrict b0 = B + o * ldb;
    const T* __restrict b1 = b0 + ldb;
    const T* __restrict b2 = b1 + ldb;
    const T* __restrict b3 = b2 + ldb;
    const T* __restrict b4 = b3 + ldb;
    const T* __restrict b5 = b4 + ldb;
    const T* __restrict b6 = b5 + ldb;
    const T* __restrict b7 = b6 + ldb;
    for (int64_t r = 0; r < n; ++r) {
      const T* __restrict a = A + r * lda;
      T s0 = T(0), s1 = T(0), s2 = T(0), s3 = T(0), s4 = T(0), s5 = T(0), s6 = T(0), s7 = T(0);
#pragma omp simd reduction(+ : s0, s1, s2, s3, s4, s5, s6, s7)
      for (int64_t k = 0; k < K; ++k) {
        const T x = a[k];
        s0 += x * b0[k];
        s1 += x * b1[k];
        s2 += x * b2[k];
        s3 += x * b3[k];
        s4 += x * b4[k];
        s5 += x * b5[k];
        s6 += x * b6[k];
        s7 += x * b7[k];
      }
      T* c = C + r * ldc + o;
      finish(c + 0, o + 0, s0);
      finish(c + 1, o + 1, s1);
      finish(c + 2, o + 2, s2);
      finish(c + 3, o + 3, s3);
      finish(c + 4, o + 4, s4);
      finish(c + 5, o + 5, s5);
      finish(c + 6, o + 6, s6);
      finish(c + 7, o + 7, s7);
    }
  }
  for (; o < N; ++o) {
    const T* __restrict b = B + o * ldb;
    for (int64_t r = 0; r < n; ++r) {
      const T* __restrict a = A + r * lda;
      T sum = T(0);
#pragma omp simd reduction(+ : sum)
      for (int64_t k = 0; k < K; ++k) sum += a[k] * b[k];
      finish(C + r * ldc + o, o, sum);
    }
  }
}

}  // namespace nnpkit
