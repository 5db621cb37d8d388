// CPU driver of the ANI networks operator: per element and member the forward and,
// right after it on weights still in cache, a backward that takes CELU's derivative
// from the kept activations (no autograd graph). Layers in the layouts the model
// stores run on raw pointers (ani_member_networks.h), others on ATen's products.
#include <ATen/Parallel.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/ani_member_networks.h"
#include "core/ani_networks.h"
#include "core/usable_threads.h"
#include "core/weight_layout_cache.h"

namespace nnpkit {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

void celu_(torch::Tensor& z, double alpha) {
  TORCH_CHECK(z.is_contiguous(), "ani_networks: activations must be contiguous");
  AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "ani_networks_celu", [&] {
    scalar_t* v = z.data_ptr<scalar_t>();
    at::parallel_for(0, z.numel(), 16384, [&](int64_t begin, int64_t end) {
      celu_values<scalar_t>(v + begin, end - begin, scalar_t(alpha));
    });
  });
}

void multiply_by_celu_derivative(torch::Tensor& g, const torch::Tensor& activation, double alpha) {
  TORCH_CHECK(g.is_contiguous() && activation.is_contiguous() && g.numel() == activation.numel(),
              "ani_networks: gradient and activation layouts differ");
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "ani_networks_celu_backward", [&] {
    scalar_t* out = g.data_ptr<scalar_t>();
    const scalar_t* a = activation.data_ptr<scalar_t>();
    at::parallel_for(0, g.numel(), 16384, [&](int64_t begin, int64_t end) {
      times_celu_derivative<scalar_t>(out + begin, a + begin, end - begin, scalar_t(alpha));
    });
  });
}

std::vector<std::vector<int64_t>> rows_by_element(const torch::Tensor& row_species, int64_t n_elements) {
  std::vector<std::vector<int64_t>> rows(n_elements);
  const auto species = row_species.to(torch::kInt64).contiguous();
  const int64_t* s = species.data_ptr<int64_t>();
  for (int64_t i = 0; i < species.numel(); ++i) {
    TORCH_CHECK(s[i] >= 0 && s[i] < n_elements, "ani_networks: row ", i, " has species ", s[i], " outside 0..",
                n_elements - 1);
    rows[s[i]].push_back(i);
  }
  return rows;
}

void check_element(const AniElementNetworks& net, int64_t e, int64_t width, const torch::Tensor& aev) {
  TORCH_CHECK(net.first_weight.defined() && net.first_bias.defined(), "ani_networks: element ", e,
              " has atoms but no networks");
  TORCH_CHECK(net.first_bias.dim() == 2, "ani_networks: element ", e, ": first bias must be [M, h1]");
  const int64_t m = net.first_bias.size(0), h1 = net.first_bias.size(1);
  TORCH_CHECK(net.first_weight.dim() == 2 && net.first_weight.size(0) == width && net.first_weight.size(1) == m * h1,
              "ani_networks: element ", e, ": first weight must be [", width, ", ", m * h1, "], got ",
              net.first_weight.sizes());
  TORCH_CHECK(!net.weights.empty() && net.weights.size() == net.biases.size(), "ani_networks: element ", e,
              " needs an output layer");
  int64_t in = h1;
  for (size_t l = 0; l < net.weights.size(); ++l) {
    const auto& w = net.weights[l];
    TORCH_CHECK(w.dim() == 3 && w.size(0) == m && w.size(2) == in && net.biases[l].dim() == 2 &&
                    net.biases[l].size(0) == m && net.biases[l].size(1) == w.size(1),
                "ani_networks: element ", e, ": layer ", l + 1, " has shape ", w.sizes(), " after width ", in);
    in = w.size(1);
  }
  TORCH_CHECK(in == 1, "ani_networks: element ", e, ": the last layer must have one output");
  TORCH_CHECK(net.first_weight.scalar_type() == aev.scalar_type(), "ani_networks: element ", e,
              " has weights of another dtype than the AEV");
}

// out (+)= [bias +] x w (ATen: layers in layouts member_networks_on_pointers does not read).
void product(torch::Tensor& out, const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias,
             bool accumulate) {
  if (accumulate) {
    out.addmm_(x, w);
  } else if (bias.defined()) {
    at::addmm_out(out, bias, x, w);
  } else {
    at::mm_out(out, x, w);
  }
}

torch::Tensor product(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias) {
  auto out = torch::empty({x.size(0), w.size(1)}, x.options());
  product(out, x, w, bias, false);
  return out;
}

// One member of one element: energies of its rows and, with `aev_gradient`
// defined, dE/d(aev) of its rows for the seed 1, written or (accumulate) added to
// `aev_gradient` [n_e, D]. The backward runs right after the forward, on weights
// this member just read: one member's weights (about 1 MB for ANI-2x in float64)
// stay in cache, whereas a backward after all members and elements would read
// every weight from memory again, which is most of a small molecule's cost.
void member_networks(const AniElementNetworks& net, int64_t m, const torch::Tensor& x, double alpha,
                     torch::Tensor energies, torch::Tensor aev_gradient, bool accumulate) {
  const int64_t h1 = net.first_bias.size(1);
  const auto first = net.first_weight.narrow(1, m * h1, h1);  // [D, h1]
  auto z = product(x, first, net.first_bias.select(0, m));
  celu_(z, alpha);
  std::vector<torch::Tensor> activations{z};
  const size_t n_layers = net.weights.size();
  for (size_t l = 0; l + 1 < n_layers; ++l) {
    z = product(z, net.weights[l].select(0, m).t(), net.biases[l].select(0, m));
    celu_(z, alpha);
    activations.push_back(z);
  }
  // The output layer (one row of weights) and, for the backward, its seed times
  // CELU's derivative in one pass over the last activations: as a product it was a
  // matrix-vector product reading them from memory once more (1.5% of a box's time).
  const auto last = net.weights.back().select(0, m).contiguous();  // [1, h_last]
  const auto& last_activation = activations.back();
  torch::Tensor g;
  if (aev_gradient.defined()) g = torch::empty_like(last_activation);
  TORCH_CHECK(energies.is_contiguous() && last_activation.is_contiguous(),
              "ani_networks: energies and activations must be contiguous");
  AT_DISPATCH_FLOATING_TYPES(last_activation.scalar_type(), "ani_networks_output_layer", [&] {
    output_layer<scalar_t>(last_activation.data_ptr<scalar_t>(), last.data_ptr<scalar_t>(),
                           net.biases.back().select(0, m).item<scalar_t>(), last_activation.size(0),
                           last_activation.size(1), scalar_t(alpha), energies.data_ptr<scalar_t>(),
                           g.defined() ? g.data_ptr<scalar_t>() : nullptr);
  });
  if (!aev_gradient.defined()) return;
  for (size_t l = activations.size() - 1; l >= 1; --l) {
    g = product(g, net.weights[l - 1].select(0, m), torch::Tensor());  // [n_e, out] x [out, in]
    multiply_by_celu_derivative(g, activations[l - 1], alpha);
  }
  product(aev_gradient, g, first.t(), torch::Tensor(), accumulate);
}

// Rows per tile of the many-row member networks (see members' on_threads).
constexpr int64_t kRowTile = 512;

// How many parts an element's members are split into, one per thread (members_on_threads).
int64_t member_parts(int64_t n_members) {
  return std::min<int64_t>(usable_threads(), n_members);
}

// run_member(p, m, gradient, accumulate) for every member m of an element, in
// n_parts parts on threads: gradient is undefined (no backward), rows_gradient's
// [n_e, D] copy of member m (member copies), or part p's buffer for the sum over
// members, which the first member of a part writes and the others add to. Each
// product is single-threaded inside: a water box's products (hundreds of rows, K
// and N of a few hundred) scaled 1.6x on 2 threads when each was split by MKL,
// which joins the threads after every one of its 16 products per member. The
// first part's sum goes to rows_gradient, the others' are added to it after.
template <typename RunMember>
void members_on_threads(int64_t n_members, int64_t n_parts, const torch::Tensor& rows_gradient, bool member_copies,
                        const RunMember& run_member) {
  const bool backward = rows_gradient.defined();
  std::vector<torch::Tensor> part_gradients(n_parts);
  if (backward && !member_copies) {
    part_gradients[0] = rows_gradient;
    for (int64_t p = 1; p < n_parts; ++p) part_gradients[p] = torch::empty_like(rows_gradient);
  }
  const auto run_part = [&](int64_t p) {
    const int64_t begin = p * n_members / n_parts, end = (p + 1) * n_members / n_parts;
    for (int64_t m = begin; m < end; ++m) {
      torch::Tensor gradient;
      if (backward) gradient = member_copies ? rows_gradient.select(0, m) : part_gradients[p];
      run_member(p, m, gradient, !member_copies && m > begin);
    }
  };
  if (n_parts == 1) {
    run_part(0);
    return;
  }
  at::parallel_for(0, n_parts, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) run_part(p);
  });
  if (backward && !member_copies) {
    for (int64_t p = 1; p < n_parts; ++p) part_gradients[0].add_(part_gradients[p]);
  }
}

// Whether an element's layers lie in the layouts the raw-pointer path reads: the
// first weight [D, M*h1] with rows or with columns contiguous (the latter is the
// model's [M, h1, D] storage seen transposed), every bias and later weight contiguous.
bool contiguous_layers(const AniElementNetworks& net) {
  const auto& first = net.first_weight;
  const int64_t D = first.size(0), width = first.size(1);
  bool ok = ((first.stride(1) == 1 && first.stride(0) == width) || (first.stride(0) == 1 && first.stride(1) == D)) &&
            net.first_bias.is_contiguous();
  for (size_t l = 0; l < net.weights.size(); ++l) {
    ok = ok && net.weights[l].is_contiguous() && net.biases[l].is_contiguous();
  }
  return ok;
}

// Member matrices [M, K, N] with B_m[k, j] = get(m, k, j), packed per member for
// thin_times_packed in products of Product: [M, K * N], of like's type.
template <typename Product, typename Get>
torch::Tensor packed_members(const torch::Tensor& like, int64_t M, int64_t K, int64_t N, const Get& get) {
  auto packed = torch::empty({M, K * N}, like.options().requires_grad(false));
  AT_DISPATCH_FLOATING_TYPES(like.scalar_type(), "ani_networks_pack", [&] {
    const scalar_t* w = like.data_ptr<scalar_t>();
    scalar_t* out = packed.data_ptr<scalar_t>();
    for (int64_t m = 0; m < M; ++m) {
      pack_columns<scalar_t, Product>(K, N, [&](int64_t k, int64_t j) { return w[get(m, k, j)]; }, out + m * K * N);
    }
  });
  return packed;
}

// An element's packed weight copies for its many-row products in Product, from the
// cache (made on the first call, then reused); the first layer's backward copy only
// where a backward runs. The first weight is [D, M*h1] with any strides (the
// model's [M, h1, D] storage seen transposed, or rows), later ones [M, out, in].
// `narrow`: copies of the float32 copies (double products only).
template <typename Product>
PackedLayers packed_layers(const AniElementNetworks& net, bool backward, bool narrow) {
  PackedLayers layers;
  const torch::Tensor& first = narrow ? net.narrow_first_weight : net.first_weight;
  const std::vector<torch::Tensor>& weights = narrow ? net.narrow_weights : net.weights;
  const WeightLayout forward = narrow ? WeightLayout::kPackedForwardWidened : WeightLayout::kPackedForward;
  const WeightLayout backward_layout = narrow ? WeightLayout::kPackedBackwardWidened : WeightLayout::kPackedBackward;
  const int64_t M = net.first_bias.size(0), h1 = net.first_bias.size(1), D = first.size(0);
  const int64_t s0 = first.stride(0), s1 = first.stride(1);
  const auto first_entry = [=](int64_t m, int64_t d, int64_t o) { return d * s0 + (m * h1 + o) * s1; };
  layers.first_forward = weight_in_layout(first, forward, [&](const torch::Tensor& w) {
    return packed_members<Product>(w, M, D, h1, [&](int64_t m, int64_t k, int64_t j) { return first_entry(m, k, j); });
  });
  if (backward) {
    layers.first_backward = weight_in_layout(first, backward_layout, [&](const torch::Tensor& w) {
      return packed_members<Product>(w, M, h1, D, [&](int64_t m, int64_t k, int64_t j) { return first_entry(m, j, k); });
    });
  }
  for (size_t l = 0; l + 1 < weights.size(); ++l) {
    const torch::Tensor& hidden = weights[l];  // [M, out, in], contiguous
    const int64_t n_out = hidden.size(1), n_in = hidden.size(2);
    const auto entry = [=](int64_t m, int64_t o, int64_t i) { return (m * n_out + o) * n_in + i; };
    layers.hidden_forward.push_back(weight_in_layout(hidden, forward, [&](const torch::Tensor& w) {
      return packed_members<Product>(w, M, n_in, n_out, [&](int64_t m, int64_t k, int64_t j) { return entry(m, j, k); });
    }));
    if (!backward) continue;
    layers.hidden_backward.push_back(weight_in_layout(hidden, backward_layout, [&](const torch::Tensor& w) {
      return packed_members<Product>(w, M, n_out, n_in, [&](int64_t m, int64_t k, int64_t j) { return entry(m, k, j); });
    }));
  }
  return layers;
}

// An element's layers as saved for the backward (its rows' AEV and its AEV columns
// first), and back.
void save_element(std::vector<torch::Tensor>& saved, const torch::Tensor& index, const torch::Tensor& x,
                  const AniElementNetworks& net) {
  saved.push_back(index);
  saved.push_back(x);
  saved.push_back(net.aev_columns);
  saved.push_back(net.first_weight);
  saved.push_back(net.first_bias);
  for (size_t l = 0; l < net.weights.size(); ++l) {
    saved.push_back(net.weights[l]);
    saved.push_back(net.biases[l]);
  }
}

AniElementNetworks load_element(const std::vector<torch::Tensor>& saved, size_t begin, size_t count) {
  AniElementNetworks net;
  net.aev_columns = saved[begin + 2];
  net.first_weight = saved[begin + 3];
  net.first_bias = saved[begin + 4];
  for (size_t k = begin + 5; k + 1 < begin + count; k += 2) {
    net.weights.push_back(saved[k]);
    net.biases.push_back(saved[k + 1]);
  }
  return net;
}

// The element's rows `rows` of aev [n, width] over its AEV columns (all where
// `columns` is undefined), as a contiguous [n_e, D_e]. This and the two scatters
// below run on raw pointers: as index_select, index_copy_ and zeros they were five
// tensor operations per element (4% of a four-element molecule's instructions).
torch::Tensor element_rows(const torch::Tensor& aev, const std::vector<int64_t>& rows, const torch::Tensor& columns) {
  const int64_t n_e = static_cast<int64_t>(rows.size());
  const int64_t width_e = columns.defined() ? columns.numel() : aev.size(1);
  auto x = torch::empty({n_e, width_e}, aev.options().requires_grad(false));
  AT_DISPATCH_FLOATING_TYPES(aev.scalar_type(), "ani_networks_element_rows", [&] {
    const scalar_t* in = aev.data_ptr<scalar_t>();
    scalar_t* out = x.data_ptr<scalar_t>();
    const int64_t s0 = aev.stride(0), s1 = aev.stride(1);
    const int64_t* c = columns.defined() ? columns.data_ptr<int64_t>() : nullptr;
    for (int64_t i = 0; i < n_e; ++i) {
      const scalar_t* row = in + rows[i] * s0;
      scalar_t* dst = out + i * width_e;
      if (c != nullptr) {
        for (int64_t k = 0; k < width_e; ++k) dst[k] = row[c[k] * s1];
      } else {
        for (int64_t k = 0; k < width_e; ++k) dst[k] = row[k * s1];
      }
    }
  });
  return x;
}

// energies[m, rows[i]] = element_energies[m, i] + offset ([M, n_atoms] and [M, n_e],
// contiguous), the sum in the energies' type.
template <typename T>
void scatter_energies(T* energies, int64_t n_atoms, const T* element_energies, const std::vector<int64_t>& rows,
                      int64_t n_members, T offset) {
  const int64_t n_e = static_cast<int64_t>(rows.size());
  for (int64_t m = 0; m < n_members; ++m) {
    for (int64_t i = 0; i < n_e; ++i) energies[m * n_atoms + rows[i]] = element_energies[m * n_e + i] + offset;
  }
}

// jacobian[c, rows[i], :] = gradient[c, i, :] on the element's columns and zero on
// the others, for each of `copies` leading slices (jacobian [copies, n, width],
// gradient [copies, n_e, D_e], both contiguous).
template <typename T>
void scatter_rows_on_columns(T* jacobian, int64_t n, int64_t width, const T* gradient, const std::vector<int64_t>& rows,
                             const torch::Tensor& columns, int64_t copies) {
  const int64_t n_e = static_cast<int64_t>(rows.size());
  const int64_t* c = columns.defined() ? columns.data_ptr<int64_t>() : nullptr;
  const int64_t width_e = c != nullptr ? columns.numel() : width;
  for (int64_t copy = 0; copy < copies; ++copy) {
    for (int64_t i = 0; i < n_e; ++i) {
      T* dst = jacobian + (copy * n + rows[i]) * width;
      const T* src = gradient + (copy * n_e + i) * width_e;
      if (c == nullptr) {
        std::copy(src, src + width, dst);
        continue;
      }
      std::fill(dst, dst + width, T(0));
      for (int64_t k = 0; k < width_e; ++k) dst[c[k]] = src[k];
    }
  }
}

// Where every member's seed row of `seed` [M, n] is the same (a mean or sum over
// members), jacobian [n, D] with row i times seed[0, i]; else undefined.
torch::Tensor scaled_rows_if_seeds_alike(const torch::Tensor& jacobian, const torch::Tensor& seed) {
  const int64_t n_members = seed.size(0), n = seed.size(1), width = jacobian.size(1);
  torch::Tensor out;
  AT_DISPATCH_FLOATING_TYPES(jacobian.scalar_type(), "ani_networks_seeded_rows", [&] {
    const scalar_t* s = seed.data_ptr<scalar_t>();
    for (int64_t m = 1; m < n_members; ++m) {
      if (!std::equal(s, s + n, s + m * n)) return;
    }
    out = torch::empty_like(jacobian, at::MemoryFormat::Contiguous);
    const auto in = jacobian.contiguous();
    const scalar_t* j = in.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    for (int64_t i = 0; i < n; ++i) {
      const scalar_t factor = s[i];
      for (int64_t k = 0; k < width; ++k) o[i * width + k] = j[i * width + k] * factor;
    }
  });
  return out;
}

// The forward also takes the networks' gradient to the AEV, element by element,
// while that element's weights are still in cache (for a small molecule they are
// most of the memory traffic, and a later backward would read them again from
// memory). An atom's energy depends on its own AEV row only, so the backward of
// any seed s[m, i] is s[m, i] times these rows: kept per member for member copies,
// else summed over members. Seeds that differ between members (one member's
// gradient at a time, a fallback of the engines) take each member's rows again.
class AniNetworksFunction : public torch::autograd::Function<AniNetworksFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& aev_in, const torch::Tensor& row_species,
                               int64_t n_atoms, const std::vector<AniElementNetworks>& elements,
                               const torch::Tensor& self_energies, double celu_alpha) {
    const bool member_copies = aev_in.dim() == 3;
    TORCH_CHECK(aev_in.dim() == 2 || member_copies, "ani_networks: aev must be [n, D] or [M, n, D]");
    const auto aev = member_copies ? aev_in.select(0, 0) : aev_in;
    const int64_t n = aev.size(0), width = aev.size(1);
    TORCH_CHECK(row_species.dim() == 1 && row_species.size(0) == n, "ani_networks: row_species must be [n]");
    TORCH_CHECK(n_atoms >= n, "ani_networks: n_atoms must be at least the number of AEV rows");
    const auto n_elements = static_cast<int64_t>(elements.size());
    const auto rows = rows_by_element(row_species, n_elements);
    int64_t n_members = -1;
    for (int64_t e = 0; e < n_elements; ++e) {
      if (rows[e].empty()) continue;
      const auto& columns = elements[e].aev_columns;
      if (columns.defined()) {
        TORCH_CHECK(columns.dim() == 1 && columns.scalar_type() == torch::kInt64 && columns.is_contiguous() &&
                        columns.numel() <= width,
                    "ani_networks: element ", e, ": aev_columns must be contiguous int64 [D_e] with D_e <= ", width);
        // On the raw values: two tensor reductions per element were a small molecule's overhead.
        const int64_t* c = columns.data_ptr<int64_t>();
        TORCH_CHECK(std::all_of(c, c + columns.numel(), [&](int64_t v) { return v >= 0 && v < width; }),
                    "ani_networks: element ", e, ": aev_columns outside 0..", width - 1);
      }
      check_element(elements[e], e, columns.defined() ? columns.numel() : width, aev);
      const int64_t m = elements[e].first_bias.size(0);
      TORCH_CHECK(n_members < 0 || n_members == m, "ani_networks: elements have different committee sizes");
      n_members = m;
    }
    if (n_members < 0) {  // no rows: take the committee size from any element
      for (const auto& net : elements) {
        if (net.first_bias.defined()) n_members = net.first_bias.size(0);
      }
    }
    TORCH_CHECK(n_members >= 1, "ani_networks: no element has networks");
    TORCH_CHECK(!member_copies || aev_in.size(0) == n_members, "ani_networks: ", aev_in.size(0),
                " AEV copies for a committee of ", n_members);
    const auto self = self_energies.to(aev.scalar_type()).contiguous();
    TORCH_CHECK(self.dim() == 1 && self.numel() == n_elements, "ani_networks: need one self energy per element (",
                n_elements, "), got ", self.sizes());
    const bool keep_for_backward = aev_in.requires_grad();

    auto energies = torch::zeros({n_members, n_atoms}, aev.options());
    // dE/d(aev) for the seed 1: [M, n, D] per member (member copies) or [n, D] summed.
    torch::Tensor jacobian;
    if (keep_for_backward) {
      jacobian = member_copies ? torch::empty({n_members, n, width}, aev.options())
                               : torch::empty({n, width}, aev.options());
    }
    std::vector<torch::Tensor> saved;  // per element with rows: save_element's tensors
    std::vector<int64_t> saved_counts;
    for (int64_t e = 0; e < n_elements; ++e) {
      if (rows[e].empty()) continue;
      const AniElementNetworks& net = elements[e];
      const int64_t n_e = static_cast<int64_t>(rows[e].size());
      const auto& columns = net.aev_columns;
      const auto x = element_rows(aev, rows[e], columns);
      const int64_t width_e = x.size(1);
      auto element_energies = torch::empty({n_members, n_e}, aev.options());
      torch::Tensor rows_gradient;
      if (keep_for_backward) {
        rows_gradient = member_copies ? torch::empty({n_members, n_e, width_e}, aev.options())
                                      : torch::empty({n_e, width_e}, aev.options());
      }
      if (contiguous_layers(net)) {
        AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "ani_networks_on_pointers", [&] {
          const scalar_t* element_rows = x.data_ptr<scalar_t>();
          scalar_t* member_energies = element_energies.data_ptr<scalar_t>();
          // Member m on rows [r0, r1). weight_tag: the type of the weights the products
          // read; packed_tag: of their packed copies (many rows); gradient: the rows' [n_e, D_e].
          const auto member = [&](auto weight_tag, auto packed_tag, int64_t m, int64_t r0, int64_t r1,
                                  scalar_t* gradient, bool accumulate, MemberScratch<scalar_t>& scratch,
                                  const PackedLayers* layers) {
            member_networks_on_pointers<scalar_t, decltype(weight_tag), decltype(packed_tag)>(
                net, m, element_rows + r0 * width_e, r1 - r0, width_e, scalar_t(celu_alpha),
                member_energies + m * n_e + r0, gradient != nullptr ? gradient + r0 * width_e : nullptr, accumulate,
                scratch, layers);
          };
          if (n_e <= kThinRows) {
            // One thread, no tensor views per member; the weights' float32 copies where kept.
            MemberScratch<scalar_t> scratch;
            const auto members = [&](auto weight_tag) {
              for (int64_t m = 0; m < n_members; ++m) {
                scalar_t* rows_m = keep_for_backward ? rows_gradient.data_ptr<scalar_t>() +
                                                           (member_copies ? m * n_e * width_e : 0)
                                                     : nullptr;
                member(weight_tag, weight_tag, m, 0, n_e, rows_m, !member_copies && m > 0, scratch, nullptr);
              }
            };
            if constexpr (std::is_same_v<scalar_t, double>) {
              if (net.narrow_first_weight.defined()) return members(float{});
            }
            members(scalar_t{});
          } else {
            const int64_t n_parts = member_parts(n_members);
            std::vector<MemberScratch<scalar_t>> scratch(n_parts);
            const auto on_threads = [&](auto packed_tag) {
              const bool narrow = !std::is_same_v<decltype(packed_tag), scalar_t>;
              const PackedLayers layers = packed_layers<scalar_t>(net, keep_for_backward, narrow);
              members_on_threads(
                  n_members, n_parts, rows_gradient, member_copies,
                  [&](int64_t p, int64_t m, const torch::Tensor& gradient, bool accumulate) {
                    scalar_t* g = gradient.defined() ? gradient.data_ptr<scalar_t>() : nullptr;
                    // In tiles of rows: a tile's activations, written by the forward, are
                    // still in cache for its backward (a 5k water box's 8 MB per member
                    // were not). Rows are independent: the same numbers.
                    for (int64_t r0 = 0; r0 < n_e;) {
                      int64_t r1 = std::min(n_e, r0 + kRowTile);
                      if (n_e - r1 < kRowTile / 2) r1 = n_e;  // no short last tile
                      member(scalar_t{}, packed_tag, m, r0, r1, g, accumulate, scratch[p], &layers);
                      r0 = r1;
                    }
                  });
            };
            if constexpr (std::is_same_v<scalar_t, double>) {
              if (net.narrow_first_weight.defined()) return on_threads(float{});
            }
            on_threads(scalar_t{});
          }
        });
      } else {  // layers in other layouts: ATen's products
        members_on_threads(n_members, member_parts(n_members), rows_gradient, member_copies,
                           [&](int64_t, int64_t m, const torch::Tensor& gradient, bool accumulate) {
                             member_networks(net, m, x, celu_alpha, element_energies.select(0, m), gradient,
                                             accumulate);
                           });
      }
      AT_DISPATCH_FLOATING_TYPES(aev.scalar_type(), "ani_networks_scatter", [&] {
        scatter_energies<scalar_t>(energies.data_ptr<scalar_t>(), n_atoms, element_energies.data_ptr<scalar_t>(),
                                   rows[e], n_members, self.data_ptr<scalar_t>()[e]);
        if (keep_for_backward) {
          scatter_rows_on_columns<scalar_t>(jacobian.data_ptr<scalar_t>(), n, width, rows_gradient.data_ptr<scalar_t>(),
                                            rows[e], columns, member_copies ? n_members : 1);
        }
      });
      if (keep_for_backward) {
        const size_t before = saved.size();
        save_element(saved, torch::tensor(rows[e], torch::kInt64), x, net);
        saved_counts.push_back(static_cast<int64_t>(saved.size() - before));
      }
    }
    if (keep_for_backward) {
      saved.push_back(jacobian);
      ctx->saved_data["saved"] = saved;
      ctx->saved_data["saved_counts"] = saved_counts;
      ctx->saved_data["member_copies"] = member_copies;
      ctx->saved_data["shape"] = aev_in.sizes().vec();
      ctx->saved_data["celu_alpha"] = celu_alpha;
    }
    return energies;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    TORCH_CHECK(!at::GradMode::is_enabled(),
                "ani_networks: second derivatives are not implemented (the inference path); train through the "
                "Python networks, whose weights require gradients");
    auto saved = ctx->saved_data["saved"].toTensorVector();
    const auto counts = ctx->saved_data["saved_counts"].toIntVector();
    const bool member_copies = ctx->saved_data["member_copies"].toBool();
    const auto shape = ctx->saved_data["shape"].toIntVector();
    const double alpha = ctx->saved_data["celu_alpha"].toDouble();
    const auto jacobian = saved.back();
    saved.pop_back();
    const int64_t n_rows = shape[shape.size() - 2];
    const auto seed = grad_outputs[0].narrow(1, 0, n_rows).to(jacobian.scalar_type());  // [M, n]: AEV rows only
    if (member_copies) {
      return {jacobian * seed.unsqueeze(2), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(),
              torch::Tensor()};
    }
    // The mean (or sum) over members seeds every member alike: scale the summed rows.
    // On raw values: as at::equal and a broadcast product it was five tensor operations.
    torch::Tensor alike = scaled_rows_if_seeds_alike(jacobian, seed.contiguous());
    if (alike.defined()) {
      return {alike, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
    }
    // Members seeded differently: each member's rows again, scaled by its seed.
    auto grad_aev = torch::zeros(shape, jacobian.options());
    size_t begin = 0;
    for (const int64_t count : counts) {
      const auto& index = saved[begin];
      const auto& x = saved[begin + 1];
      const AniElementNetworks net = load_element(saved, begin, static_cast<size_t>(count));
      const int64_t n_members = net.first_bias.size(0);
      auto energies = torch::empty({x.size(0)}, x.options());
      auto member_rows = torch::empty_like(x);
      auto rows_gradient = torch::zeros_like(x);
      const auto element_seed = seed.index_select(1, index);  // [M, n_e]
      for (int64_t m = 0; m < n_members; ++m) {
        member_networks(net, m, x, alpha, energies, member_rows, false);
        rows_gradient.addcmul_(member_rows, element_seed.select(0, m).unsqueeze(1));
      }
      const int64_t* row_index = index.data_ptr<int64_t>();
      const std::vector<int64_t> rows(row_index, row_index + index.numel());
      AT_DISPATCH_FLOATING_TYPES(grad_aev.scalar_type(), "ani_networks_seeded_scatter", [&] {
        scatter_rows_on_columns<scalar_t>(grad_aev.data_ptr<scalar_t>(), shape[0], shape[1],
                                          rows_gradient.data_ptr<scalar_t>(), rows, net.aev_columns, 1);
      });
      begin += static_cast<size_t>(count);
    }
    return {grad_aev, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// A narrow copy must be float32 with its weight's values (the caller checked
// that they are exact) and its layout, as the few-row kernels read both alike.
void check_narrow_copy(const torch::Tensor& narrow, const torch::Tensor& weight, int64_t e) {
  TORCH_CHECK(narrow.scalar_type() == torch::kFloat32 && weight.scalar_type() == torch::kFloat64 &&
                  narrow.sizes() == weight.sizes() && narrow.strides() == weight.strides(),
              "ani_networks: element ", e, ": a narrow weight must be a float32 copy of a float64 weight with its ",
              "shape and strides, got ", narrow.scalar_type(), " ", narrow.sizes(), " for ", weight.scalar_type(), " ",
              weight.sizes());
}

// The registered operator's flat signature: per element n_layers[e] weights and
// biases (first layer [D, M*h1] and [M, h1], then [M, out, in] and [M, out]);
// n_layers[e] = 0 for an element without networks here. narrow_weights: none, or
// one per weight: its float32 copy, or an empty tensor (an element takes its
// narrow copies only when all its layers have one). aev_columns: none, or one per
// element: the AEV columns its first layer reads (an empty tensor: all of them).
torch::Tensor ani_networks_op(const torch::Tensor& aev, const torch::Tensor& row_species, int64_t n_atoms,
                              std::vector<torch::Tensor> weights, std::vector<torch::Tensor> biases,
                              std::vector<int64_t> n_layers, const torch::Tensor& self_energies, double celu_alpha,
                              const std::optional<std::vector<torch::Tensor>>& narrow_given,
                              const std::optional<std::vector<torch::Tensor>>& columns_given) {
  const std::vector<torch::Tensor> narrow_weights = narrow_given.value_or(std::vector<torch::Tensor>{});
  const std::vector<torch::Tensor> aev_columns = columns_given.value_or(std::vector<torch::Tensor>{});
  TORCH_CHECK(aev_columns.empty() || aev_columns.size() == n_layers.size(), "ani_networks: ", aev_columns.size(),
              " AEV column lists for ", n_layers.size(), " elements (give none or one each)");
  TORCH_CHECK(weights.size() == biases.size(), "ani_networks: need as many biases as weights");
  TORCH_CHECK(narrow_weights.empty() || narrow_weights.size() == weights.size(), "ani_networks: ",
              narrow_weights.size(), " narrow weights for ", weights.size(), " weights (give none or one each)");
  std::vector<AniElementNetworks> elements(n_layers.size());
  size_t k = 0;
  for (size_t e = 0; e < n_layers.size(); ++e) {
    if (n_layers[e] == 0) continue;
    TORCH_CHECK(n_layers[e] >= 2 && k + n_layers[e] <= weights.size(), "ani_networks: element ", e, " declares ",
                n_layers[e], " layers (need 2 or more, and that many weights)");
    elements[e].first_weight = weights[k];
    elements[e].first_bias = biases[k];
    if (!aev_columns.empty() && aev_columns[e].numel() > 0) elements[e].aev_columns = aev_columns[e];
    for (int64_t l = 1; l < n_layers[e]; ++l) {
      elements[e].weights.push_back(weights[k + l]);
      elements[e].biases.push_back(biases[k + l]);
    }
    bool narrow = !narrow_weights.empty();
    for (int64_t l = 0; narrow && l < n_layers[e]; ++l) narrow = narrow_weights[k + l].numel() > 0;
    if (narrow) {
      for (int64_t l = 0; l < n_layers[e]; ++l) check_narrow_copy(narrow_weights[k + l], weights[k + l], e);
      elements[e].narrow_first_weight = narrow_weights[k];
      elements[e].narrow_weights.assign(narrow_weights.begin() + k + 1, narrow_weights.begin() + k + n_layers[e]);
    }
    k += n_layers[e];
  }
  TORCH_CHECK(k == weights.size(), "ani_networks: ", weights.size(), " weights for ", k, " declared layers");
  return ani_networks(aev, row_species, n_atoms, elements, self_energies, celu_alpha);
}

}  // namespace

torch::Tensor ani_networks(const torch::Tensor& aev, const torch::Tensor& row_species, int64_t n_atoms,
                           const std::vector<AniElementNetworks>& elements, const torch::Tensor& self_energies,
                           double celu_alpha) {
  if (at::GradMode::is_enabled()) {
    for (const auto& net : elements) {
      bool trainable = net.first_weight.defined() && net.first_weight.requires_grad();
      for (const auto& w : net.weights) trainable = trainable || w.requires_grad();
      TORCH_CHECK(!trainable, "ani_networks: weights that require gradients need the autograd path (training)");
    }
  }
  TORCH_CHECK(aev.device().is_cpu(), "ani_networks: the CPU operator needs CPU tensors");
  return AniNetworksFunction::apply(aev, row_species, n_atoms, elements, self_energies, celu_alpha);
}

TORCH_LIBRARY_FRAGMENT(nnpkit, m) {
  m.def(
      "ani_networks(Tensor aev, Tensor row_species, int n_atoms, Tensor[] weights, Tensor[] biases, int[] n_layers, "
      "Tensor self_energies, float celu_alpha, Tensor[]? narrow_weights=None, Tensor[]? aev_columns=None) -> Tensor",
      &ani_networks_op);
}

}  // namespace nnpkit
