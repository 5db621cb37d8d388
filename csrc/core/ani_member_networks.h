// One committee member's CELU network on one element's rows, on raw pointers: the
// forward, and right after it on weights still in cache a backward that takes
// CELU's derivative from the kept activations (no autograd graph). Few rows (a
// small molecule's element) read each weight matrix once for all rows as dot
// products; many rows (a water box's element) hold blocks of rows x outputs in
// registers over all of a product's inner dimension (thin_products.h).
#pragma once

#include <torch/types.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/ani_networks.h"
#include "core/thin_products.h"
#include "core/vector_math.h"

namespace nnpkit {

// CELU in place, z -> max(0, z) + alpha (exp(min(0, z)/alpha) - 1), with a
// branch-free exponential the compiler vectorises (ATen's is a scalar call per
// element, about a tenth of a water box's evaluation). The exponential's argument
// is clamped below only: where exp underflows, exp - 1 rounds to -1 either way, so
// its underflow to zero needs no select (one of a fifth fewer instructions).
template <typename T>
void celu_values(T* __restrict v, int64_t count, T alpha) {
  const T inv_a = T(1) / alpha;
#pragma omp simd
  for (int64_t k = 0; k < count; ++k) {
    const T x = v[k];
    const T u = std::max(std::min(x, T(0)) * inv_a, kLowestExpArgument<T>);
    const T negative = alpha * (vexp_in_range(u) - T(1));
    v[k] = x > T(0) ? x : negative;
  }
}

// For z <= 0, celu(z) = alpha (exp(z/alpha) - 1), so d celu/dz = exp(z/alpha) =
// celu(z)/alpha + 1: the backward reads the activations kept from the forward
// and needs neither a second exponential nor a derivative tensor.
// min(celu/alpha + 1, 1) is 1 for a > 0 and exp(z/alpha) otherwise: branch-free,
// so the loop vectorizes (signs are random, a branch would mispredict).
template <typename T>
void times_celu_derivative(T* __restrict g, const T* __restrict activation, int64_t count, T alpha) {
  const T inv_alpha = T(1) / alpha;
#pragma omp simd
  for (int64_t k = 0; k < count; ++k) g[k] *= std::min(activation[k] * inv_alpha + T(1), T(1));
}

// g[r, :] = w * celu'(activation[r, :]): dE/dz of the last hidden layer, the
// output weights w [h] times CELU's derivative, in one pass (no copy of w per row).
template <typename T, typename W>
void output_weights_times_celu_derivative(T* __restrict g, const T* __restrict activation, const W* __restrict w,
                                          int64_t rows, int64_t h, T alpha) {
  const T inv_alpha = T(1) / alpha;
  for (int64_t r = 0; r < rows; ++r) {
    T* __restrict out = g + r * h;
    const T* __restrict a = activation + r * h;
#pragma omp simd
    for (int64_t k = 0; k < h; ++k) out[k] = T(w[k]) * std::min(a[k] * inv_alpha + T(1), T(1));
  }
}

// The output layer of rows x h activations: energies[r] = bias + a[r, :] . w and,
// with g given, g[r, :] = w * celu'(a[r, :]), reading each row once.
template <typename T>
void output_layer(const T* __restrict activation, const T* __restrict w, T bias, int64_t rows, int64_t h, T alpha,
                  T* __restrict energies, T* __restrict g) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict a = activation + r * h;
    T sum = T(0);
#pragma omp simd reduction(+ : sum)
    for (int64_t k = 0; k < h; ++k) sum += a[k] * w[k];
    energies[r] = sum + bias;
    if (g != nullptr) output_weights_times_celu_derivative<T, T>(g + r * h, a, w, 1, h, alpha);
  }
}

// Each member's weight matrices as the many-row products read them, in
// thin_products.h's packed layout (cached, weight_layout_cache.h), [M, K * N] per
// matrix: the first layer's forward B [D, h1] and backward B [h1, D], each later
// hidden layer's forward B [in, out] and backward B [out, in] (the output layer's one
// row is read as the model stores it). For float64 networks with float32 copies of
// their weights (narrow_weights) the packed copies are float32, laid out for the
// float64 products: the same products on half the bytes (a water box's float64
// weights streamed from L2 and L3 for every block of rows).
struct PackedLayers {
  torch::Tensor first_forward, first_backward;
  std::vector<torch::Tensor> hidden_forward, hidden_backward;
};

// Buffers of member_networks_on_pointers, reused across members and elements.
template <typename T>
struct MemberScratch {
  std::vector<T> values;         // activations, two gradient rows, outputs
  std::vector<const T*> inputs;  // each layer's input activations
  std::vector<int64_t> widths;   // and their widths
};

// C[r, j] = (accumulate ? C[r, j] : bias[j] or 0) + sum_k A[r, k] B[k, j] for r < n,
// with B[k, j] = w[k * sk + j * sj] (one of the strides 1). Few rows read B once
// for all of them, by rows of j (sj == 1, thin_times) or of k (dot products);
// many rows take thin_times' register blocks of rows x outputs on B's packed copy
// `packed` (by dot products, many rows ran 1.6x slower). `following`: the weights
// read next, prefetched by the dot products. `finish`: thin_times' epilogue, run on
// the outputs whichever way they are made.
// The packed copy is of type P: W, or float for double products (see PackedLayers).
template <typename T, typename W, typename P = W, typename Finish = KeepOutputs>
void layer_product(const T* A, int64_t lda, int64_t n, int64_t K, const W* w, int64_t sk, int64_t sj, int64_t N,
                   const T* bias, T* C, int64_t ldc, bool accumulate, const W* following, const P* packed = nullptr,
                   const Finish& finish = Finish{}) {
  if (n > kThinRows) {
    TORCH_CHECK(packed != nullptr, "ani_networks: a many-row product needs its weights' packed copy");
    if constexpr (std::is_same_v<T, W>) {
      thin_times_packed<T, P>(A, lda, n, K, packed, N, bias, C, ldc, accumulate, finish);
      return;
    }
    TORCH_CHECK(false, "ani_networks: narrow weight copies are read by the few-row products only");
  }
  if (sj == 1) {
    thin_times<T, W>(A, lda, n, K, w, sk, N, bias, C, ldc, accumulate, finish);
  } else {
    thin_times_transposed<T, W>(A, lda, n, K, w, sj, N, bias, C, ldc, accumulate, following);
    finish(0, n, 0, N);
  }
}

// Epilogues of the hidden layers' products (thin_times' finish): CELU of the
// forward's outputs, and the backward's outputs times CELU's derivative at the
// layer's activations ([rows, columns] with rows of stride ld).
template <typename T>
struct CeluOfOutputs {
  T* outputs;
  int64_t ld;
  T alpha;
  void operator()(int64_t r, int64_t rows, int64_t j, int64_t columns) const {
    if (j == 0 && columns == ld) {  // whole rows: one pass
      celu_values<T>(outputs + r * ld, rows * ld, alpha);
      return;
    }
    for (int64_t b = r; b < r + rows; ++b) celu_values<T>(outputs + b * ld + j, columns, alpha);
  }
};

template <typename T>
struct TimesCeluDerivative {
  T* outputs;
  const T* activation;
  int64_t ld;
  T alpha;
  void operator()(int64_t r, int64_t rows, int64_t j, int64_t columns) const {
    if (j == 0 && columns == ld) {
      times_celu_derivative<T>(outputs + r * ld, activation + r * ld, rows * ld, alpha);
      return;
    }
    for (int64_t b = r; b < r + rows; ++b) {
      times_celu_derivative<T>(outputs + b * ld + j, activation + b * ld + j, columns, alpha);
    }
  }
};

// One member m of one element, on raw pointers (contiguous layers): x [n_e, D];
// energies [n_e]; aev_gradient [n_e, D] (written, or added to with `accumulate`)
// or null. The weights are read as W: T, or (few rows, T double) float from the
// element's narrow copies. A small molecule's 8 members x 4 layers x 4 elements had
// made ~400 tensor views and ~200 allocations per call on ATen's products, a fifth
// of its time; a water box's products ran at 50-85% of the multiply-add peak in
// MKL (K = 128 to 256, one member at a time), its backward up to 40% slower than here.
template <typename T, typename W, typename P = W>
void member_networks_on_pointers(const AniElementNetworks& net, int64_t m, const T* x, int64_t n_e, int64_t D,
                                 T alpha, T* energies, T* aev_gradient, bool accumulate, MemberScratch<T>& scratch,
                                 const PackedLayers* packed = nullptr) {
  constexpr bool kNarrow = !std::is_same_v<T, W>;
  const bool few = n_e <= kThinRows;
  TORCH_CHECK(few || !kNarrow, "ani_networks: narrow weight copies are read by the few-row products only");
  const torch::Tensor& first_weight = kNarrow ? net.narrow_first_weight : net.first_weight;
  const std::vector<torch::Tensor>& weights = kNarrow ? net.narrow_weights : net.weights;
  const int64_t h1 = net.first_bias.size(1);
  const size_t n_layers = weights.size();
  // Activations of every hidden layer, then two gradient rows of the widest layer.
  int64_t widest = h1, total = n_e * h1;
  for (size_t l = 0; l + 1 < n_layers; ++l) {
    widest = std::max(widest, weights[l].size(1));
    total += n_e * weights[l].size(1);
  }
  scratch.values.resize(total + 2 * n_e * widest + n_e);
  T* activation = scratch.values.data();
  T* g = activation + total;
  T* g_next = g + n_e * widest;
  T* out = g_next + n_e * widest;  // the last layer's outputs (few rows)

  // Member m's first layer: entry (k, o) at first[k * s0 + o * s1].
  const int64_t s0 = first_weight.stride(0), s1 = first_weight.stride(1);
  const W* first = first_weight.data_ptr<W>() + m * h1 * s1;
  const T* first_bias = net.first_bias.data_ptr<T>() + m * h1;
  // Each dot-form product prefetches the start of the weights read after it.
  const auto layer_weights = [&](size_t l) -> const W* {
    const int64_t n_out = weights[l].size(1), n_in = weights[l].size(2);
    return weights[l].data_ptr<W>() + m * n_out * n_in;
  };
  // Many rows (T == W): member m's packed copies (undefined where not needed: the
  // first layer's backward in the forward only).
  TORCH_CHECK(few || packed != nullptr, "ani_networks: many rows need the weights' packed copies");
  const auto member_part = [&](const torch::Tensor& t) -> const P* {
    return t.defined() ? t.data_ptr<P>() + m * t.size(1) : nullptr;
  };
  const auto hidden_part = [&](const std::vector<torch::Tensor>& layers, size_t l) -> const P* {
    return l < layers.size() ? member_part(layers[l]) : nullptr;
  };
  layer_product<T, W, P>(x, D, n_e, D, first, s0, s1, h1, first_bias, activation, h1, false, layer_weights(0),
                      few ? nullptr : member_part(packed->first_forward), CeluOfOutputs<T>{activation, h1, alpha});
  auto& inputs = scratch.inputs;
  auto& widths = scratch.widths;
  inputs.assign(1, activation);
  widths.assign(1, h1);
  T* next = activation + n_e * h1;
  for (size_t l = 0; l + 1 < n_layers; ++l) {
    const int64_t n_out = weights[l].size(1), n_in = weights[l].size(2);
    const W* w = layer_weights(l);  // [out, in]: B[k, o] = w[o * n_in + k]
    const T* b = net.biases[l].data_ptr<T>() + m * n_out;
    // The last hidden layer prefetches the next member's first layer (the output
    // layer's one row is read either way).
    const W* following = layer_weights(l + 1);
    if (l + 2 == n_layers) following = s1 != 1 && m + 1 < net.first_bias.size(0) ? first + h1 * s1 : nullptr;
    layer_product<T, W, P>(inputs.back(), n_in, n_e, n_in, w, 1, n_in, n_out, b, next, n_out, false, following,
                        few ? nullptr : hidden_part(packed->hidden_forward, l), CeluOfOutputs<T>{next, n_out, alpha});
    inputs.push_back(next);
    widths.push_back(n_out);
    next += n_e * n_out;
  }
  // The output layer (one row of weights) and dE/dz of the last hidden layer, the
  // output weights times CELU's derivative.
  const int64_t h_last = widths.back();
  const W* last = layer_weights(n_layers - 1);
  const T* last_bias = net.biases.back().data_ptr<T>() + m;
  if (few) {
    thin_times_transposed<T, W>(inputs.back(), h_last, n_e, h_last, last, h_last, 1, last_bias, out, 1, false);
    for (int64_t r = 0; r < n_e; ++r) energies[r] = out[r];
    if (aev_gradient == nullptr) return;
    output_weights_times_celu_derivative<T, W>(g, inputs.back(), last, n_e, h_last, alpha);
  } else {
    if constexpr (!kNarrow) {
      // In one pass over the last activations: as a product it read them from memory
      // once more (1.5% of a water box's time).
      output_layer<T>(inputs.back(), last, *last_bias, n_e, h_last, alpha, energies,
                      aev_gradient != nullptr ? g : nullptr);
    }
    if (aev_gradient == nullptr) return;
  }
  for (size_t l = inputs.size() - 1; l >= 1; --l) {
    const int64_t n_out = widths[l], n_in = widths[l - 1];
    const W* w = layer_weights(l - 1);  // [out, in]: the backward's B[o, k] = w[o * n_in + k]
    layer_product<T, W, P>(g, n_out, n_e, n_out, w, n_in, 1, n_in, nullptr, g_next, n_in, false, nullptr,
                        few ? nullptr : hidden_part(packed->hidden_backward, l - 1),
                        TimesCeluDerivative<T>{g_next, inputs[l - 1], n_in, alpha});
    std::swap(g, g_next);
  }
  layer_product<T, W, P>(g, h1, n_e, h1, first, s1, s0, D, nullptr, aev_gradient, D, accumulate, nullptr,
                      few ? nullptr : member_part(packed->first_backward));
}

}  // namespace nnpkit
