// CPU driver of the symmetry-function operator: one threaded loop over centre
// atoms serves the forward values, the vector-Jacobian product (forces) and the
// Jacobian-vector product (double backward for force training).
#include "core/symmetry_functions.h"

#include <ATen/Parallel.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/edge_list.h"
#include "core/grouped_symmetry_functions.h"
#include "core/symmetry_function_table.h"
#include "core/symmetry_function_terms.h"

#ifdef NNPKIT_WITH_CUDA
#include "cuda/symmetry_functions_kernels.h"
#endif

namespace nnpkit {
namespace {

enum class Mode { Forward, VectorJacobian, JacobianVector };

template <typename T>
struct SfEntry {
  int64_t column;
  int type;
  SymmetryFunctionParams<T> p;
  int64_t slot = 0;  // angular functions: index into the per-edge factor cache
};

template <typename T>
struct ElementPlan {
  std::vector<std::vector<SfEntry<T>>> radial_by_neighbor;  // [n_species]
  std::vector<std::vector<SfEntry<T>>> angular_by_pair;     // [n_species * n_species], key (min, max)
  std::vector<SfEntry<T>> angular_by_slot;
  T angular_rc_max = T(0);
  bool has_angular = false;
};

template <typename T>
struct Plan {
  int64_t n_species = 0;
  std::vector<ElementPlan<T>> elements;
};

template <typename T>
Plan<T> make_plan(const torch::Tensor& sf_int, const torch::Tensor& sf_real, int64_t n_species) {
  const std::vector<SymmetryFunctionRow> rows = read_symmetry_function_table(sf_int, sf_real);
  for (const auto& row : rows) {
    n_species = std::max({n_species, row.centre + 1, row.neighbor1 + 1, row.neighbor2 + 1});
  }
  Plan<T> plan;
  plan.n_species = n_species;
  plan.elements.resize(n_species);
  for (auto& ep : plan.elements) {
    ep.radial_by_neighbor.resize(n_species);
    ep.angular_by_pair.resize(n_species * n_species);
  }
  for (const auto& row : rows) {
    SfEntry<T> entry{row.column, row.type, params_as<T>(row.params)};
    auto& ep = plan.elements[row.centre];
    if (is_radial_type(row.type)) {
      ep.radial_by_neighbor[row.neighbor1].push_back(entry);
    } else {
      const int64_t lo = std::min(row.neighbor1, row.neighbor2), hi = std::max(row.neighbor1, row.neighbor2);
      entry.slot = static_cast<int64_t>(ep.angular_by_slot.size());
      ep.angular_by_slot.push_back(entry);
      ep.angular_by_pair[lo * n_species + hi].push_back(entry);
      ep.angular_rc_max = std::max(ep.angular_rc_max, entry.p.rc);
      ep.has_angular = true;
    }
  }
  return plan;
}

struct Inputs {
  torch::Tensor edge_vectors, edge_index, species, sf_int, sf_real;
};

Inputs check_inputs(const torch::Tensor& edge_vectors, const torch::Tensor& edge_index, const torch::Tensor& species,
                    const torch::Tensor& sf_int, const torch::Tensor& sf_real, int64_t n_centers) {
  TORCH_CHECK(edge_vectors.dim() == 2 && edge_vectors.size(1) == 3, "edge_vectors must have shape [E, 3]");
  TORCH_CHECK(edge_vectors.scalar_type() == torch::kFloat64 || edge_vectors.scalar_type() == torch::kFloat32,
              "edge_vectors must be float32 or float64");
  TORCH_CHECK(edge_index.dim() == 2 && edge_index.size(0) == 2 && edge_index.size(1) == edge_vectors.size(0),
              "edge_index must have shape [2, E] matching edge_vectors");
  TORCH_CHECK(species.dim() == 1, "species must have shape [N]");
  TORCH_CHECK(n_centers >= 0 && n_centers <= species.size(0), "n_centers must lie in 0..N");
  TORCH_CHECK(sf_int.dim() == 2 && (sf_int.size(1) == kSfIntColumnsBasic || sf_int.size(1) == kSfIntColumns),
              "sf_int must have shape [S, 6] or [S, 7]");
  TORCH_CHECK(sf_real.dim() == 2 &&
                  (sf_real.size(1) == kSfRealColumnsBasic || sf_real.size(1) == kSfRealColumns) &&
                  sf_real.size(0) == sf_int.size(0),
              "sf_real must have shape [S, 6] or [S, 9] matching sf_int");
#ifndef NNPKIT_WITH_CUDA
  TORCH_CHECK(edge_vectors.device().is_cpu(), "nnpkit was built without CUDA: symmetry functions need CPU tensors");
#endif
  return Inputs{edge_vectors.contiguous(), edge_index.to(torch::kInt64).contiguous(),
                species.to(torch::kInt64).contiguous(), sf_int.to(torch::kInt64).contiguous(),
                sf_real.to(torch::kFloat64).contiguous()};
}

template <typename T, Mode M>
void run_kernel(const Inputs& in, int64_t n_centers, int64_t n_columns, const T* seed, T* out_rows, T* out_edges) {
  const int64_t n_atoms = in.species.size(0);
  const int64_t* species = in.species.data_ptr<int64_t>();
  int64_t max_species = -1;
  for (int64_t i = 0; i < n_atoms; ++i) {
    TORCH_CHECK(species[i] >= 0, "species index of atom ", i, " is negative");
    max_species = std::max(max_species, species[i]);
  }
  const Plan<T> plan = make_plan<T>(in.sf_int, in.sf_real, max_species + 1);
  const int64_t n_species = plan.n_species;
  const auto columns = in.sf_int.select(1, 5);
  if (columns.numel() > 0) {
    TORCH_CHECK(columns.min().item<int64_t>() >= 0 && columns.max().item<int64_t>() < n_columns,
                "a symmetry function column lies outside 0..n_columns-1");
  }
  const std::vector<int64_t> offsets = centre_offsets(in.edge_index, n_atoms, "symmetry_functions");
  const int64_t* neighbor = in.edge_index.data_ptr<int64_t>() + in.edge_index.size(1);
  const T* vec = in.edge_vectors.data_ptr<T>();

  at::parallel_for(0, n_centers, 16, [&](int64_t begin, int64_t end) {
    std::vector<T> distance, factor, dfactor;
    for (int64_t i = begin; i < end; ++i) {
      const ElementPlan<T>& ep = plan.elements[species[i]];
      const int64_t e0 = offsets[i], e1 = offsets[i + 1];
      distance.resize(e1 - e0);
      for (int64_t e = e0; e < e1; ++e) {
        const T* a = vec + 3 * e;
        distance[e - e0] = std::sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
      }
      T* row = (M == Mode::VectorJacobian) ? nullptr : out_rows + i * n_columns;
      const T* seed_row = (M == Mode::VectorJacobian) ? seed + i * n_columns : nullptr;

      // Radial functions: one neighbour at a time. Derivatives are accumulated as
      // scalars over functions and turned into a vector once per edge.
      for (int64_t e = e0; e < e1; ++e) {
        const auto& list = ep.radial_by_neighbor[species[neighbor[e]]];
        if (list.empty()) continue;
        const T r = distance[e - e0];
        const T* a = vec + 3 * e;
        const T a_t = (M == Mode::JacobianVector) ? (a[0] * seed[3 * e] + a[1] * seed[3 * e + 1] +
                                                     a[2] * seed[3 * e + 2]) / r
                                                  : T(0);
        T accumulated = T(0);  // sum_s seed_s dG_s/dr
        for (const auto& sf : list) {
          if (r >= sf.p.rc) continue;
          T dR;
          const T value = sf.p.weight * edge_factor<T>(sf.type, r, sf.p, dR);
          if (M == Mode::Forward) {
            row[sf.column] += value;
          } else if (M == Mode::VectorJacobian) {
            accumulated += seed_row[sf.column] * sf.p.weight * dR;
          } else {
            row[sf.column] += sf.p.weight * dR * a_t;
          }
        }
        if (M == Mode::VectorJacobian && accumulated != T(0)) {
          for (int c = 0; c < 3; ++c) out_edges[3 * e + c] += accumulated * a[c] / r;
        }
      }
      if (!ep.has_angular) continue;

      // Radial factors of every edge for every angular function, computed once
      // per edge instead of once per neighbour pair.
      const auto n_slots = static_cast<int64_t>(ep.angular_by_slot.size());
      factor.assign((e1 - e0) * n_slots, T(0));
      dfactor.assign((e1 - e0) * n_slots, T(0));
      for (int64_t e = e0; e < e1; ++e) {
        const T r = distance[e - e0];
        if (r >= ep.angular_rc_max) continue;
        for (int64_t k = 0; k < n_slots; ++k) {
          const auto& sf = ep.angular_by_slot[k];
          if (r < sf.p.rc) {
            factor[(e - e0) * n_slots + k] = edge_factor<T>(sf.type, r, sf.p, dfactor[(e - e0) * n_slots + k]);
          }
        }
      }

      // Angular functions: each unordered neighbour pair once.
      for (int64_t ea = e0; ea < e1; ++ea) {
        const T ra = distance[ea - e0];
        if (ra >= ep.angular_rc_max) continue;
        const int64_t sa = species[neighbor[ea]];
        const T* a = vec + 3 * ea;
        for (int64_t eb = ea + 1; eb < e1; ++eb) {
          const T rb = distance[eb - e0];
          if (rb >= ep.angular_rc_max) continue;
          const int64_t sb = species[neighbor[eb]];
          const auto& list = ep.angular_by_pair[std::min(sa, sb) * n_species + std::max(sa, sb)];
          if (list.empty()) continue;
          const T* b = vec + 3 * eb;
          const int64_t ia = (ea - e0) * n_slots, ib = (eb - e0) * n_slots;
          const TripletGeometry<T> geometry = triplet_geometry<T>(a, ra, b, rb);
          T q[4] = {T(0), T(0), T(0), T(0)};
          if (M == Mode::JacobianVector) {
            angular_tangent_basis<T>(a, ra, b, rb, geometry, seed + 3 * ea, seed + 3 * eb, q);
          }
          T accumulated[4] = {T(0), T(0), T(0), T(0)};  // sum_s seed_s coeff_s
          T coeff[4];
          for (const auto& sf : list) {
            if (ra >= sf.p.rc || rb >= sf.p.rc) continue;
            const T Ra = factor[ia + sf.slot], dRa = dfactor[ia + sf.slot];
            const T Rb = factor[ib + sf.slot], dRb = dfactor[ib + sf.slot];
            if (M == Mode::Forward) {
              row[sf.column] += angular_coefficients<T>(sf.type, geometry, ra, Ra, dRa, rb, Rb, dRb, sf.p, nullptr);
            } else if (M == Mode::VectorJacobian) {
              const T g = seed_row[sf.column];
              if (g == T(0)) continue;
              angular_coefficients<T>(sf.type, geometry, ra, Ra, dRa, rb, Rb, dRb, sf.p, coeff);
              for (int k = 0; k < 4; ++k) accumulated[k] += g * coeff[k];
            } else {
              angular_coefficients<T>(sf.type, geometry, ra, Ra, dRa, rb, Rb, dRb, sf.p, coeff);
              row[sf.column] += coeff[0] * q[0] + coeff[1] * q[1] + coeff[2] * q[2] + coeff[3] * q[3];
            }
          }
          if (M == Mode::VectorJacobian) {
            T grad_a[3], grad_b[3];
            angular_gradients<T>(a, ra, b, rb, geometry, accumulated, grad_a, grad_b);
            for (int c = 0; c < 3; ++c) {
              out_edges[3 * ea + c] += grad_a[c];
              out_edges[3 * eb + c] += grad_b[c];
            }
          }
        }
      }
    }
  });
}


#ifdef NNPKIT_WITH_CUDA
// Same three modes on the GPU: centre offsets come from a sorted search on the device.
void run_cuda(int mode, const Inputs& in, int64_t n_centers, int64_t n_columns, const torch::Tensor& seed,
              torch::Tensor& rows, torch::Tensor& edge_out) {
  const auto device = in.edge_vectors.device();
  const auto centres = in.edge_index[0];
  if (centres.numel() > 1) {
    TORCH_CHECK((centres.diff() >= 0).all().item<bool>(), "edges must be grouped by centre atom in ascending order");
  }
  const auto offsets =
      torch::searchsorted(centres, torch::arange(in.species.size(0) + 1, centres.options())).contiguous();
  const auto sf_int = in.sf_int.to(device).contiguous();
  const auto sf_real = in.sf_real.to(device).contiguous();
  const auto neighbours = in.edge_index[1].contiguous();
  AT_DISPATCH_FLOATING_TYPES(in.edge_vectors.scalar_type(), "symmetry_functions_cuda", [&] {
    cuda::symmetry_functions_launch<scalar_t>(
        mode, in.edge_vectors.data_ptr<scalar_t>(), neighbours.data_ptr<int64_t>(), in.species.data_ptr<int64_t>(),
        offsets.data_ptr<int64_t>(), n_centers, sf_int.data_ptr<int64_t>(), sf_real.data_ptr<double>(),
        sf_int.size(0), sf_int.size(1), sf_real.size(1), n_columns, seed.defined() ? seed.data_ptr<scalar_t>() : nullptr,
        rows.defined() ? rows.data_ptr<scalar_t>() : nullptr, edge_out.defined() ? edge_out.data_ptr<scalar_t>() : nullptr,
        nullptr);
  });
}
#endif
}  // namespace

torch::Tensor symmetry_functions_forward(const torch::Tensor& edge_vectors, const torch::Tensor& edge_index,
                                         const torch::Tensor& species, const torch::Tensor& sf_int,
                                         const torch::Tensor& sf_real, int64_t n_centers, int64_t n_columns) {
  const Inputs in = check_inputs(edge_vectors, edge_index, species, sf_int, sf_real, n_centers);
  auto out = torch::zeros({n_centers, n_columns}, in.edge_vectors.options());
  #ifdef NNPKIT_WITH_CUDA
  if (in.edge_vectors.is_cuda()) {
    torch::Tensor none;
    run_cuda(0, in, n_centers, n_columns, none, out, none);
    return out;
  }
#endif
  grouped_symmetry_functions_forward(in.edge_vectors, in.edge_index, in.species, in.sf_int, in.sf_real, n_centers,
                                     out);
  return out;
}

torch::Tensor symmetry_functions_vjp(const torch::Tensor& grad_G, const torch::Tensor& edge_vectors,
                                     const torch::Tensor& edge_index, const torch::Tensor& species,
                                     const torch::Tensor& sf_int, const torch::Tensor& sf_real, int64_t n_centers,
                                     int64_t n_columns) {
  const Inputs in = check_inputs(edge_vectors, edge_index, species, sf_int, sf_real, n_centers);
  // [n_centers, n_columns], or one seed per committee member [M, n_centers, n_columns] -> [M, E, 3].
  const bool members = grad_G.dim() == 3;
  TORCH_CHECK((grad_G.dim() == 2 || members) && grad_G.size(-2) == n_centers && grad_G.size(-1) == n_columns,
              "gradient of the symmetry functions has the wrong shape (expected [n_centers, n_columns] or "
              "[M, n_centers, n_columns])");
  const auto seed = grad_G.to(in.edge_vectors.scalar_type()).contiguous();
  #ifdef NNPKIT_WITH_CUDA
  if (in.edge_vectors.is_cuda()) {
    torch::Tensor none;
    if (members) {
      std::vector<torch::Tensor> per_member;
      for (int64_t m = 0; m < grad_G.size(0); ++m) {
        auto out_m = torch::zeros_like(in.edge_vectors);
        run_cuda(1, in, n_centers, n_columns, seed.select(0, m).contiguous(), none, out_m);
        per_member.push_back(out_m);
      }
      return torch::stack(per_member);
    }
    auto out = torch::zeros_like(in.edge_vectors);
    run_cuda(1, in, n_centers, n_columns, seed, none, out);
    return out;
  }
#endif
  if (members) {
    // Laid out [E, M, 3] (an edge's members side by side, which is how the runner
    // scatters them into forces) and returned as the [M, E, 3] view.
    auto out = torch::empty({in.edge_vectors.size(0), grad_G.size(0), 3}, in.edge_vectors.options());
    grouped_symmetry_functions_vjp(seed, in.edge_vectors, in.edge_index, in.species, in.sf_int, in.sf_real,
                                   n_centers, out);
    return out.permute({1, 0, 2});
  }
  auto out = torch::empty_like(in.edge_vectors);  // the driver zeroes each centre's edges itself
  grouped_symmetry_functions_vjp(seed, in.edge_vectors, in.edge_index, in.species, in.sf_int, in.sf_real, n_centers,
                                 out);
  return out;
}

torch::Tensor symmetry_functions_jvp(const torch::Tensor& tangent, const torch::Tensor& edge_vectors,
                                     const torch::Tensor& edge_index, const torch::Tensor& species,
                                     const torch::Tensor& sf_int, const torch::Tensor& sf_real, int64_t n_centers,
                                     int64_t n_columns) {
  const Inputs in = check_inputs(edge_vectors, edge_index, species, sf_int, sf_real, n_centers);
  TORCH_CHECK(tangent.sizes() == edge_vectors.sizes(), "tangent must have the shape of edge_vectors");
  const auto seed = tangent.to(in.edge_vectors.scalar_type()).contiguous();
  auto out = torch::zeros({n_centers, n_columns}, in.edge_vectors.options());
  #ifdef NNPKIT_WITH_CUDA
  if (in.edge_vectors.is_cuda()) {
    torch::Tensor none;
    run_cuda(2, in, n_centers, n_columns, seed, out, none);
    return out;
  }
#endif
  AT_DISPATCH_FLOATING_TYPES(in.edge_vectors.scalar_type(), "symmetry_functions_jvp", [&] {
    run_kernel<scalar_t, Mode::JacobianVector>(in, n_centers, n_columns, seed.data_ptr<scalar_t>(),
                                                out.data_ptr<scalar_t>(), nullptr);
  });
  return out;
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Backward of the backward: the VJP is linear in grad_G, so its derivative with
// respect to grad_G is the JVP. That is all force training needs.
class SymmetryFunctionsVjpFunction : public torch::autograd::Function<SymmetryFunctionsVjpFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& grad_G, const torch::Tensor& edge_vectors,
                               const torch::Tensor& edge_index, const torch::Tensor& species,
                               const torch::Tensor& sf_int, const torch::Tensor& sf_real, int64_t n_centers,
                               int64_t n_columns) {
    ctx->save_for_backward({edge_vectors, edge_index, species, sf_int, sf_real});
    ctx->saved_data["n_centers"] = n_centers;
    ctx->saved_data["n_columns"] = n_columns;
    return symmetry_functions_vjp(grad_G, edge_vectors, edge_index, species, sf_int, sf_real, n_centers, n_columns);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    TORCH_CHECK(!ctx->needs_input_grad(1),
                "second derivatives of symmetry functions with respect to positions are not implemented; "
                "to train on forces, take gradients with torch.autograd.grad(loss, parameters) rather than "
                "loss.backward() on a graph whose edge vectors require grad");
    torch::Tensor grad_grad_G;
    if (ctx->needs_input_grad(0) && grad_outputs[0].defined()) {
      grad_grad_G = symmetry_functions_jvp(grad_outputs[0], saved[0], saved[1], saved[2], saved[3], saved[4],
                                           ctx->saved_data["n_centers"].toInt(),
                                           ctx->saved_data["n_columns"].toInt());
    }
    return {grad_grad_G, torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

class SymmetryFunctionsFunction : public torch::autograd::Function<SymmetryFunctionsFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& edge_vectors, const torch::Tensor& edge_index,
                               const torch::Tensor& species, const torch::Tensor& sf_int,
                               const torch::Tensor& sf_real, int64_t n_centers, int64_t n_columns,
                               double length_scale) {
    ctx->saved_data["n_centers"] = n_centers;
    ctx->saved_data["n_columns"] = n_columns;
    ctx->saved_data["length_scale"] = length_scale;
    if (edge_vectors.dim() == 3) {
      // One copy of the edge vectors per committee member (equal values): the
      // functions are computed once, from copy 0 (scaled here: [E, 3], not the
      // [M, E, 3] copies), and shared; the backward gives each copy its own
      // member's gradient (one multi-seed VJP).
      TORCH_CHECK(edge_vectors.size(0) >= 1,
                  "symmetry_functions: member-batched edge vectors [M, E, 3] need at least one member");
      const auto vectors = length_scale == 1.0 ? edge_vectors.select(0, 0) : edge_vectors.select(0, 0) * length_scale;
      ctx->save_for_backward({vectors, edge_index, species, sf_int, sf_real});
      return symmetry_functions_forward(vectors, edge_index, species, sf_int, sf_real, n_centers, n_columns)
          .unsqueeze(0)
          .expand({edge_vectors.size(0), n_centers, n_columns});
    }
    TORCH_CHECK(length_scale == 1.0, "symmetry_functions: [E, 3] edge vectors are scaled outside the function");
    ctx->save_for_backward({edge_vectors, edge_index, species, sf_int, sf_real});
    return symmetry_functions_forward(edge_vectors, edge_index, species, sf_int, sf_real, n_centers, n_columns);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    torch::Tensor grad_edges;
    if (ctx->needs_input_grad(0)) {
      const int64_t n_centers = ctx->saved_data["n_centers"].toInt();
      const int64_t n_columns = ctx->saved_data["n_columns"].toInt();
      if (grad_outputs[0].dim() == 3) {
        TORCH_CHECK(!at::GradMode::is_enabled(),
                    "symmetry_functions: second derivatives through member-batched edge vectors [M, E, 3] are not "
                    "implemented (force training uses one copy of the edge vectors)");
        grad_edges = symmetry_functions_vjp(grad_outputs[0], saved[0], saved[1], saved[2], saved[3], saved[4],
                                            n_centers, n_columns);
        // d/d(edge vectors) = length_scale x d/d(scaled vectors), as autograd's
        // product rule gives it, in the tensor the VJP made.
        const double length_scale = ctx->saved_data["length_scale"].toDouble();
        if (length_scale != 1.0) grad_edges.mul_(length_scale);
      } else {
        grad_edges = SymmetryFunctionsVjpFunction::apply(grad_outputs[0], saved[0], saved[1], saved[2], saved[3],
                                                         saved[4], n_centers, n_columns);
      }
    }
    return {grad_edges, torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor symmetry_functions(const torch::Tensor& edge_vectors, const torch::Tensor& edge_index,
                                 const torch::Tensor& species, const torch::Tensor& sf_int,
                                 const torch::Tensor& sf_real, int64_t n_centers, int64_t n_columns,
                                 double length_scale) {
  TORCH_CHECK(std::isfinite(length_scale) && length_scale > 0.0,
              "symmetry_functions: length_scale must be a positive number, got ", length_scale);
  if (edge_vectors.dim() == 2 && length_scale != 1.0) {
    // One [E, 3] product, differentiated (twice, for force training) by autograd.
    return SymmetryFunctionsFunction::apply(edge_vectors * length_scale, edge_index, species, sf_int, sf_real,
                                            n_centers, n_columns, 1.0);
  }
  return SymmetryFunctionsFunction::apply(edge_vectors, edge_index, species, sf_int, sf_real, n_centers, n_columns,
                                          length_scale);
}

// The straightforward per-function driver, for tests of the grouped one:
// mode 0 forward values, 1 vector-Jacobian product with `seed` [n_centers, n_columns].
torch::Tensor symmetry_functions_reference(const torch::Tensor& edge_vectors, const torch::Tensor& edge_index,
                                           const torch::Tensor& species, const torch::Tensor& sf_int,
                                           const torch::Tensor& sf_real, int64_t n_centers, int64_t n_columns,
                                           int64_t mode, const torch::Tensor& seed) {
  const Inputs in = check_inputs(edge_vectors, edge_index, species, sf_int, sf_real, n_centers);
  TORCH_CHECK(in.edge_vectors.device().is_cpu(), "symmetry_functions_reference runs on the CPU");
  TORCH_CHECK(mode == 0 || mode == 1, "mode must be 0 (forward) or 1 (vector-Jacobian product)");
  torch::Tensor out = mode == 0 ? torch::zeros({n_centers, n_columns}, in.edge_vectors.options())
                                : torch::zeros_like(in.edge_vectors);
  AT_DISPATCH_FLOATING_TYPES(in.edge_vectors.scalar_type(), "symmetry_functions_reference", [&] {
    if (mode == 0) {
      run_kernel<scalar_t, Mode::Forward>(in, n_centers, n_columns, nullptr, out.data_ptr<scalar_t>(), nullptr);
    } else {
      TORCH_CHECK(seed.dim() == 2 && seed.size(0) == n_centers && seed.size(1) == n_columns,
                  "seed must have shape [n_centers, n_columns]");
      const auto s = seed.to(in.edge_vectors.scalar_type()).contiguous();
      run_kernel<scalar_t, Mode::VectorJacobian>(in, n_centers, n_columns, s.data_ptr<scalar_t>(), nullptr,
                                                  out.data_ptr<scalar_t>());
    }
  });
  return out;
}

TORCH_LIBRARY_FRAGMENT(nnpkit, m) {
  m.def(
      "symmetry_functions_reference(Tensor edge_vectors, Tensor edge_index, Tensor species, Tensor sf_int, "
      "Tensor sf_real, int n_centers, int n_columns, int mode, Tensor seed) -> Tensor",
      &symmetry_functions_reference);
  m.def(
      "symmetry_functions(Tensor edge_vectors, Tensor edge_index, Tensor species, Tensor sf_int, "
      "Tensor sf_real, int n_centers, int n_columns, float length_scale=1.0) -> Tensor",
      &symmetry_functions);
}

}  // namespace nnpkit
