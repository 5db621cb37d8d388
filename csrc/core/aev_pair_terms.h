// The angular terms of all triplets of one centre at once, for the CPU driver.
// Per triplet, ANI's loops are short (ANI-2x: 8 shifts, 4 sections): exp and pow
// ran mostly in vector remainders, and each triplet's 32 terms were added to the
// AEV row one triplet at a time. Here the pairs of a centre's close neighbours
// (about 150 in liquid water) are sorted by species pair, their factors computed
// in loops over pairs, and each species-pair block of the AEV is a set of dot
// products over its pairs; the VJP contracts a block's seed with a vector of
// pairs at a time. The factors are aev_terms.h's.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/aev_terms.h"
#include "core/gaussian_ladder.h"
#include "core/thin_products.h"
#include "core/vector_lanes.h"

namespace nnpkit {

// A neighbour inside the angular cutoff.
template <typename T>
struct AngularNeighbor {
  int64_t edge;
  T distance, fc, dfc;  // angular cutoff function and its derivative
  int species;
};

template <typename T>
class AniPairTerms {
 public:
  static constexpr int64_t kLanes = 32 / sizeof(T);

  // The factors of every pair of close neighbours (vec: the edge vectors), the
  // pairs grouped by their species-pair block of the AEV.
  // `ladder` (usable or not) evaluates the radial factors of the mean distances.
  // pair_indices: keep each pair's neighbours and block (first, second, block),
  // which only the per-triplet Jacobian-vector product reads.
  void compute(const std::vector<AngularNeighbor<T>>& close, const T* vec, const AniAngularParams<T>& p,
               const GaussianLadder<T>& ladder, int n_species, bool derivatives, bool pair_indices = false) {
    sort_pairs(close, n_species, pair_indices);
    const int64_t n = n_pairs();
    // Per-factor rows of `stride` >= n pairs, padded so that a vector of lanes
    // starting at any pair stays inside the row.
    stride_ = (n + 2 * kLanes - 1) / kLanes * kLanes;
    const int64_t stride = stride_;
    // pair_geometry writes the first n entries: only the padding needs zeros (x_,
    // sin_theta_ and x_over_sin_ are computed over the whole stride below).
    for (auto* v : {&cosine_, &inv_ab_, &mean_, &cutoffs_}) {
      v->resize(stride);
      std::fill(v->begin() + n, v->end(), T(0));
    }
    for (auto* v : {&x_, &sin_theta_, &x_over_sin_}) v->resize(stride);
    pair_geometry(close, vec, derivatives);
    T* __restrict x = x_.data();
    T* __restrict sin_theta = sin_theta_.data();
    T* __restrict x_over_sin = x_over_sin_.data();
    const T* __restrict cosine = cosine_.data();
#pragma omp simd
    for (int64_t k = 0; k < stride; ++k) {
      x[k] = T(0.95) * cosine[k];
      sin_theta[k] = std::sqrt(T(1) - x[k] * x[k]);
      x_over_sin[k] = x[k] / sin_theta[k];
    }
    radial_.resize(p.n_shifts * stride);
    dradial_.resize(p.n_shifts * stride);
    const T* __restrict mean = mean_.data();
    if (ladder.usable()) {
      ladder.evaluate(mean, stride, stride, radial_.data(), ladder_scratch_);
      for (int s = 0; derivatives && s < p.n_shifts; ++s) {
        const T* __restrict value = radial_.data() + s * stride;
        T* __restrict derivative = dradial_.data() + s * stride;
        const T shift = p.shifts[s], minus_two_eta = T(-2) * p.eta;
#pragma omp simd
        for (int64_t k = 0; k < stride; ++k) derivative[k] = minus_two_eta * (mean[k] - shift) * value[k];
      }
    } else {
      for (int s = 0; s < p.n_shifts; ++s) {
        T* __restrict value = radial_.data() + s * stride;
        T* __restrict derivative = dradial_.data() + s * stride;
        const T shift = p.shifts[s], eta = p.eta;
#pragma omp simd
        for (int64_t k = 0; k < stride; ++k) ani_mean_distance_factor<T>(mean[k], shift, eta, value[k], derivative[k]);
      }
    }
    if (!derivatives) {  // the forward's dot products read R_k fc_a fc_b
      scaled_radial_.resize(p.n_shifts * stride);
      const T* __restrict cutoffs = cutoffs_.data();
      for (int s = 0; s < p.n_shifts; ++s) {
        const T* __restrict value = radial_.data() + s * stride;
        T* __restrict scaled = scaled_radial_.data() + s * stride;
#pragma omp simd
        for (int64_t k = 0; k < stride; ++k) scaled[k] = value[k] * cutoffs[k];
      }
    }
    angle_.resize(p.n_sections * stride);
    dangle_.resize(p.n_sections * stride);
    for (int l = 0; l < p.n_sections; ++l) {
      const T cz = p.cos_sections[l], sz = p.sin_sections[l], zeta = p.zeta;
      T* __restrict value = angle_.data() + l * stride;
      T* __restrict derivative = dangle_.data() + l * stride;
      if (p.zeta_minus_one_int >= 0) {
        // ani_integer_power's squarings, one step for all pairs at a time.
        power_.assign(stride, T(1));
        base_.resize(stride);
        T* __restrict pw = power_.data();
        T* __restrict bs = base_.data();
        for (int64_t k = 0; k < stride; ++k) bs[k] = ani_half_cosine<T>(x[k], sin_theta[k], cz, sz);
        for (int e = p.zeta_minus_one_int; e > 0; e >>= 1) {
          if (e & 1) {
#pragma omp simd
            for (int64_t k = 0; k < stride; ++k) pw[k] *= bs[k];
          }
#pragma omp simd
          for (int64_t k = 0; k < stride; ++k) bs[k] *= bs[k];
        }
#pragma omp simd
        for (int64_t k = 0; k < stride; ++k) {
          const T half = ani_half_cosine<T>(x[k], sin_theta[k], cz, sz);
          ani_section_factor<T>(pw[k], half, x_over_sin[k], cz, sz, zeta, derivatives, value[k], derivative[k]);
        }
      } else {
#pragma omp simd
        for (int64_t k = 0; k < stride; ++k) {
          const T half = ani_half_cosine<T>(x[k], sin_theta[k], cz, sz);
          const T power = ani_pow<T>(half, zeta - T(1));
          ani_section_factor<T>(power, half, x_over_sin[k], cz, sz, zeta, derivatives, value[k], derivative[k]);
        }
      }
    }
  }

  int64_t n_pairs() const { return starts_.empty() ? 0 : starts_.back(); }

  // Adds every pair's terms to its block of `angular_row` (the AEV row after the
  // radial part): term (k, l) of a block is the dot product over its pairs of
  // R_k fc_a fc_b and A_l.
  void add_terms(const AniAngularParams<T>& p, T* angular_row) const {
    const int64_t block = static_cast<int64_t>(p.n_shifts) * p.n_sections;
    for (const Segment& seg : segments_) {
      T* out = angular_row + seg.block * block;
      const int64_t len = seg.end - seg.begin;
      for (int l = 0; l < p.n_sections; ++l) {
        const T* angle = angle_.data() + l * stride_ + seg.begin;
        int s = 0;
        for (; s + 8 <= p.n_shifts; s += 8) {
          const T* scaled[8];
          for (int q = 0; q < 8; ++q) scaled[q] = scaled_radial_.data() + (s + q) * stride_ + seg.begin;
          T sums[8];
          dot8<T>(angle, scaled, len, sums);
          for (int q = 0; q < 8; ++q) out[(s + q) * p.n_sections + l] += sums[q];
        }
        for (; s < p.n_shifts; ++s) {
          const T* __restrict scaled = scaled_radial_.data() + s * stride_ + seg.begin;
          T sum = T(0);
#pragma omp simd reduction(+ : sum)
          for (int64_t k = 0; k < len; ++k) sum += scaled[k] * angle[k];
          out[s * p.n_sections + l] += sum;
        }
      }
    }
  }

  // Vector-Jacobian products of n_seeds seeds: adds sum_kl seed[kl] d term_kl /
  // d(edge vectors) of every pair to grad_edges + m * edges_stride ([E, 3]);
  // seed m's row after the radial part is angular_seed + m * seed_stride. The
  // geometry's derivatives are shared by all seeds.
  // (compute's close neighbours, with derivatives).
  void add_vector_jacobian(const AniAngularParams<T>& p, const std::vector<AngularNeighbor<T>>& close,
                           const T* angular_seed, int64_t seed_stride, int64_t n_seeds, T* grad_edges,
                           int64_t edges_stride) {
    const int64_t stride = stride_;
    const int64_t block = static_cast<int64_t>(p.n_shifts) * p.n_sections;
    const int n_shifts = p.n_shifts, n_sections = p.n_sections;
    // Per seed and pair: sum_kl g R_k A_l, sum g R'_k A_l, sum g R_k A'_l.
    sums_.resize(3 * stride * n_seeds);
    T* const sums = sums_.data();
    const T* radial = radial_.data();
    const T* dradial = dradial_.data();
    const T* angle = angle_.data();
    const T* dangle = dangle_.data();
    // kLanes pairs at a time, their angle factors in registers and the block's
    // seed entries broadcast. A group may run past its block's end into the next
    // block or the padding: those lanes are written first and overwritten when
    // their own block comes (blocks are taken in order). The section count is a
    // compile-time constant for ANI-2x's 4 and ANI-1x's 8: with a run-time count
    // the angle factors went to the stack and their addresses were reloaded at
    // every multiply-add (a third of the float32 VJP's contraction).
    const auto contract = [&](auto sections_tag) {
      constexpr int kSections = decltype(sections_tag)::value;  // 0: n_sections at run time
      constexpr int kCapacity = kSections > 0 ? kSections : kAniMaxSections;
      const int sections = kSections > 0 ? kSections : n_sections;
      for (const Segment& seg : segments_) {
        for (int64_t k = seg.begin; k < seg.end; k += kLanes) {
          Lanes<T> a_l[kCapacity], da_l[kCapacity];
          for (int l = 0; l < sections; ++l) {
            a_l[l] = load_lanes(angle + l * stride + k);
            da_l[l] = load_lanes(dangle + l * stride + k);
          }
          for (int64_t m = 0; m < n_seeds; ++m) {
            const T* g = angular_seed + m * seed_stride + seg.block * block;
            Lanes<T> s_ra = {}, s_dra = {}, s_rda = {};
            for (int sh = 0; sh < n_shifts; ++sh) {
              Lanes<T> ga = {}, gda = {};
              for (int l = 0; l < sections; ++l) {
                const T gl = g[sh * sections + l];
                ga += gl * a_l[l];
                gda += gl * da_l[l];
              }
              const Lanes<T> r = load_lanes(radial + sh * stride + k);
              s_ra += r * ga;
              s_dra += load_lanes(dradial + sh * stride + k) * ga;
              s_rda += r * gda;
            }
            T* out = sums + 3 * stride * m + k;
            store_lanes(out, s_ra);
            store_lanes(out + stride, s_dra);
            store_lanes(out + 2 * stride, s_rda);
          }
        }
      }
    };
    if (n_sections == 4) {
      contract(std::integral_constant<int, 4>{});
    } else if (n_sections == 8) {
      contract(std::integral_constant<int, 8>{});
    } else {
      contract(std::integral_constant<int, 0>{});
    }
    // The geometry's part, in the sorted neighbours' order: for a neighbour x its
    // pairs run over consecutive partners y (partner_runs), so x's gradient is a sum
    // over a vector of y and the y's gradients are added to contiguous arrays, which
    // are added to the edges' gradients once per neighbour. With the cosine c =
    // a.b / (r_a r_b): dc/da = b / (r_a r_b) - c a / r_a^2, and the mirror image for b.
    const int n_close = static_cast<int>(close.size());
    for (auto* v : {&grad_x_, &grad_y_, &grad_z_}) v->resize(n_close);
    const T* __restrict bx = sorted_x_.data();
    const T* __restrict by = sorted_y_.data();
    const T* __restrict bz = sorted_z_.data();
    const T* __restrict bfc = sorted_fc_.data();
    const T* __restrict bdfc = sorted_dfc_.data();
    const T* __restrict binv = sorted_inv_r_.data();
    const T* __restrict cosine = cosine_.data();
    const T* __restrict inv_ab = inv_ab_.data();
    const T* __restrict cutoffs = cutoffs_.data();
    for (int64_t m = 0; m < n_seeds; ++m) {
      T* __restrict gx = grad_x_.data();
      T* __restrict gy = grad_y_.data();
      T* __restrict gz = grad_z_.data();
      std::fill(gx, gx + n_close, T(0));
      std::fill(gy, gy + n_close, T(0));
      std::fill(gz, gz + n_close, T(0));
      const T* __restrict s_ra = sums + 3 * stride * m;
      const T* __restrict s_dra = s_ra + stride;
      const T* __restrict s_rda = s_ra + 2 * stride;
      partner_runs([&](int, int64_t x, int64_t y0, int64_t y1, int64_t k) {
        const T ax = bx[x], ay = by[x], az = bz[x], fa = bfc[x], dfa = bdfc[x], ia = binv[x];
        T own = T(0), cx = T(0), cy = T(0), cz = T(0);
#pragma omp simd reduction(+ : own, cx, cy, cz)
        for (int64_t y = y0; y < y1; ++y) {
          const int64_t q = k + (y - y0);
          const T f = cutoffs[q], c = cosine[q];
          const T radial_part = T(0.5) * s_dra[q] * f;
          const T d_ra = radial_part + s_ra[q] * dfa * bfc[y];  // d/dr_a at fixed cosine
          const T d_rb = radial_part + s_ra[q] * fa * bdfc[y];
          const T d_cos = s_rda[q] * f;
          const T cross = d_cos * inv_ab[q];
          const T ib = binv[y];
          own += (d_ra - d_cos * c * ia) * ia;
          cx += cross * bx[y];
          cy += cross * by[y];
          cz += cross * bz[y];
          const T own_b = (d_rb - d_cos * c * ib) * ib;
          gx[y] += own_b * bx[y] + cross * ax;
          gy[y] += own_b * by[y] + cross * ay;
          gz[y] += own_b * bz[y] + cross * az;
        }
        gx[x] += own * ax + cx;
        gy[x] += own * ay + cy;
        gz[x] += own * az + cz;
      });
      T* out = grad_edges + m * edges_stride;
      for (int i = 0; i < n_close; ++i) {
        T* g = out + 3 * close[by_species_[i]].edge;
        g[0] += gx[i];
        g[1] += gy[i];
        g[2] += gz[i];
      }
    }
  }

  // Pair k: its neighbours (indices into close) and species-pair block.
  int first(int64_t k) const { return first_[k]; }
  int second(int64_t k) const { return second_[k]; }
  int block(int64_t k) const { return block_[k]; }

  // The triplet of pair k, for the per-triplet Jacobian-vector product.
  void triplet(int64_t k, const std::vector<AngularNeighbor<T>>& close, const T* vec, const AniAngularParams<T>& p,
               AniTriplet<T>& t) const {
    const AngularNeighbor<T>& na = close[first_[k]];
    const AngularNeighbor<T>& nb = close[second_[k]];
    t.fc_a = na.fc;
    t.dfc_a = na.dfc;
    t.fc_b = nb.fc;
    t.dfc_b = nb.dfc;
    for (int s = 0; s < p.n_shifts; ++s) {
      t.radial[s] = radial_[s * stride_ + k];
      t.dradial[s] = dradial_[s * stride_ + k];
    }
    for (int l = 0; l < p.n_sections; ++l) {
      t.angle[l] = angle_[l * stride_ + k];
      t.dangle[l] = dangle_[l * stride_ + k];
    }
    ani_cosine_derivatives<T>(vec + 3 * na.edge, na.distance, vec + 3 * nb.edge, nb.distance, cosine_[k], inv_ab_[k],
                              t.dcos_da, t.dcos_db);
  }

 private:
  struct Segment {
    int64_t block, begin, end;  // pairs [begin, end) belong to species-pair block `block`
  };

  // Per pair: 1/(r_a r_b), the cosine, the mean distance, the cutoff product. The
  // pairs are made in block order (sort_pairs): for a neighbour x of a block's
  // first species, its partners y are consecutive neighbours of the second species,
  // so the close neighbours are copied to coordinate arrays in that order and each
  // x's pairs are one vector loop over its y (one scalar pass over pairs, gathering
  // both neighbours' edge vectors, was a sixth of the forward's time).
  // With derivatives also the neighbours' dfc and 1/r, which the VJP reads.
  void pair_geometry(const std::vector<AngularNeighbor<T>>& close, const T* vec, bool derivatives) {
    const int n_close = static_cast<int>(close.size());
    for (auto* v : {&sorted_x_, &sorted_y_, &sorted_z_, &sorted_r_, &sorted_fc_}) v->resize(n_close);
    for (int i = 0; i < n_close; ++i) {
      const AngularNeighbor<T>& c = close[by_species_[i]];
      const T* a = vec + 3 * c.edge;
      sorted_x_[i] = a[0];
      sorted_y_[i] = a[1];
      sorted_z_[i] = a[2];
      sorted_r_[i] = c.distance;
      sorted_fc_[i] = c.fc;
    }
    if (derivatives) {
      sorted_dfc_.resize(n_close);
      sorted_inv_r_.resize(n_close);
      for (int i = 0; i < n_close; ++i) {
        const AngularNeighbor<T>& c = close[by_species_[i]];
        sorted_dfc_[i] = c.dfc;
        sorted_inv_r_[i] = T(1) / c.distance;
      }
    }
    const T* __restrict bx = sorted_x_.data();
    const T* __restrict by = sorted_y_.data();
    const T* __restrict bz = sorted_z_.data();
    const T* __restrict br = sorted_r_.data();
    const T* __restrict bfc = sorted_fc_.data();
    T* __restrict inv_ab = inv_ab_.data();
    T* __restrict cosine = cosine_.data();
    T* __restrict mean = mean_.data();
    T* __restrict cutoffs = cutoffs_.data();
    partner_runs([&](int, int64_t x, int64_t y0, int64_t y1, int64_t k) {
      const T ax = bx[x], ay = by[x], az = bz[x], ra = br[x], fa = bfc[x];
#pragma omp simd
      for (int64_t y = y0; y < y1; ++y) {
        const int64_t q = k + (y - y0);
        const T inv = T(1) / (ra * br[y]);
        inv_ab[q] = inv;
        cosine[q] = (ax * bx[y] + ay * by[y] + az * bz[y]) * inv;
        mean[q] = T(0.5) * (ra + br[y]);
        cutoffs[q] = fa * bfc[y];
      }
    });
  }

  // f(block, x, y0, y1, k) for each neighbour x (sorted by species) of each
  // species-pair block, in block order: its partners are the sorted neighbours
  // [y0, y1) of the block's second species (those after x for a same-species
  // block), its pairs [k, k + y1 - y0) (starts_ and species_start_ from sort_pairs).
  template <typename F>
  void partner_runs(const F& f) const {
    const int n_species = static_cast<int>(species_start_.size()) - 1;
    for (int sa = 0; sa < n_species; ++sa) {
      for (int sb = sa; sb < n_species; ++sb) {
        const int b = ani_species_pair_index(sa, sb, n_species);
        int64_t k = starts_[b];
        for (int64_t x = species_start_[sa]; x < species_start_[sa + 1]; ++x) {
          const int64_t y0 = sa == sb ? x + 1 : species_start_[sb], y1 = species_start_[sb + 1];
          if (y1 <= y0) continue;
          f(b, x, y0, y1, k);
          k += y1 - y0;
        }
      }
    }
  }

  // Pairs grouped by their species-pair block, made in block order: the close
  // neighbours are sorted by species (counting sort, stable), then each block's
  // pairs run over its two species' neighbours (a, b with a before b for one
  // species). Counting every pair's block, then placing it, read each pair twice.
  void sort_pairs(const std::vector<AngularNeighbor<T>>& close, int n_species, bool pair_indices) {
    const int n_close = static_cast<int>(close.size());
    const int n_blocks = n_species * (n_species + 1) / 2;
    species_start_.assign(n_species + 1, 0);
    for (int i = 0; i < n_close; ++i) ++species_start_[close[i].species + 1];
    for (int s = 0; s < n_species; ++s) species_start_[s + 1] += species_start_[s];
    by_species_.resize(n_close);
    fill_.assign(species_start_.begin(), species_start_.end() - 1);
    for (int i = 0; i < n_close; ++i) by_species_[fill_[close[i].species]++] = i;
    starts_.assign(n_blocks + 1, 0);
    for (int sa = 0; sa < n_species; ++sa) {
      const int64_t na = species_start_[sa + 1] - species_start_[sa];
      for (int sb = sa; sb < n_species; ++sb) {
        const int64_t nb = species_start_[sb + 1] - species_start_[sb];
        starts_[ani_species_pair_index(sa, sb, n_species) + 1] = sa == sb ? na * (na - 1) / 2 : na * nb;
      }
    }
    for (int b = 0; b < n_blocks; ++b) starts_[b + 1] += starts_[b];
    const int64_t n = starts_[n_blocks];
    segments_.clear();
    if (pair_indices) {
      first_.resize(n);
      second_.resize(n);
      block_.resize(n);
      partner_runs([&](int b, int64_t x, int64_t y0, int64_t y1, int64_t k) {
        for (int64_t y = y0; y < y1; ++y, ++k) {
          first_[k] = by_species_[x];
          second_[k] = by_species_[y];
          block_[k] = b;
        }
      });
    }
    for (int b = 0; b < n_blocks; ++b) {
      if (starts_[b + 1] > starts_[b]) segments_.push_back(Segment{b, starts_[b], starts_[b + 1]});
    }
  }

  int64_t stride_ = 0;
  std::vector<int64_t> starts_, fill_, species_start_;
  std::vector<int> by_species_;  // indices into close, grouped by species
  // The close neighbours in that order.
  std::vector<T> sorted_x_, sorted_y_, sorted_z_, sorted_r_, sorted_fc_, sorted_dfc_, sorted_inv_r_;
  std::vector<T> grad_x_, grad_y_, grad_z_;  // VJP: one seed's gradients of the sorted neighbours
  std::vector<int> first_, second_, block_;  // per pair (pair_indices): indices into close, block
  std::vector<Segment> segments_;
  std::vector<T> cosine_, inv_ab_, mean_, cutoffs_, x_, sin_theta_, x_over_sin_;  // per pair (padded)
  std::vector<T> radial_, dradial_, scaled_radial_;  // [shift][pair]; scaled (forward): R_k fc_a fc_b
  std::vector<T> angle_, dangle_;                    // [section][pair]
  std::vector<T> power_, base_;                      // integer Zeta's squarings
  std::vector<T> sums_;                              // VJP: per seed and pair
  std::vector<T> ladder_scratch_;
};

}  // namespace nnpkit
