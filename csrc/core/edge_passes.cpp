#include "core/edge_passes.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/usable_threads.h"
#include "core/vector_lanes.h"

namespace nnpkit {
namespace {

template <typename Out>
ModelEdgeVectors scale_and_check(const double* v, int64_t n_edges, double scale, double min_distance, Out* out) {
  ModelEdgeVectors result;
  double best = min_distance * min_distance;
  for (int64_t e = 0; e < n_edges; ++e) {
    const double x = v[3 * e], y = v[3 * e + 1], z = v[3 * e + 2];
    const double d2 = x * x + y * y + z * z;
    // A NaN or infinite component makes d2 NaN or infinite (squares are >= 0).
    if (!std::isfinite(d2) && result.first_non_finite < 0) result.first_non_finite = e;
    if (d2 < best) {
      best = d2;
      result.shortest_below = e;
    }
    if (out != nullptr) {
      out[3 * e] = static_cast<Out>(x * scale);
      out[3 * e + 1] = static_cast<Out>(y * scale);
      out[3 * e + 2] = static_cast<Out>(z * scale);
    }
  }
  return result;
}

// Edges begin..end of the reduction into forces [M, N, 3] and virials [M, 9]
// (both added to), members m0..m0+MB. Edge-major (members innermost): the
// member-batched gradients of the symmetry functions are laid out [E, M, 3] in
// memory, so this reads them in order. A centre's force (while its edges follow
// each other: the runner's lists are grouped by centre; any order stays
// correct) and the virials are summed in registers: added to memory per edge,
// they were a chain of stores and reloads per member.
template <typename T, int MB>
void reduce_force_range(const T* g, int64_t stride_m, int64_t stride_e, int64_t m0, int64_t begin, int64_t end,
                        const int64_t* centre, const int64_t* neighbour, const double* r, double factor,
                        int64_t n_atoms, double* forces, double* virials) {
  if (begin >= end) return;
  constexpr int kValues = 3 * MB;
  double own[kValues] = {};
  double w[3][kValues] = {};  // w[a][3 m + b] = -sum_e r_a g_mb
  int64_t current = centre[begin];
  const auto flush = [&] {
    for (int m = 0; m < MB; ++m) {
      double* f = forces + (m0 + m) * n_atoms * 3 + 3 * current;
      for (int a = 0; a < 3; ++a) {
        f[a] += own[3 * m + a];
        own[3 * m + a] = 0.0;
      }
    }
  };
  for (int64_t e = begin; e < end; ++e) {
    if (centre[e] != current) {
      flush();
      current = centre[e];
    }
    double v[kValues];
    for (int m = 0; m < MB; ++m) {
      const T* ge = g + (m0 + m) * stride_m + e * stride_e;
      for (int b = 0; b < 3; ++b) v[3 * m + b] = static_cast<double>(ge[b]) * factor;
    }
    const int64_t n = 3 * neighbour[e];
    for (int m = 0; m < MB; ++m) {
      double* f = forces + (m0 + m) * n_atoms * 3 + n;
      for (int b = 0; b < 3; ++b) f[b] -= v[3 * m + b];
    }
    const double* re = r + 3 * e;
    for (int j = 0; j < kValues; ++j) own[j] += v[j];
    for (int a = 0; a < 3; ++a) {
      for (int j = 0; j < kValues; ++j) w[a][j] -= re[a] * v[j];
    }
  }
  flush();
  for (int m = 0; m < MB; ++m) {
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < 3; ++b) virials[9 * (m0 + m) + 3 * a + b] += w[a][3 * m + b];
    }
  }
}

// All members of edges begin..end, eight at a time.
template <typename T>
void reduce_edge_range(const T* g, int64_t stride_m, int64_t stride_e, int64_t n_members, int64_t begin, int64_t end,
                       const int64_t* centre, const int64_t* neighbour, const double* r, double factor,
                       int64_t n_atoms, double* forces, double* virials) {
  constexpr int kBlock = 8;
  for (int64_t m0 = 0; m0 < n_members; m0 += kBlock) {
    const auto run = [&](auto count) {
      reduce_force_range<T, decltype(count)::value>(g, stride_m, stride_e, m0, begin, end, centre, neighbour, r,
                                                    factor, n_atoms, forces, virials);
    };
    with_count<kBlock>(std::min<int64_t>(kBlock, n_members - m0), run);
  }
}

// Edge-member gradients from which threads share the reduction: below, the
// per-thread force buffers cost more than the pass.
constexpr int64_t kParallelReduction = 1 << 15;
// Edges per atom and per thread at the least: the threads' force buffers (one
// [M, N, 3] each) stay under a quarter of the gradients' size on any thread count.
constexpr int64_t kEdgesPerAtomAndPart = 4;

// The reduction of all edges into forces (zeroed by the caller) and virials. On
// several threads each takes a contiguous share of the edges into its own force
// buffer (the neighbour's force is a scatter); the buffers are summed in order.
template <typename T>
void reduce_gradients(const T* g, int64_t stride_m, int64_t stride_e, int64_t n_members, int64_t n_edges,
                      const int64_t* centre, const int64_t* neighbour, const double* r, double factor,
                      int64_t n_atoms, double* forces, double* virials) {
  const int64_t threads = usable_threads();
  const int64_t by_memory = n_edges / (kEdgesPerAtomAndPart * std::max<int64_t>(n_atoms, 1));
  const int64_t parts =
      (threads > 1 && n_edges * n_members >= kParallelReduction) ? std::max<int64_t>(1, std::min(threads, by_memory)) : 1;
  const int64_t force_size = n_members * n_atoms * 3;
  std::vector<std::vector<double>> part_forces(parts - 1);
  std::vector<std::vector<double>> part_virials(parts, std::vector<double>(9 * n_members, 0.0));
  const auto run_part = [&](int64_t p) {
    double* out = forces;
    if (p > 0) {
      part_forces[p - 1].assign(force_size, 0.0);
      out = part_forces[p - 1].data();
    }
    reduce_edge_range(g, stride_m, stride_e, n_members, p * n_edges / parts, (p + 1) * n_edges / parts, centre,
                      neighbour, r, factor, n_atoms, out, part_virials[p].data());
  };
  if (parts == 1) {
    run_part(0);
  } else {
    at::parallel_for(0, parts, 1, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) run_part(p);
    });
    for (const auto& buffer : part_forces) {
      for (int64_t k = 0; k < force_size; ++k) forces[k] += buffer[k];
    }
    for (int64_t p = 1; p < parts; ++p) {
      for (int64_t k = 0; k < 9 * n_members; ++k) part_virials[0][k] += part_virials[p][k];
    }
  }
  std::copy(part_virials[0].begin(), part_virials[0].end(), virials);
}

}  // namespace

ModelEdgeVectors to_model_edge_vectors(const torch::Tensor& engine_vectors, double to_model_length,
                                       torch::ScalarType model_dtype, double min_distance) {
  TORCH_CHECK(engine_vectors.dim() == 2 && engine_vectors.size(1) == 3, "edge vectors must have shape [E, 3]");
  const auto v = engine_vectors.to(torch::kFloat64).contiguous();
  const int64_t n_edges = v.size(0);
  const double* p = v.data_ptr<double>();
  ModelEdgeVectors result;
  if (to_model_length == 1.0 && model_dtype == torch::kFloat64) {
    result = scale_and_check<double>(p, n_edges, 1.0, min_distance, nullptr);
    result.vectors = v;
    return result;
  }
  auto out = torch::empty({n_edges, 3}, v.options().dtype(model_dtype));
  if (model_dtype == torch::kFloat64) {
    result = scale_and_check(p, n_edges, to_model_length, min_distance, out.data_ptr<double>());
  } else {
    TORCH_CHECK(model_dtype == torch::kFloat32, "models run in float32 or float64");
    result = scale_and_check(p, n_edges, to_model_length, min_distance, out.data_ptr<float>());
  }
  result.vectors = out;
  return result;
}

void forces_and_virials_from_edge_gradients(const torch::Tensor& gradients, const torch::Tensor& edge_index,
                                            const torch::Tensor& r, double factor, int64_t n_atoms,
                                            torch::Tensor& forces, torch::Tensor& virials) {
  auto g = gradients.dim() == 2 ? gradients.unsqueeze(0) : gradients;
  TORCH_CHECK(g.dim() == 3 && g.size(2) == 3, "edge gradients must have shape [E, 3] or [M, E, 3]");
  if (g.stride(2) != 1) g = g.contiguous();
  const int64_t n_members = g.size(0), n_edges = g.size(1);
  const auto index = edge_index.to(torch::kInt64).contiguous();
  const auto rr = r.to(torch::kFloat64).contiguous();
  TORCH_CHECK(index.size(1) == n_edges && rr.size(0) == n_edges, "edge gradients, edge_index and r disagree");
  forces = torch::zeros({n_members, n_atoms, 3}, rr.options());
  const int64_t* centre = index.data_ptr<int64_t>();
  const int64_t* neighbour = centre + n_edges;
  virials = torch::empty({n_members, 3, 3}, rr.options());
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "forces_and_virials_from_edge_gradients", [&] {
    reduce_gradients<scalar_t>(g.data_ptr<scalar_t>(), g.stride(0), g.stride(1), n_members, n_edges, centre,
                               neighbour, rr.data_ptr<double>(), factor, n_atoms, forces.data_ptr<double>(),
                               virials.data_ptr<double>());
  });
}

}  // namespace nnpkit
