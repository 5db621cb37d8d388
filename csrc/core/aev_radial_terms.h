// The radial terms of all neighbours of one centre at once, for the CPU driver
// (the angular ones are aev_pair_terms.h's). Per neighbour, libm's sincos for the
// cutoff and 16 exponentials in a short loop were a tenth of a water box's AEV;
// here the neighbours are grouped by species, their cutoffs (radial and angular)
// computed in loops over neighbours, their Gaussians by a ladder (float64) or
// exponentials over neighbours, and each species block of the AEV is a set of sums
// over its neighbours. The terms are aev_terms.h's.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <c10/util/Exception.h>

#include "core/aev_pair_terms.h"
#include "core/aev_terms.h"
#include "core/gaussian_ladder.h"
#include "core/vector_math.h"

namespace nnpkit {

template <typename T>
class AniRadialTerms {
 public:
  // Collects centre i's neighbours inside the radial cutoff (edges [begin, end) of
  // the centre-sorted edge list; vec the edge vectors), grouped by species, and
  // appends those inside the angular cutoff, with their cutoff function, to
  // `close` (cleared first), in edge order.
  void compute(int64_t i, int64_t begin, int64_t end, const T* vec, const int64_t* neighbor, const int64_t* species,
               const AniRadialParams<T>& rp, const AniAngularParams<T>& ap, const GaussianLadder<T>& ladder,
               int n_species, bool derivatives, std::vector<AngularNeighbor<T>>& close) {
    const int64_t n_edges = end - begin;
    distance_.resize(n_edges);
    edge_species_.resize(n_edges);
    // Member vectors' data through local pointers here and below: through the
    // members every store could alias them, and the loops reloaded them per edge.
    T* __restrict distance = distance_.data();
    int* __restrict edge_species = edge_species_.data();
    for (int64_t e = begin; e < end; ++e) {
      const T* a = vec + 3 * e;
      distance[e - begin] = std::sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
    }
    for (int64_t e = begin; e < end; ++e) {
      TORCH_CHECK(distance[e - begin] > T(0), "ani_aev: edge ", e, " has zero length (atoms ", i, " and ",
                  neighbor[e], " coincide)");
      edge_species[e - begin] = static_cast<int>(species[neighbor[e]]);
    }
    // Angular neighbours in edge order (aev_pair_terms.h sorts their pairs),
    // gathered without a branch per edge: about a third of the edges are inside
    // the angular cutoff, in no order a branch predictor could follow.
    const T angular_cutoff = std::min(ap.cutoff, rp.cutoff);
    close.resize(n_edges);
    angular_rows_.resize(n_edges);
    int64_t n_close = 0;
    {
      AngularNeighbor<T>* __restrict close_out = close.data();
      T* __restrict rows_out = angular_rows_.data();
      for (int64_t k = 0; k < n_edges; ++k) {
        close_out[n_close] = AngularNeighbor<T>{begin + k, distance[k], T(0), T(0), edge_species[k]};
        rows_out[n_close] = distance[k];
        n_close += distance[k] < angular_cutoff ? 1 : 0;
      }
    }
    close.resize(n_close);
    angular_rows_.resize(n_close);
    cutoffs(ap.cutoff, angular_rows_.data(), n_close, angular_fc_, angular_dfc_);
    for (size_t k = 0; k < close.size(); ++k) {
      close[k].fc = angular_fc_[k];
      close[k].dfc = angular_dfc_[k];
    }
    // Radial neighbours by a counting sort on species (stable).
    starts_.assign(n_species + 1, 0);
    const T radial_cutoff = rp.cutoff;
    {
      int64_t* __restrict starts = starts_.data();
      for (int64_t k = 0; k < n_edges; ++k) {
        if (distance[k] < radial_cutoff) ++starts[edge_species[k] + 1];
      }
    }
    for (int s = 0; s < n_species; ++s) starts_[s + 1] += starts_[s];
    const int64_t n = starts_[n_species];
    stride_ = (n + kLanes - 1) / kLanes * kLanes;
    edge_.resize(n);
    r_.assign(stride_, T(0));
    fill_.assign(starts_.begin(), starts_.end() - 1);
    {
      // (Through the members this loop reloaded five pointers and the cutoff per
      // edge: a fifth of this function.)
      int64_t* __restrict fill = fill_.data();
      int64_t* __restrict edge = edge_.data();
      T* __restrict r = r_.data();
      for (int64_t k = 0; k < n_edges; ++k) {
        if (distance[k] < radial_cutoff) {
          const int64_t slot = fill[edge_species[k]]++;
          edge[slot] = begin + k;
          r[slot] = distance[k];
        }
      }
    }
    cutoffs(rp.cutoff, r_.data(), stride_, fc_, dfc_);
    // G_k = 0.25 exp(-eta (r - s_k)^2) fc, dG_k/dr = 0.25 exp(...) (dfc - 2 eta (r - s_k) fc).
    const int n_shifts = rp.n_shifts;
    value_.resize(n_shifts * stride_);
    if (derivatives) derivative_.resize(n_shifts * stride_);
    const T* __restrict r = r_.data();
    T* __restrict values = value_.data();
    if (ladder.usable()) {
      ladder.evaluate(r, stride_, stride_, values, ladder_scratch_);
    } else {
      for (int k = 0; k < n_shifts; ++k) {
        T* __restrict g = values + k * stride_;
        const T shift = rp.shifts[k], eta = rp.eta;
#pragma omp simd
        for (int64_t e = 0; e < stride_; ++e) g[e] = ani_exp<T>(-eta * (r[e] - shift) * (r[e] - shift));
      }
    }
    // The forward reads the terms, the derivative passes only their derivatives.
    const T* __restrict fc = fc_.data();
    const T* __restrict dfc = dfc_.data();
    for (int k = 0; k < n_shifts; ++k) {
      T* __restrict g = values + k * stride_;
      const T shift = rp.shifts[k], two_eta = T(2) * rp.eta;
      if (derivatives) {
        T* __restrict dg = derivative_.data() + k * stride_;
#pragma omp simd
        for (int64_t e = 0; e < stride_; ++e) dg[e] = T(0.25) * g[e] * (dfc[e] - two_eta * (r[e] - shift) * fc[e]);
      } else {
#pragma omp simd
        for (int64_t e = 0; e < stride_; ++e) g[e] = T(0.25) * g[e] * fc[e];
      }
    }
  }

  // Adds the radial terms to the AEV row: column s * n_shifts + k holds the sum
  // over species-s neighbours of G_k.
  void add_terms(int n_species, int n_shifts, T* row) const {
    add_sums(value_.data(), nullptr, n_species, n_shifts, row);
  }

  // Vector-Jacobian products of n_seeds seeds (seed m's row at seed + m *
  // seed_stride): adds sum_k g_k dG_k/dr * a/r to grad_edges + m * edges_stride.
  void add_vector_jacobian(int n_species, int n_shifts, const T* vec, const T* seed, int64_t seed_stride,
                           int64_t n_seeds, T* grad_edges, int64_t edges_stride) {
    de_dr_.resize(stride_);
    T* __restrict de_dr = de_dr_.data();
    for (int64_t m = 0; m < n_seeds; ++m) {
      const T* g = seed + m * seed_stride;
      for (int s = 0; s < n_species; ++s) {
        const int64_t b = starts_[s], e_end = starts_[s + 1];
        for (int64_t e = b; e < e_end; ++e) de_dr[e] = T(0);
        for (int k = 0; k < n_shifts; ++k) {
          const T gk = g[s * n_shifts + k];
          const T* __restrict dg = derivative_.data() + k * stride_;
#pragma omp simd
          for (int64_t e = b; e < e_end; ++e) de_dr[e] += gk * dg[e];
        }
      }
      T* out = grad_edges + m * edges_stride;
      const int64_t n = starts_[n_species];
      for (int64_t e = 0; e < n; ++e) {
        const T* a = vec + 3 * edge_[e];
        const T scale = de_dr[e] / r_[e];
        for (int c = 0; c < 3; ++c) out[3 * edge_[e] + c] += scale * a[c];
      }
    }
  }

  // Jacobian-vector product along the tangents t ([E, 3]): adds dG_k/dr * (a . t)/r.
  void add_jacobian_vector(int n_species, int n_shifts, const T* vec, const T* tangent, T* row) {
    de_dr_.resize(stride_);
    T* __restrict dr = de_dr_.data();
    const int64_t n = starts_[n_species];
    for (int64_t e = 0; e < n; ++e) {
      const T* a = vec + 3 * edge_[e];
      const T* t = tangent + 3 * edge_[e];
      dr[e] = (a[0] * t[0] + a[1] * t[1] + a[2] * t[2]) / r_[e];
    }
    add_sums(derivative_.data(), dr, n_species, n_shifts, row);
  }

 private:
  static constexpr int64_t kLanes = 64 / sizeof(T);

  // row[s * n_shifts + k] += sum over species-s neighbours e of terms[k][e] (times weight[e]).
  void add_sums(const T* terms, const T* weight, int n_species, int n_shifts, T* row) const {
    for (int s = 0; s < n_species; ++s) {
      const int64_t b = starts_[s], e_end = starts_[s + 1];
      if (b == e_end) continue;
      for (int k = 0; k < n_shifts; ++k) {
        const T* __restrict t = terms + k * stride_;
        T sum = T(0);
        if (weight == nullptr) {
#pragma omp simd reduction(+ : sum)
          for (int64_t e = b; e < e_end; ++e) sum += t[e];
        } else {
#pragma omp simd reduction(+ : sum)
          for (int64_t e = b; e < e_end; ++e) sum += t[e] * weight[e];
        }
        row[s * n_shifts + k] += sum;
      }
    }
  }

  // fc(r) = 0.5 cos(pi r / rc) + 0.5 and its derivative for r[0, count), r < rc.
  static void cutoffs(T rc, const T* __restrict r, int64_t count, std::vector<T>& f_out, std::vector<T>& df_out) {
    f_out.resize(count);
    df_out.resize(count);
    T* __restrict f = f_out.data();
    T* __restrict df = df_out.data();
    const T k = T(3.14159265358979323846) / rc;
#pragma omp simd
    for (int64_t e = 0; e < count; ++e) {
      T c, s;
      vcos_sin_half_turn<T>(r[e] * k, c, s);
      f[e] = T(0.5) * c + T(0.5);
      df[e] = -T(0.5) * k * s;
    }
  }

  int64_t stride_ = 0;
  std::vector<T> distance_;          // per edge of the centre, in edge order
  std::vector<int> edge_species_;
  std::vector<T> angular_rows_, angular_fc_, angular_dfc_;  // angular neighbours' distances and cutoffs
  std::vector<int64_t> starts_, fill_;  // radial neighbours of species s: [starts_[s], starts_[s + 1])
  std::vector<int64_t> edge_;           // per radial neighbour (species order): its edge
  std::vector<T> r_, fc_, dfc_;         // and distance and cutoff (padded to stride_)
  std::vector<T> value_, derivative_;   // [shift][neighbour]: G_k (forward; bare Gaussians with derivatives), dG_k/dr
  std::vector<T> de_dr_, ladder_scratch_;
};

}  // namespace nnpkit
