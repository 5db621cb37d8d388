// CPU driver of the ANI AEV operator: one threaded loop over centre atoms serves
// the forward values, the vector-Jacobian product (forces) and the
// Jacobian-vector product (double backward, for training on forces). Each edge
// belongs to exactly one centre, so threads never write to the same output.
#include "core/aev_op.h"

#include <ATen/Parallel.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <cmath>
#include <type_traits>
#include <vector>

#include "core/aev_pair_terms.h"
#include "core/aev_radial_terms.h"
#include "core/aev_terms.h"
#include "core/edge_list.h"

namespace nnpkit {

int64_t AniAevParameters::radial_length() const {
  return n_species * static_cast<int64_t>(radial_shifts.size());
}

int64_t AniAevParameters::angular_length() const {
  return n_species * (n_species + 1) / 2 * static_cast<int64_t>(angular_shifts.size() * angular_sections.size());
}

void AniAevParameters::validate() const {
  TORCH_CHECK(n_species >= 1, "ani_aev: n_species must be at least 1, got ", n_species);
  TORCH_CHECK(radial_cutoff > 0.0 && std::isfinite(radial_cutoff), "ani_aev: radial cutoff must be positive");
  TORCH_CHECK(angular_cutoff > 0.0 && std::isfinite(angular_cutoff), "ani_aev: angular cutoff must be positive");
  TORCH_CHECK(radial_eta >= 0.0 && angular_eta >= 0.0, "ani_aev: EtaR and EtaA must not be negative");
  TORCH_CHECK(angular_zeta >= 1.0, "ani_aev: Zeta must be at least 1, got ", angular_zeta);
  TORCH_CHECK(!radial_shifts.empty() && static_cast<int>(radial_shifts.size()) <= kAniMaxRadialShifts,
              "ani_aev: need 1..", kAniMaxRadialShifts, " radial shifts (ShfR), got ", radial_shifts.size());
  TORCH_CHECK(!angular_shifts.empty() && static_cast<int>(angular_shifts.size()) <= kAniMaxAngularShifts,
              "ani_aev: need 1..", kAniMaxAngularShifts, " angular shifts (ShfA), got ", angular_shifts.size());
  TORCH_CHECK(!angular_sections.empty() && static_cast<int>(angular_sections.size()) <= kAniMaxSections,
              "ani_aev: need 1..", kAniMaxSections, " angle sections (ShfZ), got ", angular_sections.size());
}

namespace {

enum class Mode { Forward, VectorJacobian, JacobianVector };

// Parameters converted to the working precision, with the section cosines and
// sines precomputed; the term structs point into these vectors.
template <typename T>
struct WorkingParameters {
  std::vector<T> radial_shifts, angular_shifts, cos_sections, sin_sections;
  AniRadialParams<T> radial;
  AniAngularParams<T> angular;
  GaussianLadder<T> radial_ladder, angular_ladder;  // float64 only (gaussian_ladder.h)

  explicit WorkingParameters(const AniAevParameters& p)
      : radial_shifts(p.radial_shifts.begin(), p.radial_shifts.end()),
        angular_shifts(p.angular_shifts.begin(), p.angular_shifts.end()) {
    for (double z : p.angular_sections) {
      cos_sections.push_back(T(std::cos(z)));
      sin_sections.push_back(T(std::sin(z)));
    }
    radial = AniRadialParams<T>{T(p.radial_cutoff), T(p.radial_eta), static_cast<int>(radial_shifts.size()),
                                radial_shifts.data()};
    const double zeta_minus_one = p.angular_zeta - 1.0;
    const bool integer_zeta = zeta_minus_one == std::floor(zeta_minus_one) && p.angular_zeta <= kAniMaxIntegerZeta;
    angular = AniAngularParams<T>{T(p.angular_cutoff),
                                  T(p.angular_eta),
                                  T(p.angular_zeta),
                                  integer_zeta ? static_cast<int>(zeta_minus_one) : -1,
                                  static_cast<int>(angular_shifts.size()),
                                  static_cast<int>(cos_sections.size()),
                                  angular_shifts.data(),
                                  cos_sections.data(),
                                  sin_sections.data()};
    if constexpr (std::is_same_v<T, double>) {
      radial_ladder = GaussianLadder<T>(radial_shifts, T(p.radial_eta), T(p.radial_cutoff));
      angular_ladder = GaussianLadder<T>(angular_shifts, T(p.angular_eta), T(p.angular_cutoff));
    }
  }
};

struct Inputs {
  torch::Tensor edge_vectors, edge_index, species;
};

Inputs check_inputs(const torch::Tensor& edge_vectors, const torch::Tensor& edge_index, const torch::Tensor& species,
                    const AniAevParameters& params, int64_t n_centers) {
  params.validate();
  TORCH_CHECK(edge_vectors.dim() == 2 && edge_vectors.size(1) == 3, "ani_aev: edge_vectors must have shape [E, 3]");
  TORCH_CHECK(edge_vectors.scalar_type() == torch::kFloat64 || edge_vectors.scalar_type() == torch::kFloat32,
              "ani_aev: edge_vectors must be float32 or float64");
  TORCH_CHECK(edge_index.dim() == 2 && edge_index.size(0) == 2 && edge_index.size(1) == edge_vectors.size(0),
              "ani_aev: edge_index must have shape [2, E] matching edge_vectors");
  TORCH_CHECK(species.dim() == 1, "ani_aev: species must have shape [N]");
  TORCH_CHECK(n_centers >= 0 && n_centers <= species.size(0), "ani_aev: n_centers must lie in 0..N");
  TORCH_CHECK(edge_vectors.device().is_cpu() && edge_index.device().is_cpu() && species.device().is_cpu(),
              "ani_aev: the CPU kernel needs CPU tensors");
  Inputs in{edge_vectors.contiguous(), edge_index.to(torch::kInt64).contiguous(),
            species.to(torch::kInt64).contiguous()};
  if (in.species.numel() > 0) {
    const auto lo = in.species.min().item<int64_t>(), hi = in.species.max().item<int64_t>();
    TORCH_CHECK(lo >= 0 && hi < params.n_species, "ani_aev: species indices must lie in 0..", params.n_species - 1,
                ", got ", lo, "..", hi);
  }
  return in;
}

// Vector-Jacobian mode takes `n_seeds` seeds ([n_seeds, n_centers, width]) and
// writes as many edge gradients ([n_seeds, E, 3]): the terms and their derivatives
// are computed once per pair and triplet and contracted with every seed, which is
// what makes one backward pass over all committee members cheap.
template <typename T, Mode M>
void run_kernel(const Inputs& in, const AniAevParameters& params, int64_t n_centers, const T* seed, T* out_rows,
                T* out_edges, int64_t n_seeds = 1) {
  const WorkingParameters<T> wp(params);
  const AniRadialParams<T>& rp = wp.radial;
  const AniAngularParams<T>& ap = wp.angular;
  const int64_t n_atoms = in.species.size(0);
  const int n_species = static_cast<int>(params.n_species);
  const int64_t width = params.length();
  const int64_t radial_length = params.radial_length();
  const int64_t block = static_cast<int64_t>(ap.n_shifts) * ap.n_sections;
  const int64_t* species = in.species.data_ptr<int64_t>();
  const std::vector<int64_t> offsets = centre_offsets(in.edge_index, n_atoms, "ani_aev");
  const int64_t* neighbor = in.edge_index.data_ptr<int64_t>() + in.edge_index.size(1);
  const T* vec = in.edge_vectors.data_ptr<T>();
  const int64_t seed_stride = n_centers * width;     // between seeds (VJP)
  const int64_t out_stride = 3 * in.edge_vectors.size(0);  // between edge gradients (VJP)

  at::parallel_for(0, n_centers, 8, [&](int64_t begin, int64_t end) {
    std::vector<AngularNeighbor<T>> close;
    AniTriplet<T> triplet;
    AniRadialTerms<T> radial;
    AniPairTerms<T> pairs;
    for (int64_t i = begin; i < end; ++i) {
      T* row = (M == Mode::VectorJacobian) ? nullptr : out_rows + i * width;
      const T* seed_row = (M == Mode::VectorJacobian) ? seed + i * width : nullptr;
      radial.compute(i, offsets[i], offsets[i + 1], vec, neighbor, species, rp, ap, wp.radial_ladder, n_species,
                     M != Mode::Forward, close);
      if (M == Mode::Forward) {
        radial.add_terms(n_species, rp.n_shifts, row);
      } else if (M == Mode::VectorJacobian) {
        radial.add_vector_jacobian(n_species, rp.n_shifts, vec, seed_row, seed_stride, n_seeds, out_edges,
                                   out_stride);
      } else {
        radial.add_jacobian_vector(n_species, rp.n_shifts, vec, seed, row);
      }
      // Angular terms: each unordered pair of close neighbours once, all pairs of
      // this centre together (aev_pair_terms.h).
      pairs.compute(close, vec, ap, wp.angular_ladder, n_species, M != Mode::Forward, M == Mode::JacobianVector);
      if (M == Mode::Forward) {
        pairs.add_terms(ap, row + radial_length);
      } else if (M == Mode::VectorJacobian) {
        pairs.add_vector_jacobian(ap, close, seed_row + radial_length, seed_stride, n_seeds, out_edges, out_stride);
      } else {
        for (int64_t k = 0; k < pairs.n_pairs(); ++k) {
          pairs.triplet(k, close, vec, ap, triplet);
          const AngularNeighbor<T>& na = close[pairs.first(k)];
          const AngularNeighbor<T>& nb = close[pairs.second(k)];
          ani_angular_jvp<T>(triplet, vec + 3 * na.edge, na.distance, vec + 3 * nb.edge, nb.distance, ap,
                             seed + 3 * na.edge, seed + 3 * nb.edge,
                             row + radial_length + pairs.block(k) * block);
        }
      }
    }
  });
}

}  // namespace

torch::Tensor ani_aev_forward(const torch::Tensor& edge_vectors, const torch::Tensor& edge_index,
                              const torch::Tensor& species, const AniAevParameters& params, int64_t n_centers) {
  const Inputs in = check_inputs(edge_vectors, edge_index, species, params, n_centers);
  auto out = torch::zeros({n_centers, params.length()}, in.edge_vectors.options());
  AT_DISPATCH_FLOATING_TYPES(in.edge_vectors.scalar_type(), "ani_aev_forward", [&] {
    run_kernel<scalar_t, Mode::Forward>(in, params, n_centers, nullptr, out.data_ptr<scalar_t>(), nullptr);
  });
  return out;
}

torch::Tensor ani_aev_vjp(const torch::Tensor& grad_aev, const torch::Tensor& edge_vectors,
                          const torch::Tensor& edge_index, const torch::Tensor& species,
                          const AniAevParameters& params, int64_t n_centers) {
  const Inputs in = check_inputs(edge_vectors, edge_index, species, params, n_centers);
  const bool batched = grad_aev.dim() == 3;
  TORCH_CHECK((grad_aev.dim() == 2 || batched) && grad_aev.size(-2) == n_centers &&
                  grad_aev.size(-1) == params.length(),
              "ani_aev: gradient of the AEV has the wrong shape");
  const auto seed = grad_aev.to(in.edge_vectors.scalar_type()).contiguous();
  const int64_t n_seeds = batched ? grad_aev.size(0) : 1;
  auto out = batched ? torch::zeros({n_seeds, in.edge_vectors.size(0), 3}, in.edge_vectors.options())
                     : torch::zeros_like(in.edge_vectors);
  AT_DISPATCH_FLOATING_TYPES(in.edge_vectors.scalar_type(), "ani_aev_vjp", [&] {
    run_kernel<scalar_t, Mode::VectorJacobian>(in, params, n_centers, seed.data_ptr<scalar_t>(), nullptr,
                                                out.data_ptr<scalar_t>(), n_seeds);
  });
  return out;
}

torch::Tensor ani_aev_jvp(const torch::Tensor& tangent, const torch::Tensor& edge_vectors,
                          const torch::Tensor& edge_index, const torch::Tensor& species,
                          const AniAevParameters& params, int64_t n_centers) {
  const Inputs in = check_inputs(edge_vectors, edge_index, species, params, n_centers);
  TORCH_CHECK(tangent.sizes() == edge_vectors.sizes(), "ani_aev: tangent must have the shape of edge_vectors");
  const auto seed = tangent.to(in.edge_vectors.scalar_type()).contiguous();
  auto out = torch::zeros({n_centers, params.length()}, in.edge_vectors.options());
  AT_DISPATCH_FLOATING_TYPES(in.edge_vectors.scalar_type(), "ani_aev_jvp", [&] {
    run_kernel<scalar_t, Mode::JacobianVector>(in, params, n_centers, seed.data_ptr<scalar_t>(),
                                                out.data_ptr<scalar_t>(), nullptr);
  });
  return out;
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

void save_parameters(AutogradContext* ctx, const AniAevParameters& p, int64_t n_centers) {
  ctx->saved_data["n_species"] = p.n_species;
  ctx->saved_data["n_centers"] = n_centers;
  ctx->saved_data["scalars"] =
      std::vector<double>{p.radial_cutoff, p.radial_eta, p.angular_cutoff, p.angular_eta, p.angular_zeta};
  ctx->saved_data["radial_shifts"] = p.radial_shifts;
  ctx->saved_data["angular_shifts"] = p.angular_shifts;
  ctx->saved_data["angular_sections"] = p.angular_sections;
}

AniAevParameters load_parameters(AutogradContext* ctx) {
  AniAevParameters p;
  p.n_species = ctx->saved_data["n_species"].toInt();
  const auto s = ctx->saved_data["scalars"].toDoubleVector();
  p.radial_cutoff = s[0];
  p.radial_eta = s[1];
  p.angular_cutoff = s[2];
  p.angular_eta = s[3];
  p.angular_zeta = s[4];
  p.radial_shifts = ctx->saved_data["radial_shifts"].toDoubleVector();
  p.angular_shifts = ctx->saved_data["angular_shifts"].toDoubleVector();
  p.angular_sections = ctx->saved_data["angular_sections"].toDoubleVector();
  return p;
}

// Backward of the backward: the VJP is linear in grad_aev, so its derivative with
// respect to grad_aev is the JVP. That is all force training needs.
class AniAevVjpFunction : public torch::autograd::Function<AniAevVjpFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& grad_aev, const torch::Tensor& edge_vectors,
                               const torch::Tensor& edge_index, const torch::Tensor& species,
                               const AniAevParameters& params, int64_t n_centers) {
    ctx->save_for_backward({edge_vectors, edge_index, species});
    save_parameters(ctx, params, n_centers);
    return ani_aev_vjp(grad_aev, edge_vectors, edge_index, species, params, n_centers);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    TORCH_CHECK(!ctx->needs_input_grad(1),
                "second derivatives of the ANI AEV with respect to positions are not implemented; to train on "
                "forces, take gradients with torch.autograd.grad(loss, parameters) rather than loss.backward() "
                "on a graph whose edge vectors require grad");
    const auto saved = ctx->get_saved_variables();
    torch::Tensor grad_grad_aev;
    if (ctx->needs_input_grad(0) && grad_outputs[0].defined()) {
      grad_grad_aev = ani_aev_jvp(grad_outputs[0], saved[0], saved[1], saved[2], load_parameters(ctx),
                                  ctx->saved_data["n_centers"].toInt());
    }
    return {grad_grad_aev, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

class AniAevFunction : public torch::autograd::Function<AniAevFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& edge_vectors,
                               const torch::Tensor& edge_index, const torch::Tensor& species,
                               const AniAevParameters& params, int64_t n_centers) {
    save_parameters(ctx, params, n_centers);
    if (edge_vectors.dim() == 3) {
      // One copy of the edge vectors per committee member (equal values): the AEV is
      // computed once and shared; the backward gives each copy its own member's gradient.
      TORCH_CHECK(edge_vectors.size(0) >= 1, "ani_aev: member-batched edge vectors need at least one member");
      const auto vectors = edge_vectors.select(0, 0);
      ctx->save_for_backward({vectors, edge_index, species});
      return ani_aev_forward(vectors, edge_index, species, params, n_centers)
          .unsqueeze(0)
          .expand({edge_vectors.size(0), n_centers, params.length()});
    }
    ctx->save_for_backward({edge_vectors, edge_index, species});
    return ani_aev_forward(edge_vectors, edge_index, species, params, n_centers);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    torch::Tensor grad_edges;
    if (ctx->needs_input_grad(0)) {
      const auto params = load_parameters(ctx);
      const int64_t n_centers = ctx->saved_data["n_centers"].toInt();
      if (grad_outputs[0].dim() == 3) {
        TORCH_CHECK(!at::GradMode::is_enabled(),
                    "ani_aev: second derivatives through member-batched edge vectors are not implemented");
        grad_edges = ani_aev_vjp(grad_outputs[0], saved[0], saved[1], saved[2], params, n_centers);
      } else {
        grad_edges = AniAevVjpFunction::apply(grad_outputs[0], saved[0], saved[1], saved[2], params, n_centers);
      }
    }
    return {grad_edges, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// The registered operator's flat signature.
torch::Tensor ani_aev_op(const torch::Tensor& edge_vectors, const torch::Tensor& edge_index,
                         const torch::Tensor& species, int64_t n_species, int64_t n_centers, double radial_cutoff,
                         double radial_eta, std::vector<double> radial_shifts, double angular_cutoff,
                         double angular_eta, double angular_zeta, std::vector<double> angular_shifts,
                         std::vector<double> angular_sections) {
  AniAevParameters p;
  p.n_species = n_species;
  p.radial_cutoff = radial_cutoff;
  p.radial_eta = radial_eta;
  p.radial_shifts = std::move(radial_shifts);
  p.angular_cutoff = angular_cutoff;
  p.angular_eta = angular_eta;
  p.angular_zeta = angular_zeta;
  p.angular_shifts = std::move(angular_shifts);
  p.angular_sections = std::move(angular_sections);
  return ani_aev(edge_vectors, edge_index, species, p, n_centers);
}

}  // namespace

torch::Tensor ani_aev(const torch::Tensor& edge_vectors, const torch::Tensor& edge_index, const torch::Tensor& species,
                      const AniAevParameters& params, int64_t n_centers) {
  return AniAevFunction::apply(edge_vectors, edge_index, species, params, n_centers);
}

TORCH_LIBRARY_FRAGMENT(nnpkit, m) {
  m.def(
      "ani_aev(Tensor edge_vectors, Tensor edge_index, Tensor species, int n_species, int n_centers, "
      "float radial_cutoff, float radial_eta, float[] radial_shifts, float angular_cutoff, float angular_eta, "
      "float angular_zeta, float[] angular_shifts, float[] angular_sections) -> Tensor",
      &ani_aev_op);
}

}  // namespace nnpkit
